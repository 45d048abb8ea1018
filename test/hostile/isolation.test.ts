// Issue 13, isolation: what a hostile tenant's code can reach of the kernel and the host.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { release } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { FaaSError } from '@faas/sdk/errors';
import { FaaSClient } from '../../src/index.js';
import { containerOptions } from '../../src/sandbox/policy.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { OWNER_PID_LABEL, ROLE_LABEL } from '../../src/sandbox/labels.js';
import { ResourcesSchema } from '../../src/sandbox/types.js';
import { startInstanceGateway } from '../instances/fixtures.js';
import { docker, makeEngine } from '../helpers.js';

/** Tries each call a user namespace of one's own would open, prints one JSON line of errno names. */
const PROBE = `import ctypes, errno, json, os, socket
libc = ctypes.CDLL(None, use_errno=True)
def sys_rc(rc):
    return "ok" if rc == 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
def sock(*a):
    try:
        socket.socket(*a).close(); return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
os.makedirs("/tmp/probe-mnt", exist_ok=True)
r = {}
r["unshare_user"] = sys_rc(libc.unshare(0x10000000))
r["unshare_user_net"] = sys_rc(libc.unshare(0x10000000 | 0x40000000))
r["unshare_net"] = sys_rc(libc.unshare(0x40000000))
# the exact sets a python context's own namespace work once used (user+mount+PID+net+IPC+UTS, PID, mount)
r["unshare_ctx"] = sys_rc(libc.unshare(0x10000000 | 0x00020000 | 0x20000000 | 0x40000000 | 0x08000000 | 0x04000000))
r["unshare_pid"] = sys_rc(libc.unshare(0x20000000))
r["unshare_ns"] = sys_rc(libc.unshare(0x00020000))
rc = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)  # clone(CLONE_NEWUSER | SIGCHLD)
if rc == 0:
    os._exit(0)
r["clone_newuser"] = sys_rc(-1 if rc < 0 else 0)
r["clone3"] = sys_rc(-1 if libc.syscall(435, 0, 0) < 0 else 0)
r["mount_tmpfs"] = sys_rc(libc.mount(b"none", b"/tmp/probe-mnt", b"tmpfs", 0, None))
r["mount_cgroup"] = sys_rc(libc.mount(b"none", b"/tmp/probe-mnt", b"cgroup", 0, b"memory"))
r["mount_tmpfs_flags"] = sys_rc(libc.mount(b"tmpfs", b"/tmp/probe-mnt", b"tmpfs", 2 | 4, b"size=1m"))  # MS_NOSUID|MS_NODEV
r["mount_private"] = sys_rc(libc.mount(b"none", b"/", None, 0x4000 | (1 << 18), None))  # MS_REC|MS_PRIVATE
r["umount2"] = sys_rc(libc.umount2(b"/tmp", 0))
r["setns"] = sys_rc(libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
r["pivot_root"] = sys_rc(libc.syscall(155, b"/tmp", b"/tmp/probe-mnt"))
r["netlink_route"] = sock(socket.AF_NETLINK, socket.SOCK_RAW, 0)
r["netlink_xfrm"] = sock(socket.AF_NETLINK, socket.SOCK_RAW, 6)
r["packet"] = sock(socket.AF_PACKET, socket.SOCK_RAW, 0)
r["raw_inet"] = sock(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
r["raw_inet6"] = sock(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 58)
r["af_key"] = sock(15, socket.SOCK_RAW, 2)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.setsockopt(socket.IPPROTO_IP, 17, b"\\0" * 64); r["xfrm_policy"] = "ok"
except OSError as e:
    r["xfrm_policy"] = errno.errorcode.get(e.errno, str(e.errno))
u.close()
import fcntl, struct
def ioctl_rc(req):
    try:
        fcntl.ioctl(u2, req, struct.pack("16sH14x", b"lo", 0)); return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
u2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r["siocsifflags"] = ioctl_rc(0x8914)  # set lo's flags (down): CAP_NET_ADMIN's interface code
r["siocdelrt"] = ioctl_rc(0x890C)
r["siocgifflags"] = ioctl_rc(0x8913)  # a read stays allowed
u2.close()
r["sock_packet_inet"] = sock(socket.AF_INET, 10, 0x0300)  # SOCK_PACKET: a packet socket by another name
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
def sockopt(fn):
    try:
        fn(); return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
r["ipt_get_info"] = sockopt(lambda: t.getsockopt(socket.IPPROTO_IP, 64, 84))  # IPT_SO_GET_INFO: x_tables
r["tcp_repair"] = sockopt(lambda: t.setsockopt(socket.IPPROTO_TCP, 19, 1))
r["so_mark"] = sockopt(lambda: t.setsockopt(socket.SOL_SOCKET, 36, 1))
t.close()
try:
    with open("/proc/sys/net/ipv4/conf/all/forwarding", "w") as f:
        f.write("1")
    r["sysctl_write"] = "ok"
except OSError as e:
    r["sysctl_write"] = errno.errorcode.get(e.errno, str(e.errno))
r["udp"] = sock(socket.AF_INET, socket.SOCK_DGRAM)
r["unix"] = sock(socket.AF_UNIX, socket.SOCK_STREAM)
with open("/proc/self/status") as f:
    st = dict(l.split(":\\t", 1) for l in f.read().splitlines() if ":\\t" in l)
r["CapEff"], r["CapBnd"], r["CapPrm"], r["CapAmb"] = (st[k].strip() for k in ("CapEff", "CapBnd", "CapPrm", "CapAmb"))
r["NoNewPrivs"], r["Seccomp"] = st["NoNewPrivs"].strip(), st["Seccomp"].strip()
r["pids_seen"] = len([d for d in os.listdir("/proc") if d.isdigit()])
print("PROBE " + json.dumps(r, sort_keys=True))
`;

