// The cgroup finder on made-up hierarchies: the two drivers' places under v1 and v2, the
// counters' units, and a container that is gone.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupFileCandidates, findCpuCounter } from './cgroup.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function hierarchy(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'faas-cgroup-'));
  roots.push(root);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  return root;
}

describe('cgroup', () => {
  it('lists v1 places under each controller mount, then v2, cgroupfs driver before systemd', () => {
    const c = cgroupFileCandidates('abc', 'cgroup.procs', ['pids'], '/cg');
    expect(c).toEqual([
      { version: 1, path: '/cg/pids/docker/abc/cgroup.procs' },
      { version: 1, path: '/cg/pids/system.slice/docker-abc.scope/cgroup.procs' },
      { version: 2, path: '/cg/docker/abc/cgroup.procs' },
      { version: 2, path: '/cg/system.slice/docker-abc.scope/cgroup.procs' },
      { version: 2, path: '/cg/unified/docker/abc/cgroup.procs' },
      { version: 2, path: '/cg/unified/system.slice/docker-abc.scope/cgroup.procs' },
    ]);
  });

  it('reads cgroup v2 usage_usec (systemd driver) and v1 cpuacct.usage (ns) as seconds, re-reading in place', () => {
    const v2 = hierarchy({ 'system.slice/docker-abc.scope/cpu.stat': 'usage_usec 2500000\nuser_usec 1\n' });
    const c2 = findCpuCounter('abc', v2)!;
    expect([c2.kind, c2.read()]).toEqual(['cgroup-v2', 2.5]);
    writeFileSync(join(v2, 'system.slice/docker-abc.scope/cpu.stat'), 'usage_usec 3000000\n');
    expect(c2.read()).toBe(3);
    c2.close();
    expect(c2.read()).toBeNull();
    const v1 = hierarchy({ 'cpu,cpuacct/docker/abc/cpuacct.usage': '1500000000\n' });
    const c1 = findCpuCounter('abc', v1)!;
    expect([c1.kind, c1.read()]).toEqual(['cgroup-v1', 1.5]);
    c1.close();
  });

  it('is null for a container it cannot find', () => {
    expect(findCpuCounter('gone', hierarchy({ 'docker/other/cpu.stat': 'usage_usec 1\n' }))).toBeNull();
  });
});
