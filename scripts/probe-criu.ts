// Research probe: Docker checkpoint / restore (CRIU) through the Docker API, with the real
// sandbox settings (containerOptions of src/sandbox/policy.ts, image faas-python:latest).
//   npx tsx scripts/probe-criu.ts [--samples N] [--only case,case] [--keep]
// Needs CRIU 4 where runc finds it (scripts/setup-criu.sh), dockerd with experimental on,
// root (it copies checkpoint folders under Docker's root directory and measures them).
//
// Each case starts a "source" container whose command is replaced by a Python process that holds
// N MiB of random bytes (and, for the fork case, a forked child sharing them copy-on-write), a
// variable with a random value, and a file in the tmpfs /sandbox; every other setting is the
// policy's. It then
//   1. checkpoints it `samples` times with Exit: false (leave running):
//      POST /containers/{id}/checkpoints {CheckpointID, Exit, CheckpointDir?}
//   2. restores each checkpoint into a NEW container created with the same options: the folder
//      copied to <DockerRootDir>/containers/<new id>/checkpoints/<name> (or left where
//      CheckpointDir put it), an attach stream opened before the start, then
//      POST /containers/{id}/start?checkpoint=<name>[&checkpoint-dir=<dir>]
//      and a line written to stdin: the time to the restored process's answer (its variable) is
//      the restore latency. The first restore also checks the memory (a digest of the N MiB, in
//      the parent and in the child), the /sandbox file, and a second attach opened after start.
// Containers carry the label faas.criu-probe=true (not faas.managed) and are removed at the end.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { CRIU_PROBE_LABEL, MANAGED_LABEL, containerOptions, familySeccompProfile } from '../src/sandbox/index.js';

const PROBE_LABEL = CRIU_PROBE_LABEL;

// The process under test. argv: MiB to hold, 1 to fork a child that shares them.
const PROGRAM = `
import hashlib, os, sys
mb = int(sys.argv[1]); forked = sys.argv[2] == '1'
buf = os.urandom(mb << 20)
digest = hashlib.sha1(buf).hexdigest()[:16]
secret = 'v' + os.urandom(6).hex()
with open('/sandbox/probe.txt', 'w') as f:
    f.write(secret)
child = None
if forked:
    r1, w1 = os.pipe(); r2, w2 = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(w1); os.close(r2)
        while os.read(r1, 1):
            os.write(w2, (hashlib.sha1(buf).hexdigest()[:16] + '\\n').encode())
        os._exit(0)
    os.close(r1); os.close(w2)
    from_child = os.fdopen(r2)
def verify():
    try:
        text = open('/sandbox/probe.txt').read()
    except OSError as e:
        text = 'ERR ' + str(e)
    mem = 'ok' if hashlib.sha1(buf).hexdigest()[:16] == digest else 'BAD'
    kid = '-'
    if child:
        os.write(w1, b'q')
        kid = 'ok' if from_child.readline().strip() == digest else 'BAD'
    st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines() if ':' in l)
    sec = ' '.join('%s=%s' % (k, st.get(k, '?').strip().split()[0]) for k in ('Uid', 'CapEff', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters'))
    # What the seccomp filter says to unshare(CLONE_NEWUSER): Docker's default refuses it, the family profile lets it through.
    pid = os.fork()
    if pid == 0:
        import ctypes
        os._exit(0 if ctypes.CDLL(None, use_errno=True).unshare(0x10000000) == 0 else 1)
    userns = 'allowed' if os.waitpid(pid, 0)[1] == 0 else 'refused'
    return 'file=%s mem=%s child=%s %s unshare(NEWUSER)=%s' % ('ok' if text == secret else 'BAD', mem, kid, sec, userns)
print('ready ' + secret, flush=True)
for line in sys.stdin:
    cmd = line.strip()
    print(secret if cmd == 'ping' else verify() if cmd == 'verify' else '?', flush=True)
`;

