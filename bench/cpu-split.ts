// Where the CPU of a stretch of executions goes, read from the kernel's own counters:
// this (host) process, Docker's daemons (dockerd, containerd, the shims and the runc they
// wait for), the sandboxes of this process (their cgroups: the agent and the programs it
// forks), and the rest of the machine (kernel, interrupts, anything else running).
// cgroup v1 (`cpuacct.usage`) or v2 (`cpu.stat` usage_usec); Linux only.
import { readdirSync, readFileSync } from 'node:fs';
import type Docker from 'dockerode';
import { cgroupFileCandidates, findCpuCounter, OWNER_PID_LABEL } from '../src/sandbox/index.js';

const TICK_MS = 10; // USER_HZ = 100 on Linux
const DOCKER_DAEMONS = /^(dockerd|containerd|containerd-shim.*|runc|docker-init|docker-proxy)$/;

export interface CpuSample {
  /** ms of CPU, cumulative, for each part. */
  host: number;
  docker: Map<string, number>;
  sandboxes: number;
  machine: number;
}

/** A stretch's split: ms of CPU per part. */
export interface CpuSplit {
  host: number;
  docker: number;
  sandboxes: number;
  machine: number;
  other: number;
}

/** Busy CPU time of the whole machine so far, in ms (user+nice+system+irq+softirq+steal). */
export function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + (f[7] ?? 0)) * TICK_MS;
}

/** A process's parent and CPU in ms (its own; its reaped children's), from /proc/<pid>/stat;
 *  null if it ended between the listing and the read. */
function procStat(pid: string): { ppid: string; self: number; children: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from #3 (state) on
    // ppid; utime stime; cutime cstime
    return { ppid: f[1]!, self: (Number(f[11]) + Number(f[12])) * TICK_MS, children: (Number(f[13]) + Number(f[14])) * TICK_MS };
  } catch {
    return null;
  }
}

/** dockerd, containerd and the shims, with what they waited for (runc, exec'd helpers): ms by pid. */
function dockerDaemonsMs(): Map<string, number> {
  const byPid = new Map<string, number>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    // A shim's children are the containers' init processes, still alive while we sample, so
    // its cutime is runc's and helpers' time, not the sandboxes'.
    const st = DOCKER_DAEMONS.test(comm) ? procStat(pid) : null;
    if (st) byPid.set(`${pid} ${comm}`, st.self + st.children);
  }
  return byPid;
}

/**
 * CPU of the daemons between two readings, per process: one that ended meanwhile (the shim of
 * a removed container) takes its whole past out of a plain sum, so only processes alive at
 * the second reading count — what one that ended used meanwhile falls to `other`.
 */
function daemonsDelta(a: Map<string, number>, b: Map<string, number>): number {
  let ms = 0;
  for (const [pid, v] of b) ms += v - (a.get(pid) ?? 0);
  return ms;
}

/** A container's CPU so far, ms, from its cgroup as the engine reads it (0 when it cannot be read). */
function cgroupCpuMs(id: string): number {
  const counter = findCpuCounter(id);
  if (!counter) return 0;
  try {
    return (counter.read() ?? 0) * 1e3;
  } finally {
    counter.close();
  }
}

/** One reading of every counter; subtract two readings to get a stretch's split. */
export function sampleCpu(sandboxIds: readonly string[]): CpuSample {
  const u = process.cpuUsage();
  return {
    host: (u.user + u.system) / 1e3,
    docker: dockerDaemonsMs(),
    sandboxes: sandboxIds.reduce((a, id) => a + cgroupCpuMs(id), 0),
    machine: machineBusyMs(),
  };
}

/** The sandbox containers this process's engine runs (their OWNER_PID_LABEL). */
export async function ownSandboxIds(docker: Docker): Promise<string[]> {
  const list = await docker.listContainers({ filters: { label: [`${OWNER_PID_LABEL}=${process.pid}`] } });
  return list.map((c) => c.Id);
}

export function cpuSplitPerExec(a: CpuSample, b: CpuSample, n: number): CpuSplit {
  const d = (k: 'host' | 'sandboxes' | 'machine') => (b[k] - a[k]) / n;
  const split = { host: d('host'), docker: daemonsDelta(a.docker, b.docker) / n, sandboxes: d('sandboxes'), machine: d('machine') };
  return { ...split, other: split.machine - split.host - split.docker - split.sandboxes };
}

/** CPU of one container's processes by role, ms, cumulative: the agent (its PID 1), the zygote
 *  (the agent's child that forks spares) and the programs (the zygote's ended children: each
 *  spare's whole life, program included, counted when the zygote reaps it). */
export interface RoleSample {
  agent: number;
  zygote: number;
  programs: number;
}

function cgroupProcs(id: string): string[] {
  for (const { path: p } of cgroupFileCandidates(id, 'cgroup.procs', ['pids'])) {
    try {
      return readFileSync(p, 'utf8').split('\n').filter(Boolean);
    } catch {
      /* next layout */
    }
  }
  return [];
}

/** Per role, summed over the given containers (read on the host through /proc). */
export function sampleRoles(sandboxIds: readonly string[]): RoleSample {
  const out: RoleSample = { agent: 0, zygote: 0, programs: 0 };
  for (const id of sandboxIds) {
    const procs = new Map<string, { ppid: string; self: number; children: number }>();
    for (const pid of cgroupProcs(id)) {
      const st = procStat(pid);
      if (st) procs.set(pid, st);
    }
    const agent = [...procs].find(([, p]) => !procs.has(p.ppid));
    if (!agent) continue;
    out.agent += agent[1].self;
    for (const [, p] of procs) {
      if (p.ppid !== agent[0]) continue;
      out.zygote += p.self;
      out.programs += p.children;
    }
  }
  return out;
}

/** Waits (up to maxMs) until Docker's daemons use under 3% of a CPU over each of two seconds
 *  in a row: the sections before a stretch leave containers being removed and pools refilled,
 *  work that is not the stretch's. Per process (daemonsDelta: a shim that ended meanwhile must
 *  not take its whole past out of the sum). Returns the ms waited and whether it got quiet. */
export async function waitForDockerQuiet(maxMs = 15000): Promise<{ waitedMs: number; quiet: boolean }> {
  const t0 = performance.now();
  let before = dockerDaemonsMs();
  let quietSeconds = 0;
  while (performance.now() - t0 < maxMs) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = dockerDaemonsMs();
    quietSeconds = daemonsDelta(before, now) < 30 ? quietSeconds + 1 : 0;
    before = now;
    if (quietSeconds >= 2) return { waitedMs: performance.now() - t0, quiet: true };
  }
  return { waitedMs: performance.now() - t0, quiet: false };
}
