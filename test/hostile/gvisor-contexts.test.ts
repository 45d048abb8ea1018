// Issue 13, gVisor tier: stateful contexts (snapshots with memory, branches) in a runsc family
// container (agent/faas_agent/gvisor.py and gvisor_contexts.py), on real Docker with runsc.
import { release } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { GVISOR_HOST_TASKS_PER_PROCESS, containerOptions } from '../../src/sandbox/policy.js';
import { ResourcesSchema } from '../../src/sandbox/types.js';
import { makeEngine } from '../helpers.js';

const OWNER = 'gvisor-contexts';
let g: DockerSandboxEngine;

beforeAll(async () => {
  g = makeEngine({ FAAS_ALLOWED_ISOLATION: 'runc,gvisor', FAAS_PREWARM_LANGUAGES: '', FAAS_KEY_MAX_FAMILY_CONTAINERS: '16' });
  await g.start();
});

afterAll(async () => {
  await g?.shutdown();
});

async function py(executionId: string, code: string): Promise<string> {
  const r = await g.execute({ language: 'python', executionId, code }, { owner: OWNER });
  expect([r.exitCode, r.stderr]).toEqual([0, '']);
  return r.stdout.trim();
}

/** Pids this context's /proc lists, and whether any of them runs `sleep` (another context's). */
const PROCS = 'import os\nps = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())\n'
  + 'cmds = [open("/proc/%d/cmdline" % p, "rb").read() for p in ps]\nprint(ps, any(c.startswith(b"sleep") for c in cmds))';

/** The capability sets, seccomp mode and no_new_privs (prctl: gVisor's status has no line for it) of the process that runs it. */
const STATUS_PY = 'import ctypes\nst = dict(l.split(":\\t") for l in open("/proc/self/status").read().splitlines() if ":\\t" in l)\n'
  + 'print(st["CapEff"].strip(), st["CapPrm"].strip(), st["CapBnd"].strip(), st["Seccomp"].strip(), ctypes.CDLL(None).prctl(39, 0, 0, 0, 0))';

