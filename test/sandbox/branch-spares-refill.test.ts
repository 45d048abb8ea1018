// branch_spares.refill against a snapshot dropped meanwhile (the race of op_branch's refill with
// op_drop_snapshot): the agent's own module, run by the host's python3. The drop removes the
// holder before it ends the snapshot's spares, so refill's check under its lock is enough.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const AGENT = fileURLToPath(new URL('../../agent', import.meta.url));

function python(code: string): string {
  return execFileSync('python3', ['-c', code], { cwd: AGENT, encoding: 'utf8', timeout: 30_000 }).trim();
}

describe('branch_spares.refill', () => {
  it('makes no spare for a snapshot no longer held, and one for a snapshot still held', () => {
    const out = python(
      [
        'import threading',
        'from faas_agent.branch_spares import BranchSpares',
        's = BranchSpares(); made = []; done = threading.Event()',
        'def make():',
        '    made.append(1); done.set(); return (None, True)',
        'key = ("snap", "javascript", 256)',
        's.refill(key, make, lambda: False)',
        'print(len(made), len(s.spares))',
        's.refill(key, make, lambda: True)',
        'done.wait(10)',
        'print(len(made), len(s.spares))',
      ].join('\n'),
    );
    expect(out.split('\n')).toEqual(['0 0', '1 1']);
  });
});
