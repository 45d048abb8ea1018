// Issue 13, "crashes and stalls of the operator from inside a sandbox or instance": each case
// comes back with a typed error or a bounded result within a time bound, a normal execution
// works right after, the operator process is the same one, and host memory stays bounded.
// Real Docker throughout: the engine's sandboxes, a container whose agent is hostile (code that
// took over the agent's side of the channel), and a real instance behind the gateway's proxy.
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSClient } from '../../src/index.js';
import { createLogger } from '../../src/log.js';
import { MANAGED_LABEL, OWNER_PID_LABEL, runtimeImageTag } from '../../src/sandbox/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { SandboxContainer } from '../../src/sandbox/container.js';
import { PROTOCOL_VERSION } from '../../src/sandbox/protocol.js';
import type { ExecMessage } from '../../src/sandbox/protocol.js';
import { startInstanceGateway } from '../instances/fixtures.js';
import type { InstanceGateway } from '../instances/fixtures.js';
import { docker, makeEngine } from '../helpers.js';
import { useLocalhostNames } from '../localhost.js';

const PID = process.pid;
const log = createLogger(process.env.FAAS_LOG_LEVEL ?? 'warn', 'test-hostile');

/** The call settles within `ms` (a stall fails the test, not the suite's timeout). */
async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t0 = Date.now();
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
    expect(Date.now() - t0).toBeLessThan(ms);
  }
}

const rssMb = () => process.memoryUsage().rss / 2 ** 20;

// ---- 2. the agent's channel cannot be opened by user code --------------------------------

/**
 * Python that tries to open, for writing, PID 1's stdio and every fd of every other process it
 * can see (the agent, the zygote, waiting spares; in a context, the family agent and holders).
 */
const OPEN_CHANNEL = `
import os
def me(p):
    # this process, seen under the container's pid numbering (a context has a PID namespace of its own)
    try:
        nspid = [l for l in open('/proc/%s/status' % p) if l.startswith('NSpid:')][0].split()
        return int(nspid[-1]) == os.getpid() and os.readlink('/proc/%s/ns/pid' % p) == os.readlink('/proc/self/ns/pid')
    except (OSError, IndexError):
        return False
def cmd(p):
    try:
        return open('/proc/%s/cmdline' % p, 'rb').read().replace(b'\\0', b' ').decode()
    except OSError:
        return ''
others = [p for p in os.listdir('/proc') if p.isdigit() and not me(p)]
agents = [p for p in others if p == '1' or 'agent.py' in cmd(p) or 'family.py' in cmd(p)]
targets = ['/proc/1/fd/0', '/proc/1/fd/1', '/proc/1/fd/2']
for p in others:
    try:
        targets += ['/proc/%s/fd/%s' % (p, fd) for fd in os.listdir('/proc/%s/fd' % p)]
    except OSError:
        targets += ['/proc/%s/fd/%d' % (p, fd) for fd in range(0, 8)]
opened = []
for t in sorted(set(targets)):
    try:
        fd = os.open(t, os.O_WRONLY | os.O_NONBLOCK)
        opened.append('%s (%s)' % (t, cmd(t.split('/')[2])[:60]))
        os.close(fd)
    except OSError:
        pass
print('tried', len(set(targets)), 'agents', len(agents), 'opened', opened)
`;

/** 64 threads at once write forged frames (a result for every id, garbage, a huge header) into whatever they can open. */
const FORGE = `
import os, json, struct, threading
def frame(o):
    b = json.dumps(o).encode()
    return struct.pack('>I', len(b)) + b
forged = frame({'type': 'result', 'id': 'forged', 'exitCode': 0, 'signal': None, 'timedOut': False, 'oomKilled': False,
                'killed': False, 'truncated': False, 'stdout': '', 'stderr': '', 'durationMs': 0, 'cpuSeconds': 0, 'memoryPeakMb': 0})
payload = forged + struct.pack('>I', 0xfffffff0) + b'x' * 4096
def me(p):
    try:
        nspid = [l for l in open('/proc/%s/status' % p) if l.startswith('NSpid:')][0].split()
        return int(nspid[-1]) == os.getpid() and os.readlink('/proc/%s/ns/pid' % p) == os.readlink('/proc/self/ns/pid')
    except (OSError, IndexError):
        return False
paths = ['/proc/1/fd/1', '/proc/1/fd/0'] + ['/proc/%s/fd/%d' % (p, fd) for p in os.listdir('/proc') if p.isdigit() and not me(p) for fd in range(0, 20)]
wrote = []
def attack():
    for path in paths:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(fd, payload)
            wrote.append(path)
        except OSError:
            pass
        finally:
            os.close(fd)
threads = [threading.Thread(target=attack) for _ in range(64)]
for t in threads: t.start()
for t in threads: t.join()
print('forged writes', len(wrote))
`;

