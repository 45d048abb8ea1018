// JavaScript snapshots and branches (issue 16): the same measurements as bench/snapshots.ts for
// a javascript context whose node holds ~100 MB of heap (a snapshot keeps it: a fork of the
// context's node, see agent/faas_agent/node_holder.py), and the "heavy initialization" row:
// restore-and-run against re-running a 2 s set-up.
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DockerSandboxEngine } from '../src/sandbox/index.js';
import { check, pct, r2, record, results, say, sleep, timeIt } from './stats.js';

const OWNER = 'bench-js';

/** ~100 MB of V8 heap (400,000 small objects with strings), then an index built until 2 s have passed. */
const HEAVY_SETUP = [
  'const crypto = require("crypto");',
  'const t0 = Date.now();',
  'globalThis.data = Array.from({ length: 400000 }, (_, i) => ({ i, s: "record-" + i + "-".repeat(48) }));',
  'globalThis.index = new Map();',
  'for (let i = 0; i < 1000 || Date.now() - t0 < 2000; i++) {',
  '  const d = data[i % data.length];',
  '  index.set(crypto.createHash("sha256").update(d.s).digest("hex").slice(0, 8), d.i);',
  '}',
].join('\n');
const HEAVY_RUN = 'console.log(data.length, index.size > 0)';
const HEAVY_OUT = '400000 true\n';

export async function benchJsSnapshots(pace: number): Promise<void> {
  say('\nbench: javascript snapshots and branches (a node context holding ~100 MB of heap)');
  const engine = new DockerSandboxEngine(loadConfig({ FAAS_KEY_MAX_FAMILY_CONTAINERS: '64', FAAS_KEY_MAX_CONTEXTS: '256' }), createLogger('warn'));
  await engine.start();
  const resources = { memoryMb: 1024, timeoutMs: 60_000 };
  const run = async (executionId: string, code: string) => (await engine.execute({ language: 'javascript', executionId, code, resources }, { owner: OWNER })).stdout;
  const fresh = async (code: string) => engine.execute({ language: 'javascript', mode: 'checkpointed', code, resources }, { owner: OWNER });
  try {
    const base = await fresh(`${HEAVY_SETUP}\nconsole.log("ready", Math.round(process.memoryUsage().heapUsed / 1048576))`);
    check(base.stdout.split(' ')[0]!, 'ready', 'heavy set-up');
    say(`  the context's node: ${base.stdout.trim().split(' ')[1]} MiB of V8 heap in use`);
    const ctx = base.executionId;

    const snaps: string[] = [];
    const snapMs = await timeIt(10, pace, async () => void snaps.push((await engine.createSnapshot(OWNER, ctx)).id));
    const snapshot = record('js_snapshot', snapMs);
    // The first comes straight after the set-up, which grew the heap: it collects the heap in full
    // first (agent/ctx-heap.cjs); the others find it unchanged.
    results.js_snapshot_first_ms = r2(snapMs[0]!);
    say(`  js_snapshot_first_ms                 ${results.js_snapshot_first_ms} ms (straight after the set-up)`);
    const snap = snaps[0]!;
    for (const s of snaps.slice(1)) await engine.deleteSnapshot(OWNER, s);
    // Each a pace after a program that added ~5 MB to the heap (a young-generation collection first).
    const afterRun: number[] = [];
    for (let i = 0; i < 5; i++) {
      await run(ctx, 'globalThis.more = globalThis.more || []; more.push(Array.from({ length: 50000 }, (_, i) => ({ i, s: "m-" + i })))');
      await sleep(pace);
      const t = performance.now();
      const s = await engine.createSnapshot(OWNER, ctx);
      afterRun.push(performance.now() - t);
      await engine.deleteSnapshot(OWNER, s.id);
      await sleep(pace);
    }
    const snapshotAfterRun = record('js_snapshot_after_run', afterRun);
    const restore = record('js_restore', await timeIt(10, pace, async () => void (await engine.restoreSnapshot(OWNER, snap))));
    const branchMs = await timeIt(20, pace, async () => void (await engine.createBranch(OWNER, snap)));
    const branch = record('js_branch', branchMs);
    // The 1st and the 20th of them: a branch must not cost more as copies of the held node pile up.
    results.js_branch_1st_ms = r2(branchMs[0]!);
    results.js_branch_20th_ms = r2(branchMs[19]!);
    say(`  js_branch_1st_ms / _20th_ms           ${results.js_branch_1st_ms} / ${results.js_branch_20th_ms} ms (after 10 restores)`);

    const parallel: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const four = await Promise.all([0, 1, 2, 3].map(() => engine.createBranch(OWNER, snap)));
      parallel.push(performance.now() - t);
      if (i === 0) for (const b of four) check(await run(b.executionId, HEAVY_RUN), HEAVY_OUT, 'branch sees the snapshot');
      await sleep(pace);
    }
    results.js_branch4_parallel_ms = r2(pct(parallel, 50));
    say(`  js_branch4_parallel_ms               p50 ${results.js_branch4_parallel_ms.toFixed(2).padStart(8)} ms   (4 branches at once, wall time, n=5)`);

    // One more branch's cost: the family container's memory before and after 4 branches that
    // each ran a program touching a little of the heap, per branch.
    const before = await engine.contexts.familyMemoryMb(ctx);
    const four = await Promise.all([0, 1, 2, 3].map(() => engine.createBranch(OWNER, snap)));
    for (const b of four) check(await run(b.executionId, 'globalThis.mine = data.slice(0, 10).length; console.log(1)'), '1\n', 'branch runs');
    const after = await engine.contexts.familyMemoryMb(ctx);
    if (before !== null && after !== null) {
      results.js_branch_marginal_mb = r2((after - before) / 4);
      say(`  js_branch_marginal_mb                ${results.js_branch_marginal_mb} MiB more memory per branch (family container cgroup, 4 branches)`);
    }

    say('heavy initialization: restore-and-run vs re-running the 2 s set-up, same run');
    const rerun = await timeIt(3, pace, async () => check((await fresh(`${HEAVY_SETUP}\n${HEAVY_RUN}`)).stdout, HEAVY_OUT, 'set-up + run'));
    const restoreRun = await timeIt(10, pace, async () => {
      const r = await engine.restoreSnapshot(OWNER, snap);
      check(await run(r.executionId, HEAVY_RUN), HEAVY_OUT, 'restore + run');
    });
    record('js_heavy_setup_run', rerun);
    record('js_heavy_restore_run', restoreRun);
    results.js_heavy_init_speedup = r2(pct(rerun, 50) / pct(restoreRun, 50));
    say(`  js_heavy_init_speedup                ${results.js_heavy_init_speedup}× (set-up + run p50 / restore + run p50)`);

    say('targets (issue 16)');
    const target = (ok: boolean, text: string) => say(`  [${ok ? 'met' : 'MISSED'}] ${text}`);
    target(branch < 250, `js createBranch p50 < 250 ms: ${branch.toFixed(2)} ms (aim < 50 ms)`);
    target(snapshot < 300, `js createSnapshot p50 < 300 ms (100 MB heap): ${snapshot.toFixed(2)} ms (after a small program: ${snapshotAfterRun.toFixed(2)} ms)`);
    target(restore < 250, `js restoreSnapshot p50 < 250 ms (100 MB heap): ${restore.toFixed(2)} ms`);
    target(results.js_heavy_init_speedup >= 10, `js restore-and-run ≥ 10× faster than the set-up: ${results.js_heavy_init_speedup}×`);
  } finally {
    await engine.shutdown();
  }
}