const REFUSED = [
  'unshare_user', 'unshare_user_net', 'unshare_net', 'unshare_ctx', 'unshare_pid', 'unshare_ns', 'clone_newuser',
  'mount_tmpfs', 'mount_cgroup', 'mount_tmpfs_flags', 'mount_private', 'umount2', 'setns', 'siocsifflags', 'siocdelrt',
  'sock_packet_inet', 'ipt_get_info', 'tcp_repair', 'so_mark',
  'pivot_root', 'netlink_route', 'netlink_xfrm', 'packet', 'raw_inet', 'raw_inet6', 'af_key', 'xfrm_policy',
] as const;

function parseProbe(stdout: string): Record<string, string> {
  const line = stdout.split('\n').find((l) => l.startsWith('PROBE '));
  expect(line, stdout).toBeDefined();
  return JSON.parse(line!.slice(6)) as Record<string, string>;
}

function expectRefused(r: Record<string, string>): void {
  for (const k of REFUSED) expect([k, r[k]]).toEqual([k, 'EPERM']);
  expect(r.clone3).toBe('ENOSYS'); // its flags are behind a pointer; libc falls back to clone()
  expect(r.udp).toBe('ok');
  expect(r.siocgifflags).toBe('ok');
  expect(r.sysctl_write).not.toBe('ok');
  expect(r.unix).toBe('ok');
  expect(r.NoNewPrivs).toBe('1');
  expect(r.Seccomp).toBe('2');
}

let engine: DockerSandboxEngine;
const OWNER = 'hostile-tenant';

beforeAll(async () => {
  engine = makeEngine();
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
});

