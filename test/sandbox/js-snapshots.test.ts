// JavaScript and TypeScript contexts keep their heap in snapshots (node_holder.py, ctx-hold.cjs):
// restore and branch see the same globals, loaded modules and closures; branches share no
// mutable memory with each other or their origin. Real engine, real family containers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Language } from '../../src/sandbox/types.js';
import { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine } from '../helpers.js';

let engine: DockerSandboxEngine;
const A = 'owner-a';

beforeAll(async () => {
  engine = makeEngine({ FAAS_KEY_MAX_FAMILY_CONTAINERS: '64', FAAS_KEY_MAX_CONTEXTS: '256' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
});

async function run(executionId: string, code: string, language: Language = 'javascript'): Promise<string> {
  const r = await engine.execute({ language, executionId, code }, { owner: A });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout.trim();
}

// A module of the work directory with state of its own, a closure over a counter, and a global.
const SETUP = [
  'const fs = require("fs");',
  'fs.writeFileSync("counter.js", "let n = 0; module.exports = { bump: () => ++n };");',
  'globalThis.mod = require("./counter.js"); mod.bump(); mod.bump();',
  'globalThis.next = (() => { let c = 100; return () => ++c; })(); next();',
  'globalThis.data = Array.from({ length: 1000 }, (_, i) => i);',
  'console.log("ready");',
].join('\n');
const PROBE = 'console.log(mod.bump(), next(), data.length, require("./counter.js") === mod)';

async function jsContext(): Promise<string> {
  const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: SETUP }, { owner: A });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('ready\n');
  return r.executionId;
}

describe('javascript snapshots keep the heap', () => {
  it('globals, a required module\'s state and closures survive snapshot → restore; the context goes on independently', async () => {
    const id = await jsContext();
    const snap = await engine.createSnapshot(A, id);
    expect(snap).toMatchObject({ executionId: id, hasMemory: true, language: 'javascript' });
    // the origin changes its memory after the snapshot
    expect(await run(id, 'data.length = 1; ' + PROBE)).toBe('3 102 1 true');
    const restored = await engine.restoreSnapshot(A, snap.id);
    expect(restored).toMatchObject({ snapshotId: snap.id, hasMemory: true });
    expect(await run(restored.executionId, PROBE)).toBe('3 102 1000 true');
    // and again: the restored context has its own memory, the origin its own
    expect(await run(restored.executionId, PROBE)).toBe('4 103 1000 true');
    expect(await run(id, PROBE)).toBe('4 103 1 true');
  });
});