describe('hostile sandbox code against the engine', () => {
  let engine: DockerSandboxEngine;
  beforeAll(async () => {
    engine = makeEngine({ FAAS_PREWARM_LANGUAGES: 'python' });
    await engine.start();
  });
  afterAll(async () => {
    await engine?.contexts.purge();
    await engine?.shutdown();
  });

  const normal = async (owner: string) => {
    const r = await within(30_000, engine.execute({ language: 'python', mode: 'ephemeral', code: 'print(6 * 7)' }, { owner }));
    expect([r.exitCode, r.stdout]).toEqual([0, '42\n']);
  };

  for (const mode of ['ephemeral', 'cached', 'checkpointed'] as const) {
    it(`${mode}: user code cannot open /proc/1/fd/0,1,2 or the agent's fds for writing`, async () => {
      const r = await within(60_000, engine.execute({ language: 'python', mode, code: OPEN_CHANNEL }, { owner: `o-${mode}` }));
      expect(r.stderr).toBe('');
      const m = /tried (\d+) agents (\d+) opened (.*)$/m.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(3);
      expect(Number(m![2])).toBeGreaterThanOrEqual(1);
      expect(m![3]).toBe('[]');
    });

    it(`${mode}: 64 threads forging frames at once get nowhere; the execution's result is its own`, async () => {
      const r = await within(60_000, engine.execute({ language: 'python', mode, code: `${FORGE}\nprint('done')` }, { owner: `f-${mode}` }));
      expect([r.exitCode, r.stderr]).toEqual([0, '']);
      expect(r.stdout).toBe('forged writes 0\ndone\n');
      await normal(`f-${mode}`);
      expect(process.pid).toBe(PID);
    });
  }

  it('a snapshot bigger than the frame cap is moved in bounded slices, both ways', async () => {
    const small = makeEngine({ FAAS_PREWARM_LANGUAGES: '', FAAS_MAX_FRAME_BYTES: String(8 << 20) });
    await small.start();
    try {
      // 24 MiB of incompressible files: as one frame (32 MiB of base64) it would be over the cap.
      const r = await within(60_000, small.execute({
        language: 'python', mode: 'checkpointed', resources: { diskMb: 256, memoryMb: 512 },
        code: 'import os\nfor i in range(3): open("blob%d" % i, "wb").write(os.urandom(8 << 20))\nimport hashlib\nprint(hashlib.sha256(b"".join(open("blob%d" % i, "rb").read() for i in range(3))).hexdigest())',
      }, { owner: 'snap' }));
      expect(r.exitCode).toBe(0);
      const digest = r.stdout.trim();
      const snap = await within(120_000, small.createSnapshot('snap', r.executionId));
      expect(snap.sizeBytes).toBeGreaterThanOrEqual(24 << 20);
      await small.contexts.purge(); // the family container is lost: the files come back from the store
      const back = await within(120_000, small.restoreSnapshot('snap', snap.id));
      expect(back.hasMemory).toBe(false);
      const check = await within(60_000, small.execute({
        language: 'python', executionId: back.executionId,
        code: 'import hashlib\nprint(hashlib.sha256(b"".join(open("blob%d" % i, "rb").read() for i in range(3))).hexdigest())',
      }, { owner: 'snap' }));
      expect(check.stdout.trim()).toBe(digest);
    } finally {
      await small.contexts.purge();
      await small.shutdown();
    }
  });
});

// ---- 3. a hostile agent side: frames over the cap, output over the cap, floods -------------