describe('stateful contexts: user code runs confined', () => {
  it('a python context runs with no capabilities, is refused namespaces, mounts and netlink/packet/raw/key sockets, and still snapshots and branches', async () => {
    const ZERO = '0000000000000000';
    const expectConfined = (stdout: string): void => {
      const p = parseProbe(stdout);
      expectRefused(p);
      for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect([set, p[set]]).toEqual([set, ZERO]);
      // its /proc is its own PID namespace's: the context's init and server, not the agent's
      expect(Number(p.pids_seen)).toBeLessThanOrEqual(3);
    };
    const r = await engine.execute({ language: 'python', mode: 'checkpointed', code: PROBE + '\nkept = 7\n' }, { owner: OWNER });
    expect(r.stderr).toBe('');
    expectConfined(r.stdout);
    // The agent makes the holder's and the branch's namespaces; the interpreter only joins them.
    const snap = await engine.contexts.createSnapshot(OWNER, r.executionId);
    const live = await engine.execute({ language: 'python', executionId: r.executionId, code: PROBE + '\nprint(kept)' }, { owner: OWNER });
    expect(live.stderr).toBe('');
    expectConfined(live.stdout);
    expect(live.stdout.endsWith('7\n')).toBe(true);
    const branch = await engine.contexts.createBranch(OWNER, snap.id);
    const b = await engine.execute({ language: 'python', executionId: branch.executionId, code: PROBE + '\nkept += 1\nprint(kept)' }, { owner: OWNER });
    expect(b.stderr).toBe('');
    expectConfined(b.stdout);
    expect(b.stdout.endsWith('8\n')).toBe(true);
    // a branch of a branch's snapshot: the same, and memory still independent
    const snap2 = await engine.contexts.createSnapshot(OWNER, branch.executionId);
    const b2 = await engine.contexts.createBranch(OWNER, snap2.id);
    const c = await engine.execute({ language: 'python', executionId: b2.executionId, code: PROBE + '\nprint(kept)' }, { owner: OWNER });
    expect(c.stderr).toBe('');
    expectConfined(c.stdout);
    expect(c.stdout.endsWith('8\n')).toBe(true);
    const origin = await engine.execute({ language: 'python', executionId: r.executionId, code: 'print(kept)' }, { owner: OWNER });
    expect(origin.stdout).toBe('7\n');
  });

  it('a javascript context\'s node runs with no capabilities under the filter, sees ≤ 3 pids, and so do its restores and branches (they fork the held node)', async () => {
    // The node itself: its capability sets, filter and /proc view; the syscall probe runs in a
    // child of it (what node starts inherits its filter and its empty capability sets).
    const JS_PROBE_BODY = [
      'const fs = require("fs");',
      'const st = Object.fromEntries(fs.readFileSync("/proc/self/status", "utf8").split("\\n").filter((l) => l.includes(":\\t")).map((l) => l.split(":\\t").map((x) => x.trim())));',
      'const pids = fs.readdirSync("/proc").filter((d) => /^\\d+$/.test(d)).length;',
      'const child = require("child_process").execFileSync("python3", ["-"], { input: PY_PROBE }).toString();',
      'console.log("NODE " + JSON.stringify({ CapEff: st.CapEff, CapPrm: st.CapPrm, CapBnd: st.CapBnd, CapAmb: st.CapAmb, NoNewPrivs: st.NoNewPrivs, Seccomp: st.Seccomp, pids }));',
      'console.log(child.trim());',
    ].join('\n');
    const JS_PROBE = `{\n${JS_PROBE_BODY}\n}`; // a block: its consts may be declared again by the next run
    const ZERO = '0000000000000000';
    const JS_OWNER = `${OWNER}-js`; // its own key: the per-key family-container quota is the other tests'
    const expectConfined = (stdout: string): void => {
      expectRefused(parseProbe(stdout));
      const line = stdout.split('\n').find((l) => l.startsWith('NODE '));
      expect(line, stdout).toBeDefined();
      const n = JSON.parse(line!.slice(5)) as Record<string, string | number>;
      for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect([set, n[set]]).toEqual([set, ZERO]);
      expect(n.NoNewPrivs).toBe('1');
      expect(n.Seccomp).toBe('2');
      expect(Number(n.pids)).toBeLessThanOrEqual(3); // the context's init, its server, this node
    };
    const run = async (executionId: string | undefined, code: string) => {
      const r = await engine.execute({ language: 'javascript', ...(executionId ? { executionId } : { mode: 'checkpointed' as const }), code }, { owner: JS_OWNER });
      expect(r.stderr).toBe('');
      return r;
    };
    const r = await run(undefined, `globalThis.PY_PROBE = ${JSON.stringify(PROBE)}; globalThis.kept = 7;\n${JS_PROBE}`);
    expectConfined(r.stdout);
    const snap = await engine.contexts.createSnapshot(JS_OWNER, r.executionId);
    expect(snap.hasMemory).toBe(true);
    const live = await run(r.executionId, `${JS_PROBE}\nconsole.log(kept)`);
    expectConfined(live.stdout);
    expect(live.stdout.endsWith('7\n')).toBe(true);
    const branch = await engine.contexts.createBranch(JS_OWNER, snap.id);
    const b = await run(branch.executionId, `${JS_PROBE}\nkept += 1; console.log(kept)`);
    expectConfined(b.stdout);
    expect(b.stdout.endsWith('8\n')).toBe(true);
    const snap2 = await engine.contexts.createSnapshot(JS_OWNER, branch.executionId);
    const b2 = await engine.contexts.createBranch(JS_OWNER, snap2.id);
    const c = await run(b2.executionId, `${JS_PROBE}\nconsole.log(kept)`);
    expectConfined(c.stdout);
    expect(c.stdout.endsWith('8\n')).toBe(true);
    expect((await run(r.executionId, 'console.log(kept)')).stdout).toBe('7\n');
  });

  it('branches of branches nest 15 deep with memory intact; past the kernel\'s nesting limit a typed QUOTA_EXCEEDED, and the context goes on', async () => {
    const r = await engine.execute({ language: 'python', mode: 'checkpointed', code: 'depth = 0' }, { owner: OWNER });
    let id = r.executionId;
    let depth = 0;
    let refused: FaaSError | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      try {
        const snap = await engine.contexts.createSnapshot(OWNER, id);
        const b = await engine.contexts.createBranch(OWNER, snap.id);
        const x = await engine.execute({ language: 'python', executionId: b.executionId, code: 'depth += 1\nprint(depth)' }, { owner: OWNER });
        depth = Number(x.stdout.trim());
        expect(depth).toBe(i + 1);
        id = b.executionId;
      } catch (e) {
        refused = e as FaaSError;
      }
    }
    expect(depth).toBeGreaterThanOrEqual(15);
    expect(refused?.code).toBe('QUOTA_EXCEEDED');
    expect(refused?.message).toMatch(/nest too deeply/);
    const still = await engine.execute({ language: 'python', executionId: id, code: 'print(depth)' }, { owner: OWNER });
    expect(still.stdout).toBe(`${depth}\n`);
  }, 120_000);

  it('hostile code that disables its interpreter\'s capability drop before a snapshot gets a branch with capabilities, and the filter still refuses what they would open', async () => {
    // The holder is the interpreter user code ran in: it can rewrite family.py's functions. Its
    // branch then keeps the capabilities that joining the branch's namespaces gave it.
    const HIJACK = `import gc
n = 0
for o in gc.get_objects():
    if isinstance(o, dict) and "drop_capabilities" in o and "join_namespaces" in o:
        o["drop_capabilities"] = lambda: None
        n += 1
print("hijacked", n)`;
    const r = await engine.execute({ language: 'python', mode: 'checkpointed', code: HIJACK }, { owner: OWNER });
    expect(r.stdout).toBe('hijacked 1\n');
    const snap = await engine.contexts.createSnapshot(OWNER, r.executionId);
    const branch = await engine.contexts.createBranch(OWNER, snap.id);
    const b = await engine.execute({ language: 'python', executionId: branch.executionId, code: PROBE }, { owner: OWNER });
    const p = parseProbe(b.stdout);
    expect(p.CapEff).not.toBe('0000000000000000'); // the hijack worked: it holds capabilities in its own namespaces
    // setns into its own namespaces is a no-op it may do; everything else stays refused
    for (const k of REFUSED.filter((k) => k !== 'setns')) expect([k, p[k]]).toEqual([k, 'EPERM']);
    // the branch keeps its origin's network namespace, over which it holds no capability
    expect(p.sysctl_write).not.toBe('ok');
    expect(p.clone3).toBe('ENOSYS');
    expect(Number(p.pids_seen)).toBeLessThanOrEqual(3);
  });

  it('a bash context runs its programs with no capabilities in any set, and the same refusals', async () => {
    const r = await engine.execute(
      { language: 'bash', mode: 'checkpointed', code: "python3 - <<'PROBE'\n" + PROBE + '\nPROBE\n' },
      { owner: OWNER },
    );
    expect(r.stderr).toBe('');
    const p = parseProbe(r.stdout);
    expectRefused(p);
    for (const set of ['CapEff', 'CapPrm', 'CapBnd', 'CapAmb']) expect([set, p[set]]).toEqual([set, '0000000000000000']);
  });

  it('python, node, typescript, bash and go programs still work in stateful contexts', async () => {
    const runs: [Parameters<DockerSandboxEngine['execute']>[0], string][] = [
      [{ language: 'python', mode: 'checkpointed', code: 'import subprocess\nprint(subprocess.run(["echo", "py"], capture_output=True, text=True).stdout.strip())' }, 'py\n'],
      [{ language: 'javascript', mode: 'checkpointed', code: 'const { execSync } = require("child_process"); console.log(execSync("echo js").toString().trim())' }, 'js\n'],
      [{ language: 'typescript', mode: 'checkpointed', code: 'const n: number = 2; console.log(`ts${n}`)' }, 'ts2\n'],
      [{ language: 'bash', mode: 'checkpointed', code: 'x=$(echo sh); echo "$x"; sleep 0.01 & wait' }, 'sh\n'],
      [{ language: 'go', mode: 'checkpointed', code: 'package main\nimport "fmt"\nfunc main() { fmt.Println("go") }\n', resources: { timeoutMs: 120_000 } }, 'go\n'],
    ];
    for (const [req, out] of runs) {
      const r = await engine.execute(req, { owner: `${OWNER}-${req.language}` }); // a family each: under the per-key quota
      expect([req.language, r.stdout, r.exitCode]).toEqual([req.language, out, 0]);
    }
  }, 240_000);
});