interface Case {
  name: string;
  mb: number;
  fork?: boolean;
  /** Where checkpoints go: Docker's own folder (then copied for a new container), or CheckpointDir. */
  dir?: 'tmpfs' | 'disk';
  init?: boolean;
  logNone?: boolean;
  seccomp?: boolean;
  /** Checkpoint with Exit: true and restore into the same container (no copy, no create). */
  inPlace?: boolean;
  /** Dump with `runc checkpoint --leave-running` directly (outside Docker's API), restore through it. */
  runc?: boolean;
  restores?: number;
  note: string;
}

const CASES: Case[] = [
  { name: '1mb', mb: 1, note: 'policy as is (Init, json-file log)' },
  { name: '100mb', mb: 100, note: 'policy as is' },
  { name: '100mb-fork', mb: 100, fork: true, note: 'parent + forked child sharing 100 MiB (COW)' },
  { name: '100mb-tmpfs', mb: 100, dir: 'tmpfs', note: 'CheckpointDir on /dev/shm (no copy)' },
  { name: '100mb-disk', mb: 100, dir: 'disk', note: 'CheckpointDir on disk (no copy)' },
  { name: '100mb-runc', mb: 100, runc: true, note: 'dump with runc directly into /dev/shm (NOT the Docker API), restore via the API' },
  { name: '100mb-inplace', mb: 100, inPlace: true, note: 'Exit: true, restore into the same container' },
  { name: '1mb-lognone', mb: 1, logNone: true, restores: 3, note: "LogConfig {Type: 'none'}" },
  { name: '1mb-seccomp', mb: 1, seccomp: true, restores: 3, note: 'SecurityOpt seccomp=<family profile json>' },
  { name: '1mb-noinit', mb: 1, init: false, restores: 3, note: 'Init: false (comparison)' },
];

interface Row {
  c: Case;
  ckptMs: number[];
  sizeMb?: number;
  pagesMb?: number;
  rssSrcMb?: number;
  rssDstMb?: number;
  createMs: number[];
  copyMs: number[];
  startMs: number[];
  answerMs: number[];
  checks: string[];
  error?: string;
}

const argv = process.argv.slice(2);
const argOf = (flag: string): string | undefined => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const SAMPLES = Number(argOf('--samples') ?? 5);
const ONLY = argOf('--only')?.split(',');
const KEEP = argv.includes('--keep');

const docker = new Docker();
const created = new Set<string>();
const scratchDirs = new Set<string>();

function dial(opts: Parameters<Docker['modem']['dial']>[0]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    docker.modem.dial(opts, (err: unknown, data: unknown) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(data)));
  });
}

/** POST /containers/{id}/checkpoints — dockerode has no typed helper. */
async function checkpoint(id: string, name: string, exit: boolean, dir?: string): Promise<void> {
  await dial({
    path: `/containers/${id}/checkpoints`,
    method: 'POST',
    allowEmpty: true,
    statusCodes: { 200: true, 201: true, 204: true, 404: 'no such container', 500: 'server error' },
    options: { CheckpointID: name, Exit: exit, ...(dir ? { CheckpointDir: dir } : {}) },
  });
}

/** POST /containers/{id}/start?checkpoint=<name>[&checkpoint-dir=<dir>] with an empty body. */
async function startFromCheckpoint(id: string, name: string, dir?: string): Promise<void> {
  await dial({
    path: `/containers/${id}/start?`,
    method: 'POST',
    statusCodes: { 204: true, 304: 'container already started', 404: 'no such container', 500: 'server error' },
    options: { _query: { checkpoint: name, ...(dir ? { 'checkpoint-dir': dir } : {}) }, _body: {} },
  });
}

/** Lines of a container's stdout, from an attach stream (Tty false: multiplexed frames). */
class Attached {
  private buf = '';
  private lines: string[] = [];
  private waiter?: () => void;
  stderr = '';
  constructor(readonly stream: Duplex) {
    const out = new PassThrough();
    const err = new PassThrough();
    docker.modem.demuxStream(stream, out, err);
    out.on('data', (b: Buffer) => {
      this.buf += b.toString();
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
      }
      this.waiter?.();
    });
    err.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-2000);
    });
  }

  static async open(container: Docker.Container): Promise<Attached> {
    const s = await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    return new Attached(s as unknown as Duplex);
  }

  async line(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${timeoutMs} ms${this.stderr ? `; stderr: ${this.stderr.trim()}` : ''}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.lines.shift()!;
  }

  async ask(cmd: string, timeoutMs: number): Promise<string> {
    this.stream.write(`${cmd}\n`);
    return this.line(timeoutMs);
  }

  close(): void {
    this.stream.destroy();
  }
}