/**
 * An agent for a container of our own (the sandbox image and policy, a different program as
 * its main process): what code that had taken over the agent's side could send. It answers
 * each exec by what the code asks for.
 */
const HOSTILE_AGENT = `
import json, os, struct, sys, base64
def send(o):
    b = json.dumps(o).encode()
    os.write(1, struct.pack('>I', len(b)) + b)
def result(i, out, err=b''):
    send({'type': 'result', 'id': i, 'exitCode': 0, 'signal': None, 'timedOut': False, 'oomKilled': False, 'killed': False,
          'truncated': False, 'stdout': base64.b64encode(out).decode(), 'stderr': base64.b64encode(err).decode(),
          'durationMs': 1, 'cpuSeconds': 0, 'memoryPeakMb': 1})
send({'type': 'hello', 'version': ${PROTOCOL_VERSION}, 'language': 'python', 'pid': os.getpid()})
buf = b''
while True:
    c = os.read(0, 65536)
    if not c:
        break
    buf += c
    while len(buf) >= 4:
        (n,) = struct.unpack('>I', buf[:4])
        if len(buf) < 4 + n:
            break
        m, buf = json.loads(buf[4:4 + n]), buf[4 + n:]
        if m.get('type') == 'ping':
            send({'type': 'pong', 'seq': m.get('seq')})
        if m.get('type') != 'exec':
            continue
        i, what = m['id'], m['code']
        if what == 'normal':
            result(i, b'42\\n')
        elif what == 'big-result':
            result(i, b'A' * (8 << 20), b'B' * (3 << 20))
        elif what == 'flood-output':
            chunk = base64.b64encode(b'C' * (1 << 20)).decode()
            for _ in range(100):
                send({'type': 'output', 'id': i, 'stream': 'stdout', 'data': chunk})
            result(i, b'done')
        elif what == 'oversized':
            os.write(1, struct.pack('>I', 600 << 20))
            zeros = b'\\0' * (1 << 20)
            try:
                for _ in range(64):
                    os.write(1, zeros)
            except OSError:
                pass
        elif what == 'garbage':
            for g in (b'{"type": "result", "i', b'\\xff\\xfe\\x00{]', b'{"type": "result", "id": 7}', b'[]', b''):
                os.write(1, struct.pack('>I', len(g)) + g)
            result(i, b'after garbage')
`;

function hostileOptions(): Docker.ContainerCreateOptions {
  return {
    Image: runtimeImageTag('python'),
    Cmd: ['python3', '-c', HOSTILE_AGENT],
    User: '65534:65534',
    Labels: { [MANAGED_LABEL]: 'true', [OWNER_PID_LABEL]: String(process.pid) },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Memory: 512 << 20, PidsLimit: 64 },
  };
}

const MAX_OUT = 1 << 20;
const execMsg = (id: string, code: string, stream = false): ExecMessage => ({
  type: 'exec', id, language: 'python', code, env: {}, files: {}, stdin: '', timeoutMs: 20_000, maxOutputBytes: MAX_OUT, stream,
});