async function rejection(p: Promise<unknown>): Promise<FaaSError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).not.toBeNull();
  return e as FaaSError;
}

const KERNEL = 'import subprocess\nprint(open("/proc/version").read().strip())\nd = subprocess.run(["dmesg"], capture_output=True, text=True)\nprint(d.stdout.splitlines()[:1])';

describe('isolation tiers', () => {
  it('the default is runc: the host kernel, and a request for gvisor is refused naming the field', async () => {
    const r = await engine.execute({ language: 'python', mode: 'cached', code: KERNEL }, { owner: OWNER });
    expect(r.stdout).toContain(release());
    expect(r.stdout).not.toMatch(/gVisor/);
    const e = await rejection(engine.execute({ language: 'python', isolation: 'gvisor', code: 'print(1)' }));
    expect([e.code, (e as FaaSError & { field: string }).field]).toEqual(['RESOURCE_UNAVAILABLE', 'isolation']);
    const bad = await rejection(engine.execute({ language: 'python', isolation: 'kata' as 'gvisor', code: 'print(1)' }));
    expect([bad.code, (bad as FaaSError & { field: string }).field]).toEqual(['VALIDATION_ERROR', 'isolation']);
    expect(() => loadConfig({ FAAS_ALLOWED_ISOLATION: 'runc,kata' })).toThrow(/FAAS_ALLOWED_ISOLATION/);
  });

  describe('where the operator allows gvisor', () => {
    let g: DockerSandboxEngine;
    beforeAll(async () => {
      g = makeEngine({ FAAS_ALLOWED_ISOLATION: 'runc,gvisor', FAAS_PREWARM_LANGUAGES: '' });
      await g.start();
    });
    afterAll(async () => {
      await g?.shutdown();
    });

    it('ephemeral and cached executions run on gVisor\'s kernel; cached containers are keyed by tier', async () => {
      const eph = await g.execute({ language: 'python', isolation: 'gvisor', code: KERNEL }, { owner: OWNER });
      expect([eph.exitCode, eph.stderr]).toEqual([0, '']);
      expect(eph.stdout).toMatch(/Starting gVisor/);
      expect(eph.stdout).not.toContain(release());
      // cached: one owner's gvisor container is reused (HOME persists), and is not its runc one
      const w = await g.execute({ language: 'python', mode: 'cached', isolation: 'gvisor', code: 'open("/home/sandbox/tier", "w").write("gvisor")\n' + KERNEL }, { owner: OWNER });
      expect(w.stdout).toMatch(/Starting gVisor/);
      const again = await g.execute({ language: 'python', mode: 'cached', isolation: 'gvisor', code: 'print(open("/home/sandbox/tier").read())' }, { owner: OWNER });
      expect(again.stdout).toBe('gvisor\n');
      const runc = await g.execute({ language: 'python', mode: 'cached', code: 'import os\nprint(os.path.exists("/home/sandbox/tier"), os.uname().release)' }, { owner: OWNER });
      expect(runc.stdout).toBe(`False ${release()}\n`);
      // bash and javascript too
      const sh = await g.execute({ language: 'bash', isolation: 'gvisor', code: 'dmesg | head -1' }, { owner: OWNER });
      expect(sh.stdout).toMatch(/Starting gVisor/);
      const js = await g.execute({ language: 'javascript', mode: 'cached', isolation: 'gvisor', code: 'console.log(require("fs").readFileSync("/proc/version", "utf8").includes("' + release() + '"))' }, { owner: OWNER });
      expect(js.stdout).toBe('false\n');
    }, 120_000);

    it('terminals are refused under gvisor with a typed error naming the field; typescript and go run (stateful contexts: gvisor-contexts.test.ts)', async () => {
      // gVisor's pty master never reads EIO when the program is gone
      const t = await rejection(g.execute({ language: 'bash', isolation: 'gvisor', code: 'tput cols', tty: { cols: 80, rows: 24 } }, { owner: OWNER }));
      expect([t.code, (t as FaaSError & { field: string }).field]).toEqual(['RESOURCE_UNAVAILABLE', 'tty']);
      // typescript and go do run there
      const ts = await g.execute({ language: 'typescript', isolation: 'gvisor', code: 'const n: number = 3; console.log(`ts${n}`)' }, { owner: OWNER });
      expect(ts.stdout).toBe('ts3\n');
      const go = await g.execute({ language: 'go', isolation: 'gvisor', code: 'package main\nimport "fmt"\nfunc main() { fmt.Println("go") }\n', resources: { timeoutMs: 120_000 } }, { owner: OWNER });
      expect(go.stdout).toBe('go\n');
    }, 120_000);
  });

  it('an operator whose default is gvisor runs requests there, a new stateful context that names no tier too', async () => {
    const cfg = loadConfig({ FAAS_ISOLATION: 'gvisor' });
    expect(cfg.limits.isolation).toEqual({ default: 'gvisor', allowed: ['gvisor'] });
    const g = makeEngine({ FAAS_ISOLATION: 'gvisor', FAAS_PREWARM_LANGUAGES: '' });
    await g.start();
    try {
      const r = await g.execute({ language: 'python', code: KERNEL }, { owner: OWNER });
      expect(r.stdout).toMatch(/Starting gVisor/);
      const c = await g.execute({ language: 'python', mode: 'checkpointed', code: 'x = 1\nprint(open("/proc/version").read())' }, { owner: OWNER });
      expect(c.stdout).not.toContain(release());
      const again = await g.execute({ language: 'python', executionId: c.executionId, code: 'print(x + 1)' }, { owner: OWNER });
      expect(again.stdout).toBe('2\n');
    } finally {
      await g.shutdown();
    }
  }, 60_000);
});

