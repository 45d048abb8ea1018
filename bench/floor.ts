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

/** Runs a probe's python in a cached sandbox of the engine's one owner; its stdout as JSON. */
async function runProbe<T>(engine: DockerSandboxEngine, code: string, what: string, timeoutMs?: number): Promise<T> {
  const r = await engine.execute({ language: 'python', mode: 'cached', code, ...(timeoutMs === undefined ? {} : { resources: { timeoutMs } }) });
  if (r.exitCode !== 0) throw new Error(`${what} probe failed: ${r.stderr.slice(0, 400)}`);
  return JSON.parse(r.stdout) as T;
}

/** The floor measured by `concurrency` probes at once (each in a cached python sandbox of the
 *  engine's one owner), averaged. */
export async function measureForkFloor(engine: DockerSandboxEngine, concurrency = 1): Promise<ForkFloor> {
  const runs = await Promise.all(
    Array.from({ length: concurrency }, () => runProbe<ForkFloor>(engine, PROBE, 'fork floor')),
  );
  return { bare: runs.reduce((a, r) => a + r.bare, 0) / runs.length, print: runs.reduce((a, r) => a + r.print, 0) / runs.length };
}

// The machine's own ceiling for a fresh process per execution, with nothing of ours around it:
// `probes` python processes in sandboxes, started together at one wall-clock instant, each
// forking children that run print(1) (as the floor's) one after another for `seconds`; the
// children counted. No engine, no agent, no pipes: what two vCPUs give a fresh python process
// that prints, at most.
const RATE_PROBE = (startAt: number, seconds: number) =>
  [
    'import os, time, json',
    `start, stop = ${startAt / 1000}, ${startAt / 1000 + seconds}`,
    'time.sleep(max(0.0, start - time.time()))',
    'n = 0',
    'while time.time() < stop:',
    '    pid = os.fork()',
    '    if pid == 0:',
    '        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)',
    '        exec(compile("print(1)", "x", "exec"), {})',
    '        os._exit(0)',
    '    os.waitpid(pid, 0)',
    '    n += 1',
    'print(json.dumps({"n": n}))',
  ].join('\n');

/** Fresh python processes that print(1) per second, `probes` forking loops at once for
 *  `seconds`, in cached python sandboxes of the engine's one owner. */
export async function measureForkRate(engine: DockerSandboxEngine, probes: number, seconds = 2): Promise<number> {
  const startAt = Date.now() + 1500; // every probe's sandbox is handed its program by then
  const counts = await Promise.all(
    Array.from({ length: probes }, async () => (await runProbe<{ n: number }>(engine, RATE_PROBE(startAt, seconds), 'fork rate', 30_000)).n),
  );
  return counts.reduce((a, n) => a + n, 0) / seconds;
}

// What one page fault costs here: a python loop writes one byte to each page of a fresh 32 MiB
// anonymous mapping (a fault each), then the same loop again over the now-mapped pages (no
// fault); the difference per page. The whole floor above is made of such faults.
const FAULT_PROBE = [
  'import mmap, time, json',
  'size = 32 << 20',
  'def walk(m):',
  '    t = time.perf_counter()',
  '    for i in range(0, size, 4096):',
  '        m[i] = 1',
  '    return time.perf_counter() - t',
  'best = None',
  'for _ in range(3):',
  '    m = mmap.mmap(-1, size)',
  '    fresh = walk(m)',
  '    mapped = walk(m)',
  '    m.close()',
  '    us = (fresh - mapped) / (size // 4096) * 1e6',
  '    best = us if best is None else min(best, us)',
  'print(json.dumps({"us": best}))',
].join('\n');

/** µs per page fault on fresh anonymous memory, inside a cached python sandbox (the best of 3). */
export async function measurePageFault(engine: DockerSandboxEngine): Promise<number> {
  return (await runProbe<{ us: number }>(engine, FAULT_PROBE, 'page fault', 30_000)).us;
}

// The least a fresh, already-forked python process takes to run print(1), with nothing of ours
// around it: a child forked ahead and waiting on a pipe (as a spare waits) is sent the program,
// runs it, writes one byte back (as a spare's report) and exits; the time from the send to that
// byte, and to the exit reaped. Paced as the engine's sequential rows are.
const PREFORK_PROBE = [
  'import os, time, json',
  'def once():',
  '    r1, w1 = os.pipe()',
  '    r2, w2 = os.pipe()',
  '    pid = os.fork()',
  '    if pid == 0:',
  '        code = os.read(r1, 4096).decode()',
  '        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)',
  '        exec(compile(code, "main.py", "exec"), {"__name__": "__main__"})',
  '        os.write(w2, b"x")',
  '        os._exit(0)',
  '    time.sleep(0.05)',
  '    t0 = time.perf_counter()',
  '    os.write(w1, b"print(1)")',
  '    os.read(r2, 1)',
  '    t1 = time.perf_counter()',
  '    os.waitpid(pid, 0)',
  '    t2 = time.perf_counter()',
  '    for fd in (r1, w1, r2, w2):',
  '        os.close(fd)',
  '    return (t1 - t0) * 1000, (t2 - t0) * 1000',
  'runs = [once() for _ in range(40)]',
  'mid = lambda v: sorted(v)[len(v) // 2]',
  'print(json.dumps({"report": mid([a for a, _ in runs]), "exit": mid([b for _, b in runs])}))',
].join('\n');

export interface PreforkLatency {
  /** ms p50 from the program sent to the child's byte back. */
  report: number;
  /** ms p50 from the program sent to the child reaped. */
  exit: number;
}

/** The pre-forked fresh-process floor under a cached execution's latency (PREFORK_PROBE). */
export async function measurePreforkLatency(engine: DockerSandboxEngine): Promise<PreforkLatency> {
  return runProbe<PreforkLatency>(engine, PREFORK_PROBE, 'pre-fork', 30_000);
}