describe('a hostile agent side against the host', () => {
  let sc: SandboxContainer;
  const fresh = async () => {
    sc = await SandboxContainer.start(docker, hostileOptions(), 'python', log, 16 << 20);
    return sc;
  };
  afterAll(async () => {
    await sc?.destroy();
  });

  it('a result over maxOutputBytes is cut to it by the host (truncated), whatever the agent claims', async () => {
    await fresh();
    const before = rssMb();
    const r = await within(20_000, sc.exec(execMsg('big', 'big-result')));
    expect(Buffer.from(r.stdout, 'base64').length).toBe(MAX_OUT);
    expect(Buffer.from(r.stderr, 'base64').length).toBe(MAX_OUT);
    expect(r.truncated).toBe(true);
    expect((await sc.exec(execMsg('n1', 'normal'))).stdout).toBe(Buffer.from('42\n').toString('base64'));
    expect(rssMb() - before).toBeLessThan(200);
  });

  it('100 MiB of streamed output: the host passes on maxOutputBytes and drops the rest, memory bounded', async () => {
    let passed = 0;
    const before = rssMb();
    const r = await within(60_000, sc.exec(execMsg('flood', 'flood-output', true), { onOutput: (_s, b) => (passed += b.length) }));
    expect(passed).toBe(MAX_OUT);
    expect(Buffer.from(r.stdout, 'base64').toString()).toBe('done');
    expect(rssMb() - before).toBeLessThan(200);
    expect((await sc.exec(execMsg('n2', 'normal'))).exitCode).toBe(0);
  });

  it('garbled frames are dropped; the channel carries on', async () => {
    const r = await within(20_000, sc.exec(execMsg('g', 'garbage')));
    expect(Buffer.from(r.stdout, 'base64').toString()).toBe('after garbage');
  });

  it('a frame announced at 600 MiB ends that sandbox with a SandboxError, never the process; memory bounded', async () => {
    const before = rssMb();
    const err = await within(20_000, sc.exec(execMsg('huge', 'oversized')).then(() => null, (e: unknown) => e));
    expect(err).toMatchObject({ code: 'SANDBOX_ERROR' });
    expect((err as Error).message).toMatch(/over the host's cap/);
    expect(sc.alive).toBe(false);
    expect(rssMb() - before).toBeLessThan(200);
    // the container is gone, and a new one works
    const id = sc.container.id;
    await sc.destroy();
    await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await fresh();
    expect((await within(20_000, sc.exec(execMsg('n3', 'normal')))).exitCode).toBe(0);
    expect(process.pid).toBe(PID);
  });
});

// ---- 1. malformed upstream responses through the exposed-URL proxy -------------------------

/** A raw TCP server in the instance: the status line each path asks for. */
const RAW_HTTP = `
import socket, threading
LINES = {'/ctl': b'HTTP/1.1 200 O\\x01K', '/low': b'HTTP/1.1 099 Low', '/big': b'HTTP/1.1 1000 Big', '/del': b'HTTP/1.1 200 O\\x7fK',
         '/ok': b'HTTP/1.1 200 OK', '/garbage': b'\\x00\\xff not http at all'}
def serve(c):
    try:
        req = b''
        while b'\\r\\n\\r\\n' not in req:
            d = c.recv(4096)
            if not d:
                return
            req += d
        path = req.split(b' ')[1].decode()
        c.sendall(LINES.get(path, b'HTTP/1.1 404 Nope') + b'\\r\\ncontent-length: 2\\r\\nconnection: close\\r\\n\\r\\nok')
    finally:
        c.close()
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 8088))
s.listen(64)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

describe('a hostile instance behind the exposed-URL proxy', () => {
  useLocalhostNames(); // exposed URLs are <instance>-<name>.localhost, resolved as a browser would
  let gw: InstanceGateway;
  let key: string;
  let sdk: FaaSClient;
  let url: string;
  beforeAll(async () => {
    gw = await startInstanceGateway();
    key = gw.keys.create('hostile').key;
    sdk = new FaaSClient({ endpoint: gw.url, apiKey: key, timeout: 60_000 });
    const inst = await sdk.instances.start({ resources: { cpuCores: 1, memoryMb: 512, diskGb: 0.5 }, ttl: 600 });
    await sdk.instances.exec(inst.id, {
      command: `cat > ~/raw.py && (setsid nohup python3 ~/raw.py >~/raw.log 2>&1 &) && for i in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 8088))" 2>/dev/null && break; sleep 0.05; done`,
      stdin: RAW_HTTP,
    });
    url = (await sdk.instances.expose(inst.id, { name: 'raw', port: 8088 })).url;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('a malformed status line (control character, status < 100 or > 999, not HTTP) is answered 502; the gateway keeps serving', async () => {
    const get = async (path: string) => {
      const r = await within(20_000, fetch(`${url}${path.slice(1)}`, { headers: { authorization: `Bearer ${key}` } }));
      return { status: r.status, body: await r.text() };
    };
    for (const path of ['/ctl', '/low', '/big', '/del', '/garbage', '/ctl', '/low']) {
      const r = await get(path);
      expect(r.status, path).toBe(502);
      expect(JSON.parse(r.body)).toMatchObject({ code: 'SANDBOX_ERROR' });
    }
    expect(await get('/ok')).toEqual({ status: 200, body: 'ok' });
    const health = await fetch(`${gw.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(process.pid).toBe(PID);
  });
});