describe('per-uid kernel limits are not shared between tenants', () => {
  it('each container runs as a host uid of its own: one tenant holding every inotify instance its uid may have does not starve another', async () => {
    const ids = await Promise.all(['t1', 't2'].map(async (o) => (await engine.execute({ language: 'bash', mode: 'cached', code: 'id -u' }, { owner: `${OWNER}-${o}` })).stdout.trim()));
    expect(ids[0]).not.toBe(ids[1]);
    const grab = [
      'import ctypes, time',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'n = 0',
      'while libc.inotify_init1(0) >= 0: n += 1',
      'print(n, ctypes.get_errno(), flush=True)',
      'time.sleep(4)',
    ].join('\n');
    const hog = engine.execute({ language: 'python', mode: 'cached', code: grab }, { owner: `${OWNER}-t1` });
    await new Promise((r) => setTimeout(r, 1500));
    const other = await engine.execute({ language: 'python', mode: 'cached', code: 'import ctypes\nprint(ctypes.CDLL(None).inotify_init1(0) >= 0)' }, { owner: `${OWNER}-t2` });
    const h = await hog;
    expect(h.stdout).toMatch(/^\d+ 24\n$/); // EMFILE: it took all its uid may have
    expect(other.stdout).toBe('True\n');
  }, 60_000);
});