function optionsFor(c: Case): Docker.ContainerCreateOptions {
  const o = containerOptions({
    image: 'faas-python:latest',
    language: 'python',
    resources: { cpuCores: 1, memoryMb: 512, timeoutMs: 30_000, diskMb: 256, gpuCount: 0 },
    pidsLimit: 64,
    labels: { [PROBE_LABEL]: 'true', [`${PROBE_LABEL}.case`]: c.name },
  });
  const labels = { ...o.Labels };
  delete labels[MANAGED_LABEL]; // not one of the engine's containers
  const hc = { ...o.HostConfig };
  if (c.init === false) hc.Init = false;
  if (c.logNone) hc.LogConfig = { Type: 'none', Config: {} };
  if (c.seccomp) hc.SecurityOpt = [...(hc.SecurityOpt ?? []), `seccomp=${familySeccompProfile()}`];
  return { ...o, Labels: labels, HostConfig: hc, Cmd: ['python3', '-c', PROGRAM, String(c.mb), c.fork ? '1' : '0'] };
}

async function create(opts: Docker.ContainerCreateOptions): Promise<Docker.Container> {
  const ct = await docker.createContainer(opts);
  created.add(ct.id);
  return ct;
}

async function remove(ct: Docker.Container): Promise<void> {
  await ct.remove({ force: true }).catch(() => undefined);
  created.delete(ct.id);
}

function duMb(dir: string): { total: number; pages: number } {
  const kb = Number(execFileSync('du', ['-sk', dir]).toString().split(/\s/)[0]);
  let pages = 0;
  for (const f of readdirSync(dir)) if (f.startsWith('pages-')) pages += statSync(join(dir, f)).size;
  return { total: kb / 1024, pages: pages / 1048576 };
}

const now = (): number => performance.now();

/** Anonymous memory charged to a container's cgroup (rss on cgroup v1, anon on v2), in MiB. */
async function rssMb(ct: Docker.Container): Promise<number | undefined> {
  const st = (await ct.stats({ stream: false })) as { memory_stats?: { stats?: Record<string, number> } };
  const v = st.memory_stats?.stats?.total_rss ?? st.memory_stats?.stats?.rss ?? st.memory_stats?.stats?.anon;
  return v === undefined ? undefined : v / 1048576;
}

/**
 * containerd 1.6 (Debian 12) unpacks every checkpoint it restores into $TMPDIR/ctrd-checkpoint*
 * (here /tmp) and never removes it: a leak of one checkpoint's size per restore. Returns the ones
 * that appeared since `before`.
 */
const CTRD_TMP = '/tmp';
const ctrdDirs = (): Set<string> => new Set(readdirSync(CTRD_TMP).filter((f) => f.startsWith('ctrd-checkpoint')));

/** runc's state directory for Docker's containerd namespace (Docker 20.10: <exec-root>/runtime-runc/moby). */
const RUNC_ROOT = '/var/run/docker/runtime-runc/moby';

