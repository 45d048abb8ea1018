// Snapshots and branches (issue #6), side by side with their baselines in the same run:
// a branch or restore against a new context (a family container started and its interpreter
// made), and the "heavy initialization" row: restore-and-run against re-running a set-up that
// takes 2 s and loads ~100 MB.
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DockerSandboxEngine } from '../src/sandbox/index.js';
import { check, pct, r2, record, results, say, sleep, timeIt } from './stats.js';

const OWNER = 'bench';

/** 100 MB in the interpreter: random bytes, and an index over them, built in about 2 s. */
export const HEAVY_SETUP = [
  'import hashlib, os, time',
  't0 = time.monotonic()',
  'data = os.urandom(100 * 1024 * 1024)',
  'index = {}',
  'i = 0',
  // a model-loading stand-in: hash the data block by block until the set-up has taken 2 s
  'while time.monotonic() - t0 < 2.0:',
  '    block = (i * 4096) % len(data)',
  '    index[hashlib.sha256(data[block:block + 4096]).hexdigest()[:8]] = block',
  '    i += 1',
].join('\n');
const HEAVY_RUN = 'print(len(data) // (1024 * 1024), len(index) > 0)';

export async function benchSnapshots(pace: number): Promise<void> {
  say('\nbench: snapshots and branches (python context holding 100 MB of interpreter memory)');
  const engine = new DockerSandboxEngine(loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_KEY_MAX_FAMILY_CONTAINERS: '64', FAAS_KEY_MAX_CONTEXTS: '256' }), createLogger('warn'));
  await engine.start();
  const run = async (executionId: string, code: string) => (await engine.execute({ language: 'python', executionId, code, resources: { memoryMb: 512, timeoutMs: 60_000 } }, { owner: OWNER })).stdout;
  const fresh = async (code: string) =>
    engine.execute({ language: 'python', mode: 'checkpointed', code, resources: { memoryMb: 512, timeoutMs: 60_000 } }, { owner: OWNER });
  try {
    say('baseline: a new stateful context (family container start + interpreter), running print(1)');
    const create = record('context_create', await timeIt(8, pace, async () => check((await fresh('print(1)')).stdout, '1\n', 'new context')));

    const base = await fresh(HEAVY_SETUP + '\nprint("ready")');
    check(base.stdout, 'ready\n', 'heavy set-up');
    const ctx = base.executionId;

    say('snapshot, restore and branch of that context');
    const snaps: string[] = [];
    const snapshot = record('snapshot', await timeIt(10, pace, async () => void snaps.push((await engine.createSnapshot(OWNER, ctx)).id)));
    const snap = snaps[0]!;
    for (const s of snaps.slice(1)) await engine.deleteSnapshot(OWNER, s);
    const restore = record('restore', await timeIt(10, pace, async () => void (await engine.restoreSnapshot(OWNER, snap))));
    const branch = record('branch', await timeIt(20, pace, async () => void (await engine.createBranch(OWNER, snap))));

    const parallel: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const four = await Promise.all([0, 1, 2, 3].map(() => engine.createBranch(OWNER, snap)));
      parallel.push(performance.now() - t);
      if (i === 0) {
        // each really is ready for code, with the memory of the snapshot
        for (const b of four) check(await run(b.executionId, HEAVY_RUN), '100 True\n', 'branch sees the snapshot');
      }
      await sleep(pace);
    }
    results.branch4_parallel_ms = r2(pct(parallel, 50));
    results.branch4_parallel_p95_ms = r2(pct(parallel, 95));
    say(`  branch4_parallel_ms                  p50 ${results.branch4_parallel_ms.toFixed(2).padStart(8)} ms   p95 ${results.branch4_parallel_p95_ms.toFixed(2).padStart(8)} ms   (4 branches at once, wall time, n=5)`);

    // What one more branch costs: the family container's memory before and after 4 branches
    // that each ran a program (so their own pages exist), per branch.
    const before = await engine.contexts.familyMemoryMb(ctx);
    const four = await Promise.all([0, 1, 2, 3].map(() => engine.createBranch(OWNER, snap)));
    for (const b of four) check(await run(b.executionId, 'x = 1\nprint(1)'), '1\n', 'branch runs');
    const after = await engine.contexts.familyMemoryMb(ctx);
    if (before !== null && after !== null) {
      results.branch_marginal_mb = r2((after - before) / 4);
      say(`  branch_marginal_mb                   ${results.branch_marginal_mb} MiB more memory per branch (family container cgroup, 4 branches)`);
    }

    say('heavy initialization: restore-and-run vs re-running the 2 s set-up, same run');
    const rerun = await timeIt(3, pace, async () => check((await fresh(`${HEAVY_SETUP}\n${HEAVY_RUN}`)).stdout, '100 True\n', 'set-up + run'));
    const restoreRun = await timeIt(10, pace, async () => {
      const r = await engine.restoreSnapshot(OWNER, snap);
      check(await run(r.executionId, HEAVY_RUN), '100 True\n', 'restore + run');
    });
    record('heavy_setup_run', rerun);
    record('heavy_restore_run', restoreRun);
    results.heavy_init_speedup = r2(pct(rerun, 50) / pct(restoreRun, 50));
    say(`  heavy_init_speedup                   ${results.heavy_init_speedup}× (set-up + run p50 / restore + run p50)`);

    const info = engine.getSnapshot(OWNER, snap);
    results.snapshot_size_mb = r2(engine.contexts.storedBytes(OWNER, info.contentHash) / (1024 * 1024));
    say(`  snapshot_size_mb                     ${results.snapshot_size_mb} MiB on disk (its files; the 100 MB of memory stays in the holder process, copy-on-write)`);

    results.branch_vs_new_context_ratio = r2(branch / create);
    say(`  branch_vs_new_context_ratio          ${results.branch_vs_new_context_ratio} (branch p50 / new context p50)`);
    say('targets (issue #6)');
    const target = (ok: boolean, text: string) => say(`  [${ok ? 'met' : 'MISSED'}] ${text}`);
    target(branch < 250, `createBranch p50 < 250 ms: ${branch.toFixed(2)} ms (aim < 30 ms)`);
    target(results.branch4_parallel_ms < 250, `4 branches in parallel < 250 ms: ${results.branch4_parallel_ms} ms`);
    target(snapshot < 300, `createSnapshot p50 < 300 ms (100 MB context): ${snapshot.toFixed(2)} ms`);
    target(restore < 250, `restoreSnapshot p50 < 250 ms (100 MB context): ${restore.toFixed(2)} ms`);
    target(results.heavy_init_speedup >= 10, `restore-and-run ≥ 10× faster than the set-up: ${results.heavy_init_speedup}×`);
  } finally {
    await engine.shutdown();
  }
}