describe('family containers are capped at the operator maxima', () => {
  it('memory, disk and processes of a family are at most FAAS_MAX_MEMORY_MB, FAAS_MAX_DISK_MB and FAAS_PIDS_LIMIT', async () => {
    const resources = ResourcesSchema.parse({ memoryMb: 256, diskMb: 256 });
    const family = { contexts: 8, maxMemoryMb: 512, maxDiskMb: 1024, maxPids: 256 };
    const o = containerOptions({ image: 'x', language: 'python', resources, pidsLimit: 256, labels: {}, family });
    expect(o.HostConfig!.Memory).toBe(512 * 1024 * 1024);
    expect(o.HostConfig!.MemorySwap).toBe(512 * 1024 * 1024);
    expect(o.HostConfig!.PidsLimit).toBe(256);
    expect(o.HostConfig!.Tmpfs!['/sandbox']).toMatch(/size=1024m/);
    // under the maxima, the multiplier still applies
    const small = containerOptions({ image: 'x', language: 'python', resources: ResourcesSchema.parse({ memoryMb: 32, diskMb: 16 }), pidsLimit: 16, labels: {}, family });
    expect([small.HostConfig!.Memory, small.HostConfig!.PidsLimit]).toEqual([8 * 32 * 1024 * 1024, 128]);

    // and on the real engine: a family container made by a checkpointed execute
    const e = makeEngine({ FAAS_MAX_MEMORY_MB: '512', FAAS_PIDS_LIMIT: '64', FAAS_PREWARM_LANGUAGES: '' });
    await e.start();
    try {
      const r = await e.execute({ language: 'python', mode: 'checkpointed', code: 'print(1)', resources: { memoryMb: 256 } }, { owner: OWNER });
      expect(r.stdout).toBe('1\n');
      const list = await docker.listContainers({ filters: { label: [`${OWNER_PID_LABEL}=${process.pid}`, `${ROLE_LABEL}=family`] } });
      expect(list.length).toBeGreaterThan(0);
      const mine = await Promise.all(list.map((c) => docker.getContainer(c.Id).inspect()));
      expect(mine.some((i) => i.HostConfig.Memory === 512 * 1024 * 1024 && i.HostConfig.PidsLimit === 64)).toBe(true);
    } finally {
      await e.shutdown();
    }
  }, 60_000);
});