describe('stateful contexts under gvisor', () => {
  it('a python context keeps memory and files across snapshot → restore and → branch; branches are independent', async () => {
    const first = await g.execute(
      { language: 'python', mode: 'checkpointed', isolation: 'gvisor', code: 'import json\nx = 41\nopen("state.txt", "w").write("base")\nprint(open("/proc/version").read().strip())' },
      { owner: OWNER },
    );
    expect([first.exitCode, first.stderr]).toEqual([0, '']);
    expect(first.stdout).not.toContain(release()); // gVisor's kernel, not the host's
    const id = first.executionId;
    expect(await py(id, 'x += 1\nprint(x, open("state.txt").read(), "json" in dir())')).toBe('42 base True');
    const snap = await g.createSnapshot(OWNER, id);
    expect(snap.hasMemory).toBe(true);
    // the live context goes on; what it does later is not in the snapshot
    expect(await py(id, 'x = 1000\nopen("state.txt", "w").write("later")\nprint(x)')).toBe('1000');
    const restored = await g.restoreSnapshot(OWNER, snap.id);
    expect(restored.hasMemory).toBe(true);
    expect(await py(restored.executionId, 'print(x, open("state.txt").read(), "json" in dir())')).toBe('42 base True');
    const [b1, b2] = await Promise.all([g.createBranch(OWNER, snap.id), g.createBranch(OWNER, snap.id)]);
    expect(await py(b1.executionId, 'x += 1\nopen("state.txt", "a").write("+b1")\nopen("b1.txt", "w").write("1")\nprint(x, open("state.txt").read())')).toBe('43 base+b1');
    expect(await py(b2.executionId, 'import os\nprint(x, open("state.txt").read(), os.path.exists("b1.txt"))')).toBe('42 base False');
    expect(await py(id, 'print(x, open("state.txt").read())')).toBe('1000 later');
    // a branch of a branch: a snapshot of b1 carries b1's memory and files
    const deeper = await g.createBranch(OWNER, (await g.createSnapshot(OWNER, b1.executionId)).id);
    expect(await py(deeper.executionId, 'import os\nprint(x, open("state.txt").read(), os.path.exists("b1.txt"))')).toBe('43 base+b1 True');
    // a merge of the two branches: the base's memory, both branches' files
    await py(b2.executionId, 'open("b2.txt", "w").write("2")\nopen("state.txt", "w").write("b2")');
    const merged = await g.mergeBranches(OWNER, [b1.id, b2.id], 'theirs');
    expect(merged.conflicts).toEqual(['state.txt']);
    const m = await g.restoreSnapshot(OWNER, merged.id);
    expect(await py(m.executionId, 'import os\nprint(x, sorted(os.listdir(".")), open("state.txt").read())')).toBe("42 ['b1.txt', 'b2.txt', 'state.txt'] b2");
  }, 240_000);

  it("a context sees only its own processes: not another context's, nor the agent's or a snapshot's holder", async () => {
    const a = await g.execute({ language: 'python', mode: 'branched', isolation: 'gvisor', code: 'import subprocess\np = subprocess.Popen(["sleep", "120"])\nprint("started")' }, { owner: OWNER });
    expect(a.stdout).toBe('started\n');
    // the sleep is there in its own context
    expect(await py(a.executionId, PROCS)).toMatch(/ True$/);
    const snap = await g.createSnapshot(OWNER, a.executionId);
    const b = await g.createBranch(OWNER, snap.id);
    // the branch: its own PID namespace (the interpreter and its init), no sleep, no holder
    expect(await py(b.executionId, PROCS)).toBe('[1, 2] False');
    // the live context moved on in a namespace of its own too (the snapshot ended what ran)
    expect(await py(a.executionId, PROCS)).toBe('[1, 2] False');
    // a signal to every process it can reach ends nothing outside its namespace
    expect(await py(b.executionId, 'import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError:\n    pass\nprint("alive")')).toBe('alive');
    expect(await py(a.executionId, 'print("still here")')).toBe('still here');
    const again = await g.createBranch(OWNER, snap.id);
    expect(await py(again.executionId, 'print("holder alive")')).toBe('holder alive');
  }, 180_000);

  it('user code holds only what its interpreter needs, under the seccomp filter; programs it starts in a bash context hold nothing', async () => {
    const c = await g.execute({ language: 'python', mode: 'persistent', isolation: 'gvisor', code: STATUS_PY }, { owner: OWNER });
    // CAP_SYS_ADMIN | CAP_SYS_CHROOT (of gVisor's kernel) in effective, permitted and bounding sets; filter on; no_new_privs
    expect(c.stdout.trim()).toBe('0000000000240000 0000000000240000 0000000000240000 2 1');
    const probe = await py(c.executionId, [
      'import ctypes, errno, os, socket',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'def rc(v):\n    return "ok" if v == 0 else errno.errorcode[ctypes.get_errno()]',
      'def sock(*a):\n    try:\n        socket.socket(*a).close(); return "ok"\n    except OSError as e:\n        return errno.errorcode[e.errno]',
      'print(rc(libc.unshare(0x10000000)), rc(libc.syscall(155, b"/tmp", b"/tmp")), rc(libc.syscall(432, 0, 0, 0)), sock(16, 3, 0), sock(17, 3, 0), sock(2, 3, 1))',
    ].join('\n'));
    // user namespace, pivot_root, fsmount, netlink, packet and raw sockets: refused by the filter
    expect(probe).toBe('EPERM EPERM EPERM EPERM EPERM EPERM');
    const sh = await g.execute({ language: 'bash', mode: 'persistent', isolation: 'gvisor', code: `python3 -c '${STATUS_PY}'` }, { owner: OWNER });
    expect(sh.stdout).toBe('0000000000000000 0000000000000000 0000000000000000 2 1\n');
  }, 120_000);

  it('what does not hold, pinned: python user code can leave its chroot (README); the CPU time billed is still what the kernel counted', async () => {
    const c = await g.execute({ language: 'python', mode: 'persistent', isolation: 'gvisor', code: 'print(1)' }, { owner: OWNER });
    const escape = [
      'import ctypes, os, resource',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'os.makedirs("/sandbox/tmp/esc", exist_ok=True)',
      'os.chroot("/sandbox/tmp/esc")',
      'for _ in range(32):\n    os.chdir("..")',
      'os.chroot(".")',
      // out: the family's other roots are in sight (this is the lineage's own family container)
      'print(os.path.isdir("/sandbox/.roots"), len(os.listdir("/sandbox/.roots")) >= 1)',
      // cover every /proc/<pid> the agent could read, and make the interpreter report no CPU time
      'covered = sum(libc.mount(b"tmpfs", ("/proc/" + p).encode(), b"tmpfs", 0, None) == 0 for p in os.listdir("/proc") if p.isdigit())',
      'print(covered > 0)',
      'class Zero:\n    ru_utime = ru_stime = ru_maxrss = 0',
      'resource.getrusage = lambda who: Zero()',
    ].join('\n');
    const out = await g.execute({ language: 'python', executionId: c.executionId, code: escape }, { owner: OWNER });
    expect([out.stdout, out.stderr]).toEqual(['True True\nTrue\n', '']);
    const busy = await g.execute({ language: 'python', executionId: c.executionId, code: 'import time\nt = time.process_time()\nwhile time.process_time() - t < 1.0:\n    pass\nprint("done")' }, { owner: OWNER });
    expect(busy.stdout).toBe('done\n');
    expect(busy.usage.cpuSeconds).toBeGreaterThan(0.5);
  }, 120_000);

  it('a gvisor family container: uid 0 of gVisor with three capabilities, run by runsc, its pids limit in host tasks (×10)', () => {
    const spec = { image: 'x', language: 'python' as const, resources: ResourcesSchema.parse({}), pidsLimit: 256, labels: {}, family: { contexts: 8, maxMemoryMb: 512, maxDiskMb: 1024, maxPids: 256 } };
    const o = containerOptions({ ...spec, uid: 2_000_123, isolation: 'gvisor' });
    expect([o.User, o.HostConfig!.Runtime, o.HostConfig!.CapDrop, o.HostConfig!.CapAdd]).toEqual(['0:0', 'runsc', ['ALL'], ['SYS_ADMIN', 'SYS_CHROOT', 'SETPCAP']]);
    expect(o.HostConfig!.PidsLimit).toBe(256 * GVISOR_HOST_TASKS_PER_PROCESS);
    expect(o.Env).toContain('FAAS_FAMILY_ISOLATION=gvisor');
    // under runc, and a gvisor container that is not a family: as before
    const runc = containerOptions({ ...spec, uid: 2_000_123 });
    expect([runc.User, runc.HostConfig!.CapAdd, runc.HostConfig!.PidsLimit, runc.Env]).toEqual(['2000123:2000123', undefined, 256, expect.not.arrayContaining(['FAAS_FAMILY_ISOLATION=gvisor'])]);
    const eph = containerOptions({ ...spec, family: undefined, uid: 2_000_123, isolation: 'gvisor' });
    expect([eph.User, eph.HostConfig!.CapAdd]).toEqual(['2000123:2000123', undefined]);
  });

  it('a javascript context under gvisor: a snapshot keeps its files (no memory), branches get them', async () => {
    const r = await g.execute({ language: 'javascript', mode: 'checkpointed', isolation: 'gvisor', code: 'require("fs").writeFileSync("note.txt", "js"); globalThis.n = 5; console.log(n)' }, { owner: OWNER });
    expect([r.exitCode, r.stdout]).toEqual([0, '5\n']);
    const snap = await g.createSnapshot(OWNER, r.executionId);
    expect(snap.hasMemory).toBe(false);
    const b = await g.createBranch(OWNER, snap.id);
    const out = await g.execute({ language: 'javascript', executionId: b.executionId, code: 'console.log(require("fs").readFileSync("note.txt", "utf8"), typeof n)' }, { owner: OWNER });
    expect(out.stdout).toBe('js undefined\n');
  }, 120_000);
});
