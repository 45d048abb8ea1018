// The floor under a fresh process per execution, measured inside a sandbox: CPU of a python
// fork() + _exit(), and of a fork that runs print(1) first — once alone, and once with one
// probe per CPU at a time. On this kind of VM a process is charged more CPU for the same work
// while every vCPU is busy (measured with the zygote's spares' floor: 4.8 ms alone, 6.7-7.2 with
// two at once, 8.8-9.2 with four), so the throughput stretch, which keeps every CPU busy, is
// set beside both. One probe per CPU, not one per caller: more would add the probes'
// time-slicing to the floor.
import type { DockerSandboxEngine } from '../src/sandbox/index.js';

const PROBE = [
  'import os, json',
  'def cost(work, n=200):',
  '    t0 = os.times()',
  '    for _ in range(n):',
  '        pid = os.fork()',
  '        if pid == 0:',
  '            if work:',
  '                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)',
  '                exec(compile("print(1)", "x", "exec"), {})',
  '            os._exit(0)',
  '        os.waitpid(pid, 0)',
  '    t1 = os.times()',
  '    return sum(t1[i] - t0[i] for i in range(4)) / n * 1000',
  'print(json.dumps({"bare": cost(False), "print": cost(True)}))',
].join('\n');

export interface ForkFloor {
  /** ms CPU of a fork() + _exit(). */
  bare: number;
  /** ms CPU of a fork that runs print(1). */
  print: number;
}

/** The floor measured by `concurrency` probes at once (each in a cached python sandbox of the
 *  engine's one owner), averaged. */
export async function measureForkFloor(engine: DockerSandboxEngine, concurrency = 1): Promise<ForkFloor> {
  const runs = await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const r = await engine.execute({ language: 'python', mode: 'cached', code: PROBE });
      if (r.exitCode !== 0) throw new Error(`fork floor probe failed: ${r.stderr.slice(0, 400)}`);
      return JSON.parse(r.stdout) as ForkFloor;
    }),
  );
  return { bare: runs.reduce((a, r) => a + r.bare, 0) / runs.length, print: runs.reduce((a, r) => a + r.print, 0) / runs.length };
}
