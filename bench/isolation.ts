// Isolation tiers (issue 13): the same executions under gVisor (runsc) beside runc, in one
// engine that allows both; and a branch of a python context holding 100 MB (the snapshots
// section's context) under each tier (agent/faas_agent/gvisor.py is the gVisor design).
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DockerSandboxEngine } from '../src/sandbox/index.js';
import type { ExecuteRequestInput } from '../src/sandbox/index.js';
import { HEAVY_SETUP } from './snapshots.js';
import { check, record, results, say, sleep, timeIt } from './stats.js';

export async function benchIsolation(pace: number): Promise<void> {
  say('\nbench: isolation tiers, runc vs gvisor (runsc), python print(1)');
  const engine = new DockerSandboxEngine(
    loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_ALLOWED_ISOLATION: 'runc,gvisor', FAAS_KEY_MAX_CONTEXTS: '256' }),
    createLogger('warn'),
  );
  await engine.start();
  const exec = async (req: ExecuteRequestInput) => check((await engine.execute(req, { owner: 'bench-isolation' })).stdout, '1\n', `${req.mode} ${req.isolation}`);
  try {
    for (const isolation of ['runc', 'gvisor'] as const) {
      const py: ExecuteRequestInput = { code: 'print(1)', language: 'python', mode: 'cached', isolation };
      for (let i = 0; i < 10; i++) await exec(py); // warm the owner's container (and the tier's pool)
      await sleep(3000); // let the tier's fresh pool fill
      record(`${isolation}_cached_python`, await timeIt(60, pace, () => exec(py)));
      record(`${isolation}_ephemeral_python`, await timeIt(15, pace, () => exec({ ...py, mode: 'ephemeral' })));
      await sleep(1000);
    }
    for (const isolation of ['runc', 'gvisor'] as const) {
      const resources = { memoryMb: 512, timeoutMs: 60_000 };
      const base = await engine.execute({ language: 'python', mode: 'branched', isolation, code: HEAVY_SETUP + '\nprint("ready")', resources }, { owner: 'bench-isolation' });
      check(base.stdout, 'ready\n', `heavy set-up ${isolation}`);
      const snap = await engine.createSnapshot('bench-isolation', base.executionId);
      const ids: string[] = [];
      record(`${isolation}_branch`, await timeIt(20, pace, async () => void ids.push((await engine.createBranch('bench-isolation', snap.id)).executionId)));
      // each is a context with the snapshot's memory
      // (the 100 MB, not the index: on a loaded machine the 2 s set-up may end before indexing)
      const seen = await engine.execute({ language: 'python', executionId: ids[ids.length - 1]!, code: 'print(len(data) // (1024 * 1024))', resources }, { owner: 'bench-isolation' });
      check(seen.stdout, '100\n', `a ${isolation} branch sees the snapshot`);
    }
    const r = results;
    say(`  gvisor / runc: cached ${(r.gvisor_cached_python_p50_ms! / r.runc_cached_python_p50_ms!).toFixed(2)}×, ephemeral ${(r.gvisor_ephemeral_python_p50_ms! / r.runc_ephemeral_python_p50_ms!).toFixed(2)}×, branch ${(r.gvisor_branch_p50_ms! / r.runc_branch_p50_ms!).toFixed(2)}×`);
  } finally {
    await engine.shutdown();
  }
}
