// Isolation tiers (issue 13): the same executions under gVisor (runsc) beside runc, in one
// engine that allows both. Branches do not run under gVisor (its kernel refuses mounts in a
// context's user namespace), so there is no gvisor branch row.
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DockerSandboxEngine } from '../src/sandbox/index.js';
import type { ExecuteRequestInput } from '../src/sandbox/index.js';
import { check, record, results, say, sleep, timeIt } from './stats.js';

export async function benchIsolation(pace: number): Promise<void> {
  say('\nbench: isolation tiers, runc vs gvisor (runsc), python print(1)');
  const engine = new DockerSandboxEngine(
    loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_ALLOWED_ISOLATION: 'runc,gvisor' }),
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
    const r = results;
    say(`  gvisor / runc: cached ${(r.gvisor_cached_python_p50_ms! / r.runc_cached_python_p50_ms!).toFixed(2)}×, ephemeral ${(r.gvisor_ephemeral_python_p50_ms! / r.runc_ephemeral_python_p50_ms!).toFixed(2)}×`);
    say('  gvisor_branch: not measured: stateful contexts do not run under gVisor (mount() in a user namespace is EPERM there)');
  } finally {
    await engine.shutdown();
  }
}
