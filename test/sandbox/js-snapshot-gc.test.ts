// When a javascript context's node collects its heap for a snapshot (agent/ctx-heap.cjs): a full
// collection only when the heap grew a lot since the last one (then also ahead of time, while the
// context idles, unless the node is a copy), a young-generation one after smaller programs, none
// when nothing changed. Seen
// from the context itself: a GC observer its own program installed counts full collections, and
// `used_heap_size` says whether garbage was left. Real engine, real family containers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine } from '../helpers.js';

let engine: DockerSandboxEngine;
const A = 'owner-gc';

beforeAll(async () => {
  engine = makeEngine({ FAAS_KEY_MAX_FAMILY_CONTAINERS: '16', FAAS_KEY_MAX_CONTEXTS: '64' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
});

async function run(executionId: string, code: string): Promise<string> {
  const r = await engine.execute({ language: 'javascript', executionId, code, resources: { memoryMb: 512 } }, { owner: A });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout.trim();
}

// Counts full collections from now on, in this context's node (and in its copies).
const OBSERVE = [
  'const { PerformanceObserver, constants } = require("perf_hooks");',
  'globalThis.majors = 0;',
  'new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++; }).observe({ entryTypes: ["gc"] });',
  'globalThis.keep = Array.from({ length: 10000 }, (_, i) => ({ i }));',
  'console.log("ready");',
].join('\n');
// ~50 MB that lives long enough to reach the old generation, then is garbage.
const GARBAGE = 'globalThis.tmp = Array.from({ length: 600000 }, (_, i) => ({ i, s: "x" + i })); globalThis.tmp = null; console.log("dropped")';
// After a loop turn (GC entries are delivered late): full collections so far, and MiB in use.
const REPORT = '(async () => { await new Promise((r) => setTimeout(r, 50)); console.log(majors, Math.round(require("v8").getHeapStatistics().used_heap_size / 1048576)); })()';

async function context(): Promise<string> {
  const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: OBSERVE, resources: { memoryMb: 512 } }, { owner: A });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('ready\n');
  return r.executionId;
}

const report = async (id: string) => (await run(id, REPORT)).split(' ').map(Number) as [number, number];

describe('a javascript snapshot collects the heap only as much as it must', () => {
  it('no full collection for a snapshot of a context that did not grow: none twice in a row, none after a small program', async () => {
    const id = await context();
    const a = await engine.createSnapshot(A, id);
    const b = await engine.createSnapshot(A, id);
    expect(await run(id, 'globalThis.small = [1, 2, 3]; console.log(small.length)')).toBe('3');
    const c = await engine.createSnapshot(A, id);
    for (const s of [a, b, c]) expect(s.hasMemory).toBe(true);
    const [majors] = await report(id);
    expect(majors).toBe(0);
    // and the copies hold what the origin had
    const restored = await engine.restoreSnapshot(A, c.id);
    expect(await run(restored.executionId, 'console.log(keep.length, small.length)')).toBe('10000 3');
  });

  it('a snapshot right after a program that left ~50 MB of garbage collects it in full first: its restore starts without it', async () => {
    const id = await context();
    const [, base] = await report(id);
    expect(await run(id, GARBAGE)).toBe('dropped');
    const snap = await engine.createSnapshot(A, id);
    const restored = await engine.restoreSnapshot(A, snap.id);
    const [majors, used] = await report(restored.executionId);
    expect(majors).toBeGreaterThanOrEqual(1);
    expect(used).toBeLessThan(base + 10);
    expect(await run(restored.executionId, 'console.log(keep.length)')).toBe('10000');
  });

  it('a context that grew a lot collects while it idles, not while the next program runs', async () => {
    const id = await context();
    const [, base] = await report(id);
    expect(await run(id, GARBAGE)).toBe('dropped');
    // straight after: nothing collected the old generation yet (the next program cancels the idle collection)
    const [, usedAtOnce] = await report(id);
    expect(usedAtOnce).toBeGreaterThan(base + 20);
    await new Promise((r) => setTimeout(r, 1000));
    const [majors, usedLater] = await report(id);
    expect(majors).toBeGreaterThanOrEqual(1);
    expect(usedLater).toBeLessThan(base + 10);
  });

  it('a copy (a restore) that grew a lot does not collect while it idles (that would copy its whole inherited heap); its own snapshot then does', async () => {
    const id = await context();
    const [, base] = await report(id);
    const snap = await engine.createSnapshot(A, id);
    const copy = (await engine.restoreSnapshot(A, snap.id)).executionId;
    expect(await run(copy, GARBAGE)).toBe('dropped');
    await new Promise((r) => setTimeout(r, 1000));
    const [, usedIdle] = await report(copy);
    expect(usedIdle).toBeGreaterThan(base + 20);
    const again = await engine.restoreSnapshot(A, (await engine.createSnapshot(A, copy)).id);
    const [, usedThen] = await report(again.executionId);
    expect(usedThen).toBeLessThan(base + 10);
  });
});