async function runCase(row: Row, dockerRoot: string): Promise<void> {
  const c = row.c;
  const opts = optionsFor(c);
  let ckptDir: string | undefined;
  if (c.dir || c.runc) {
    const base = c.dir === 'disk' ? `/var/lib/faas-criu-probe-${process.pid}` : `/dev/shm/faas-criu-probe-${process.pid}`;
    ckptDir = join(base, c.name);
    mkdirSync(ckptDir, { recursive: true });
    scratchDirs.add(base);
  }
  // Docker 20.10 refuses start?checkpoint-dir= (403 "custom checkpointdir is not supported"), so a
  // checkpoint kept outside Docker's folder is restored by making the new container's
  // `checkpoints` folder a symlink to it (a symlink for the checkpoint itself does not work:
  // Docker tars the folder for containerd without following it).
  let useDirParam = !!c.dir;
  const src = await create(opts);
  const folderOf = (id: string, name: string) => (ckptDir ? join(ckptDir, name) : join(dockerRoot, 'containers', id, 'checkpoints', name));
  try {
    let a = await Attached.open(src);
    await src.start();
    const ready = await a.line(120_000);
    const secret = ready.split(' ')[1];
    if (!ready.startsWith('ready ') || !secret) throw new Error(`unexpected first line: ${ready}`);
    row.rssSrcMb = await rssMb(src);
    row.checks.push(`source before: ${await a.ask('verify', 30_000)}`);

    if (c.inPlace) {
      // Checkpoint and stop, then start the same container from it: no create, no copy.
      for (let i = 0; i < SAMPLES; i++) {
        const name = `cp${i}`;
        let t = now();
        await checkpoint(src.id, name, true, ckptDir);
        row.ckptMs.push(now() - t);
        if (i === 0) ({ total: row.sizeMb, pages: row.pagesMb } = duMb(folderOf(src.id, name)));
        await src.wait({ condition: 'not-running' }).catch(() => undefined);
        a.close();
        a = await Attached.open(src);
        const ctrdBefore = ctrdDirs();
        t = now();
        await startFromCheckpoint(src.id, name, ckptDir);
        row.startMs.push(now() - t);
        const got = await a.ask('ping', 10_000);
        row.answerMs.push(now() - t);
        if (got !== secret) throw new Error(`restored process answered ${got}, not ${secret}`);
        for (const d of ctrdDirs()) if (!ctrdBefore.has(d)) rmSync(join(CTRD_TMP, d), { recursive: true, force: true });
      }
      row.checks.push(`restored ${SAMPLES}x in place`, `verify: ${await a.ask('verify', 30_000)}`);
      a.close();
      return;
    }

    for (let i = 0; i < SAMPLES; i++) {
      const t = now();
      if (c.runc) {
        const img = join(ckptDir!, `cp${i}`);
        execFileSync('runc', ['--root', RUNC_ROOT, 'checkpoint', '--leave-running', '--image-path', img, '--work-path', `${img}.work`, src.id]);
        rmSync(`${img}.work`, { recursive: true, force: true });
      } else {
        await checkpoint(src.id, `cp${i}`, false, ckptDir);
      }
      row.ckptMs.push(now() - t);
    }
    ({ total: row.sizeMb, pages: row.pagesMb } = duMb(folderOf(src.id, 'cp0')));
    const still = await a.ask('ping', 10_000);
    row.checks.push(still === secret ? 'source runs on after leave-running' : `source answered ${still}`);
    a.close();

    const restores = Math.min(c.restores ?? SAMPLES, SAMPLES);
    for (let i = 0; i < restores; i++) {
      const name = `cp${i}`;
      let t = now();
      const dst = await create(opts);
      row.createMs.push(now() - t);
      try {
        const b = await Attached.open(dst); // before start: nothing the process writes is lost
        const ctrdBefore = ctrdDirs();
        if (useDirParam) {
          t = now();
          try {
            await startFromCheckpoint(dst.id, name, ckptDir);
            row.startMs.push(now() - t);
          } catch (err) {
            row.checks.push(`start?checkpoint-dir=: ${(err as Error).message.trim()} -> restored through a symlinked checkpoints folder`);
            useDirParam = false;
          }
        }
        if (!useDirParam) {
          t = now();
          const folder = join(dockerRoot, 'containers', dst.id, 'checkpoints');
          if (ckptDir) {
            rmSync(folder, { recursive: true, force: true }); // the new container's own, empty
            symlinkSync(ckptDir, folder);
          } else {
            mkdirSync(folder, { recursive: true });
            cpSync(folderOf(src.id, name), join(folder, name), { recursive: true });
          }
          row.copyMs.push(now() - t);
          t = now();
          await startFromCheckpoint(dst.id, name);
          row.startMs.push(now() - t);
        }
        let got: string;
        try {
          got = await b.ask('ping', 10_000);
        } catch (err) {
          row.checks.push(`attach opened before start: ${(err as Error).message}`);
          b.close();
          const late = await Attached.open(dst);
          got = await late.ask('ping', 10_000);
          row.checks.push('attach opened after start answers');
          late.close();
        }
        row.answerMs.push(now() - t);
        if (got !== secret) throw new Error(`restored process answered ${got}, not ${secret}`);
        const leaked = [...ctrdDirs()].filter((d) => !ctrdBefore.has(d));
        if (i === 0 && leaked[0]) row.checks.push(`containerd left ${join(CTRD_TMP, leaked[0])} (${duMb(join(CTRD_TMP, leaked[0])).total.toFixed(1)} MB) behind; removed`);
        for (const d of leaked) rmSync(join(CTRD_TMP, d), { recursive: true, force: true });
        if (i === 0) {
          row.checks.push(`verify: ${await b.ask('verify', 30_000)}`);
          const late = await Attached.open(dst);
          const again = await late.ask('ping', 10_000).catch((err: Error) => `failed: ${err.message}`);
          row.checks.push(again === secret ? '2nd attach after start ok' : `2nd attach after start: ${again}`);
          late.close();
          row.rssDstMb = await rssMb(dst);
          const info = await dst.inspect();
          row.checks.push(`restored: running=${info.State.Running} init=${info.HostConfig.Init} log=${info.HostConfig.LogConfig?.Type}`);
        }
        b.close();
      } finally {
        if (!KEEP) await remove(dst);
      }
    }
  } finally {
    if (!KEEP) await remove(src);
  }
}