describe('instance network: out to the internet, never to this host or its neighbours', () => {
  let host: Server;
  let port: number;
  beforeAll(async () => {
    host = createServer((s) => s.end('host-secret\n'));
    await new Promise<void>((r) => host.listen(0, '0.0.0.0', r));
    port = (host.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => host.close(r));
  });

  it('the bridge gateway, the host\'s other addresses and 169.254.169.254 are refused at once; loopback works', async () => {
    const gw = await startInstanceGateway({ FAAS_INSTANCE_NETWORK: 'allowed' });
    try {
      const sdk = new FaaSClient({ endpoint: gw.url, apiKey: gw.keys.create('fenced').key });
      const inst = await sdk.instances.start({ network: true, resources: { diskGb: 0.1 } });
      // The REJECT for link-local must be in place before anything is sent there: nothing leaves this machine.
      const rules = execFileSync('iptables', ['-S', 'FAAS-INSTANCES']).toString();
      expect(rules).toMatch(/-d 169\.254\.0\.0\/16 .*-j REJECT/);
      const hostAddrs = execFileSync('ip', ['-4', '-o', 'addr', 'show']).toString().split('\n')
        .map((l) => /inet (\d+\.\d+\.\d+\.\d+)\//.exec(l)?.[1]).filter((a): a is string => !!a && !a.startsWith('127.'));
      expect(hostAddrs.length).toBeGreaterThan(0);
      const gateway = (await sdk.instances.exec(inst.id, { command: "awk '$2==\"00000000\" {print $3}' /proc/net/route" })).stdout.trim();
      const gwIp = gateway.match(/../g)!.reverse().map((h) => parseInt(h, 16)).join('.');
      expect(hostAddrs).toContain(gwIp); // the bridge's gateway is one of the host's addresses
      const targets = [...new Set([gwIp, ...hostAddrs])].map((a) => `('${a}', ${port})`).concat(["('169.254.169.254', 80)"]);
      const probe = `import socket, time, errno
for t in [${targets.join(', ')}]:
    t0 = time.monotonic()
    try:
        socket.create_connection(t, timeout=2).close(); r = 'connected'
    except OSError as e:
        r = errno.errorcode.get(e.errno, 'timeout') if e.errno else 'timeout'
    print(t[0], r, round(time.monotonic() - t0, 2))
`;
      const out = (await sdk.instances.exec(inst.id, { command: `python3 -c "${probe.replace(/"/g, '\\"')}"` })).stdout.trim().split('\n');
      expect(out.length).toBe(targets.length);
      for (const line of out) {
        const [addr, result, secs] = line.split(' ');
        expect([addr, result]).toEqual([addr, 'ECONNREFUSED']);
        expect(Number(secs)).toBeLessThan(1);
      }
      // its own loopback still works
      const lo = await sdk.instances.exec(inst.id, {
        command: "(setsid nohup python3 -m http.server 8001 --bind 127.0.0.1 >/dev/null 2>&1 &); for i in $(seq 50); do python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8001), timeout=1); print('lo ok')\" 2>/dev/null && break; sleep 0.1; done",
      });
      expect(lo.stdout).toMatch(/lo ok/);
      await sdk.instances.stop(inst.id);
    } finally {
      await gw.close();
    }
  }, 120_000);
});
