// The usage store on an in-memory database: instance rows an older operator wrote as mode
// `persistent` read as `instance` once the store opens it; executions keep their mode.
import { describe, expect, it } from 'vitest';
import { openDatabase } from './database.js';
import { UsageStore } from './usage.js';

const row = (executionId: string, mode: string) => ({ executionId, keyId: 'k', language: 'python', mode, startedAt: 1, finishedAt: 2, exitCode: null, cpuSeconds: 0, memoryGbSeconds: 0, cost: 0 });

describe('UsageStore', () => {
  it('rewrites old instance rows (persistent, persistent+network) to instance, instance+network; a persistent-mode execution stays', () => {
    const db = openDatabase(':memory:');
    const old = new UsageStore(db);
    old.record(row('inst-0123456789abcdef', 'persistent'));
    old.record(row('inst-fedcba9876543210', 'persistent+network'));
    old.record(row('6f1c3a52-1111-4222-8333-444455556666', 'persistent')); // a stateful execution
    new UsageStore(db); // an upgraded operator opens the same database
    const modes = db.prepare('SELECT execution_id AS id, mode FROM usage ORDER BY execution_id').all() as Array<{ id: string; mode: string }>;
    expect(modes).toEqual([
      { id: '6f1c3a52-1111-4222-8333-444455556666', mode: 'persistent' },
      { id: 'inst-0123456789abcdef', mode: 'instance' },
      { id: 'inst-fedcba9876543210', mode: 'instance+network' },
    ]);
    expect(new UsageStore(db).totals('k').executions).toBe(3);
    db.close();
  });
});