const p50 = (xs: number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (xs: number[]): string => {
  const v = p50(xs);
  return v === undefined ? '-' : v.toFixed(0);
};

function printTable(rows: Row[]): void {
  const head = ['case', 'ckpt ms', 'size MB', 'pages MB', 'rss MB src/rst', 'create ms', 'copy ms', 'restore ms', 'answer ms', 'n'];
  const body = rows.map((r) => [
    r.c.name,
    ms(r.ckptMs),
    r.sizeMb?.toFixed(1) ?? '-',
    r.pagesMb?.toFixed(1) ?? '-',
    `${r.rssSrcMb?.toFixed(0) ?? '-'}/${r.rssDstMb?.toFixed(0) ?? '-'}`,
    ms(r.createMs),
    ms(r.copyMs),
    ms(r.startMs),
    ms(r.answerMs),
    `${r.ckptMs.length}/${r.answerMs.length}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  console.log(fmt(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(fmt(b));
  console.log(
    '\nTimes are p50. ckpt: the checkpoint call (leave running); restore: POST start?checkpoint=; answer: from that call to the' +
      '\nrestored process answering on stdin; copy: placing the checkpoint for the new container; n: checkpoints/restores.',
  );
  for (const r of rows) {
    console.log(`\n${r.c.name}: ${r.c.note}`);
    if (r.error) console.log(`  FAILED: ${r.error}`);
    for (const x of r.checks) console.log(`  ${x}`);
  }
}

async function cleanup(): Promise<void> {
  if (KEEP) return;
  await Promise.all([...created].map((id) => docker.getContainer(id).remove({ force: true }).catch(() => undefined)));
  for (const d of scratchDirs) rmSync(d, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const info = await docker.info();
  const criu = (() => {
    try {
      return execFileSync('criu', ['--version']).toString().split('\n')[0];
    } catch {
      return 'criu not found';
    }
  })();
  console.log(`docker ${info.ServerVersion} (experimental ${info.ExperimentalBuild}), ${criu}, kernel ${info.KernelVersion}, ${info.NCPU} CPUs`);
  console.log(`samples: ${SAMPLES}; image faas-python:latest; options: containerOptions() of src/sandbox/policy.ts, Cmd replaced\n`);
  const rows: Row[] = [];
  for (const c of CASES) {
    if (ONLY && !ONLY.includes(c.name)) continue;
    process.stderr.write(`[probe] ${c.name} ...\n`);
    const row: Row = { c, ckptMs: [], createMs: [], copyMs: [], startMs: [], answerMs: [], checks: [] };
    rows.push(row);
    try {
      await runCase(row, info.DockerRootDir as string);
    } catch (err) {
      row.error = (err as Error).message.trim();
    }
  }
  printTable(rows);
}

process.on('SIGINT', () => {
  void cleanup().finally(() => process.exit(130));
});
main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
