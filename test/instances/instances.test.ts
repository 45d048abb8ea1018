// Persistent instances against the real engine and the devbox image: lifecycle, SSH (stock
// `ssh` and ssh2), exposed URLs (HTTP and WebSocket), port forwards, pause/resume, ttl and
// idle stops, one key's instances invisible to another, limits, and an operator restart.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'ssh2';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConflictError, FaaSClient, NotFoundError, ResourceUnavailableError } from '../../src/index.js';
import type { InstanceInfo, SshInfo } from '../../src/api/index.js';
import { MANAGED_LABEL, ROLE_LABEL } from '../../src/sandbox/labels.js';
import { docker } from '../helpers.js';
import { containersOf, sleep, startInstanceGateway } from './fixtures.js';
import type { InstanceGateway } from './fixtures.js';
import { localhostLookup, useLocalhostNames } from '../localhost.js';

// Exposed URLs are `<instance>-<name>.localhost:<port>`: resolved as a browser would.
useLocalhostNames();

const run = promisify(execFile);
let gw: InstanceGateway;
let key: string;
let sdk: FaaSClient;
let other: FaaSClient;
let otherKey: string;
let inst: InstanceInfo;
let ssh: SshInfo;
const tmp = mkdtempSync(join(tmpdir(), 'faas-inst-test-'));
const keyFile = join(tmp, 'id_ed25519');

beforeAll(async () => {
  gw = await startInstanceGateway();
  key = gw.keys.create('owner').key;
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: key, timeout: 60_000 });
  otherKey = gw.keys.create('other').key;
  other = new FaaSClient({ endpoint: gw.url, apiKey: otherKey });
  inst = await sdk.instances.start({ resources: { cpuCores: 1, memoryMb: 512, diskGb: 0.5 }, ttl: 600 });
  ssh = await sdk.instances.getSshInfo(inst.id);
  writeFileSync(keyFile, ssh.privateKey!, { mode: 0o600 });
});

afterAll(async () => {
  await gw?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs a command over SSH with ssh2; stdout. */
function ssh2Exec(info: { host: string; port: number; username: string }, privateKey: string, command: string): Promise<{ out: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () =>
      c.exec(command, (err, s) => {
        if (err) return reject(err);
        let out = '';
        s.on('data', (b: Buffer) => (out += b.toString()));
        s.stderr.on('data', () => undefined);
        s.on('close', (code: number | null) => {
          c.end();
          resolve({ out, code });
        });
      }),
    );
    c.on('error', reject);
    c.connect({ host: info.host, port: info.port, username: info.username, privateKey, readyTimeout: 20_000 });
  });
}

const sshArgs = (port: number, knownHosts: string) => ['-i', keyFile, '-p', String(port), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'ConnectTimeout=20'];

describe('start, get, list, SSH', () => {
  it('starts an instance: id, status, times, resources; get and list show it', async () => {
    expect(inst).toMatchObject({ status: 'running', language: 'python', network: false, resources: { cpuCores: 1, memoryMb: 512, diskGb: 0.5, gpuCount: 0 } });
    expect(Date.parse(inst.expiresAt) - Date.parse(inst.createdAt)).toBe(600_000);
    expect((await sdk.instances.get(inst.id)).status).toBe('running');
    expect((await sdk.instances.list()).map((i) => i.id)).toContain(inst.id);
    // The container: sandbox policy, labelled persistent, no published port, no log.
    const info = await docker.getContainer((await containersOf(gw))[0]!).inspect();
    expect(info.Config.User).toBe('65534:65534');
    expect(info.Config.Labels[ROLE_LABEL]).toBe('persistent');
    expect(info.Config.Labels[MANAGED_LABEL]).toBe('true');
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.HostConfig.LogConfig?.Type).toBe('none');
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    expect(Object.keys(info.NetworkSettings.Ports ?? {})).toEqual([]);
  });

  it('SSH info: host, port, user, an ed25519 private key given once, the host key', async () => {
    expect(ssh).toMatchObject({ host: '127.0.0.1', username: 'sandbox' });
    expect(ssh.privateKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----/);
    expect(ssh.hostKey).toMatch(/^ssh-ed25519 /);
    const again = await sdk.instances.getSshInfo(inst.id);
    expect(again.privateKey).toBeNull();
    expect(again.port).toBe(ssh.port);
    expect((await run('ssh-keygen', ['-l', '-f', keyFile])).stdout).toContain(ssh.fingerprint);
  });

  it('the stock ssh client runs a command (host key checked), password login is refused', async () => {
    const kh = join(tmp, 'known_hosts');
    writeFileSync(kh, `[${ssh.host}]:${ssh.port} ${ssh.hostKey}\n`);
    const r = await run('ssh', [...sshArgs(ssh.port, kh), `${ssh.username}@${ssh.host}`, 'echo hello from $(id -u) in $HOME; uname -s'], { timeout: 30_000 });
    expect(r.stdout).toBe('hello from 65534 in /home/sandbox\nLinux\n');
    const pw = await run('ssh', ['-p', String(ssh.port), '-o', 'BatchMode=no', '-o', 'PubkeyAuthentication=no', '-o', 'PreferredAuthentications=password,keyboard-interactive', '-o', `UserKnownHostsFile=${kh}`, '-o', 'NumberOfPasswordPrompts=1', `${ssh.username}@${ssh.host}`, 'true'], { timeout: 30_000 }).catch((e: { stderr: string; code: number }) => e);
    expect((pw as { code: number }).code).toBe(255);
    expect((pw as { stderr: string }).stderr).toMatch(/Permission denied \(publickey\)/);
  });

  it('ssh2 from node runs a command', async () => {
    const r = await ssh2Exec(ssh, ssh.privateKey!, 'python3 -c "print(6 * 7)"');
    expect(r).toEqual({ out: '42\n', code: 0 });
  });

  it('no outbound network: only the loopback interface', async () => {
    const r = await sdk.instances.exec(inst.id, { command: 'ls /sys/class/net' });
    expect(r.stdout.trim()).toBe('lo');
  });
});

describe('exposed URLs and port forwards', () => {
  it('serves python3 -m http.server through the exposed URL, for the owner key or the URL token only', async () => {
    await sdk.instances.exec(inst.id, { command: 'mkdir -p ~/site && echo "hi from the instance" > ~/site/hello.txt && (setsid nohup python3 -m http.server 8000 --bind 127.0.0.1 --directory ~/site >/dev/null 2>&1 &) && for i in $(seq 100); do python3 -c "import socket; socket.create_connection((\'127.0.0.1\', 8000))" 2>/dev/null && break; sleep 0.05; done' });
    const e = await sdk.instances.expose(inst.id, { name: 'web', port: 8000 });
    expect(e.url).toBe(`http://${inst.id}-web.localhost:${new URL(gw.url).port}/`);
    expect(`${e}`).toBe(e.url); // prints as its URL, as the README shows
    const withKey = await fetch(`${e.url}hello.txt`, { headers: { authorization: `Bearer ${key}` } });
    expect([withKey.status, await withKey.text()]).toEqual([200, 'hi from the instance\n']);
    const none = await fetch(`${e.url}hello.txt`);
    expect(none.status).toBe(401);
    const wrong = await fetch(`${e.url}hello.txt?faas_token=nope`);
    expect(wrong.status).toBe(401);
    const withToken = await fetch(`${e.url}hello.txt?faas_token=${e.token}`);
    expect([withToken.status, await withToken.text()]).toEqual([200, 'hi from the instance\n']);
    const cookie = withToken.headers.get('set-cookie')!;
    expect(cookie).toMatch(new RegExp(`^faas_token=${e.token}; Path=/; HttpOnly`));
    const withCookie = await fetch(`${e.url}hello.txt`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
    // The directory listing's links are relative: the prefix stays out of the app's way.
    expect(await (await fetch(e.url, { headers: { authorization: `Bearer ${key}` } })).text()).toContain('href="hello.txt"');
    // Another key: 404, as for an instance that does not exist.
    const byOther = await fetch(`${e.url}hello.txt`, { headers: { authorization: `Bearer ${otherKey}` } });
    expect(byOther.status).toBe(404);
    // The old path form on the gateway: redirected to the exposure's own host.
    const bare = await fetch(`${gw.url}/i/${inst.id}/web`, { redirect: 'manual', headers: { authorization: `Bearer ${key}` } });
    expect([bare.status, bare.headers.get('location')]).toEqual([308, e.url]);
    // A port nobody listens on: 502 naming it.
    const nothing = await sdk.instances.expose(inst.id, { name: 'nothing', port: 8999 });
    const dead = await fetch(nothing.url, { headers: { authorization: `Bearer ${key}` } });
    expect(dead.status).toBe(502);
    expect(((await dead.json()) as { message: string }).message).toMatch(/port 8999/);
  });

  it('a WebSocket echo through the exposed URL (text and binary)', async () => {
    const server = [
      'import asyncio, tornado.web, tornado.websocket',
      'class Echo(tornado.websocket.WebSocketHandler):',
      '    def check_origin(self, origin): return True',
      '    def on_message(self, m): self.write_message(("echo: " + m) if isinstance(m, str) else m[::-1], binary=not isinstance(m, str))',
      'async def main():',
      '    tornado.web.Application([(r"/ws", Echo)]).listen(8765, address="127.0.0.1")',
      '    await asyncio.Event().wait()',
      'asyncio.run(main())',
    ].join('\n');
    await sdk.instances.exec(inst.id, { command: `cat > ~/echo.py && (setsid nohup python3 ~/echo.py >~/echo.log 2>&1 &) && for i in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 8765))" 2>/dev/null && break; sleep 0.05; done`, stdin: server });
    const e = await sdk.instances.expose(inst.id, { name: 'echo', port: 8765 });
    const ws = new WebSocket(`${e.url.replace('http', 'ws')}ws?faas_token=${e.token}`, { lookup: localhostLookup as never });
    const got: Array<string | Buffer> = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => {
        ws.send('hello');
        ws.send(Buffer.from([1, 2, 3, 255]));
      });
      ws.on('message', (m, isBinary) => {
        got.push(isBinary ? (m as Buffer) : m.toString());
        if (got.length === 2) resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    expect(got[0]).toBe('echo: hello');
    expect([...(got[1] as Buffer)]).toEqual([255, 3, 2, 1]);
    // Without a credential the upgrade is refused.
    const refused = await new Promise<number>((resolve) => {
      const w = new WebSocket(`${e.url.replace('http', 'ws')}ws`, { lookup: localhostLookup as never });
      w.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      w.on('open', () => resolve(101));
      w.on('error', () => undefined);
    });
    expect(refused).toBe(401);
  });

  it('a TCP echo through a port forward; close() ends it', async () => {
    const echo = "import socketserver\nclass H(socketserver.BaseRequestHandler):\n    def handle(self):\n        while True:\n            d = self.request.recv(65536)\n            if not d: break\n            self.request.sendall(d)\nsocketserver.ThreadingTCPServer.allow_reuse_address = True\nsocketserver.ThreadingTCPServer(('127.0.0.1', 9000), H).serve_forever()\n";
    await sdk.instances.exec(inst.id, { command: `cat > ~/tcpecho.py && (setsid nohup python3 ~/tcpecho.py >/dev/null 2>&1 &) && for i in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 9000))" 2>/dev/null && break; sleep 0.05; done`, stdin: echo });
    const fwd = await sdk.instances.createPortForward(inst.id, { localPort: 0, remotePort: 9000 });
    expect(fwd.localPort).toBeGreaterThan(0);
    const payload = Buffer.alloc(1 << 20);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const roundTrip = (data: Buffer) =>
      new Promise<Buffer>((resolve, reject) => {
        const sock: Socket = connect(fwd.localPort, '127.0.0.1');
        const parts: Buffer[] = [];
        let n = 0;
        sock.on('data', (b: Buffer) => {
          parts.push(b);
          n += b.length;
          if (n >= data.length) {
            sock.end();
            resolve(Buffer.concat(parts));
          }
        });
        sock.on('error', reject);
        sock.write(data);
      });
    expect((await roundTrip(Buffer.from('ping\n'))).toString()).toBe('ping\n');
    const [a, b] = await Promise.all([roundTrip(payload), roundTrip(Buffer.from('second connection'))]);
    expect(a.equals(payload)).toBe(true);
    expect(b.toString()).toBe('second connection');
    await fwd.close();
    const refused = await new Promise<string>((resolve) => {
      const s = connect(fwd.localPort, '127.0.0.1');
      s.on('connect', () => resolve('connected'));
      s.on('error', (err: Error & { code?: string }) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
  });
});

describe('pause and resume, keys, limits', () => {
  it('pause freezes a counter (and its CPU use); resume continues it from where it stopped', async () => {
    await sdk.instances.exec(inst.id, { command: "setsid nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i > /sandbox/tmp/count.new; mv /sandbox/tmp/count.new /sandbox/tmp/count; done' >/dev/null 2>&1 & echo $! > /sandbox/tmp/counter.pid" });
    const count = async () => Number((await sdk.instances.exec(inst.id, { command: 'cat /sandbox/tmp/count' })).stdout.trim());
    await sleep(300);
    const before = await count();
    const t0 = performance.now();
    expect((await sdk.instances.pause(inst.id)).status).toBe('paused');
    const pauseMs = performance.now() - t0;
    const cpu0 = (await sdk.instances.get(inst.id)).usage.cpuSeconds;
    await sleep(800);
    const paused = await sdk.instances.get(inst.id);
    expect(paused.status).toBe('paused');
    expect(paused.usage.cpuSeconds - cpu0).toBeLessThan(0.02); // a paused instance uses (and is billed) no CPU
    expect(paused.usage.pausedSeconds).toBeGreaterThan(0.7);
    await expect(sdk.instances.exec(inst.id, { command: 'true' })).rejects.toBeInstanceOf(ConflictError);
    const t1 = performance.now();
    expect((await sdk.instances.resume(inst.id)).status).toBe('running');
    const resumeMs = performance.now() - t1;
    const after = await count();
    await sleep(300);
    const later = await count();
    expect(after).toBeGreaterThanOrEqual(before);
    expect(later).toBeGreaterThan(after);
    expect((await sdk.instances.get(inst.id)).usage.cpuSeconds - cpu0).toBeGreaterThan(0.1);
    await sdk.instances.exec(inst.id, { command: 'kill $(cat /sandbox/tmp/counter.pid)' });
    process.stdout.write(`pause ${pauseMs.toFixed(1)} ms, resume ${resumeMs.toFixed(1)} ms (through the SDK)\n`);
  });

  it("another key sees none of this key's instances (404 everywhere)", async () => {
    await expect(other.instances.get(inst.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.instances.getSshInfo(inst.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.instances.expose(inst.id, { name: 'x', port: 1 })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.instances.exec(inst.id, { command: 'true' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.instances.pause(inst.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.instances.stop(inst.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.instances.createPortForward(inst.id, { localPort: 0, remotePort: 9000 })).rejects.toBeInstanceOf(NotFoundError);
    expect(await other.instances.list()).toEqual([]);
    const ws = await new Promise<number>((resolve) => {
      const w = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/instances/${inst.id}/tunnel?port=9000`, { headers: { authorization: `Bearer ${otherKey}` } });
      w.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      w.on('open', () => resolve(101));
      w.on('error', () => undefined);
    });
    expect(ws).toBe(404);
  });

  it('refuses what the operator does not offer, naming the field; diskGb is enforced', async () => {
    const over = await sdk.instances.start({ resources: { diskGb: 64 } }).catch((e: unknown) => e);
    expect(over).toBeInstanceOf(ResourceUnavailableError);
    expect(over).toMatchObject({ code: 'RESOURCE_UNAVAILABLE', field: 'resources.diskGb' });
    await expect(sdk.instances.start({ network: true })).rejects.toMatchObject({ code: 'RESOURCE_UNAVAILABLE', field: 'network' });
    await expect(sdk.instances.start({ resources: { gpuCount: 1 } })).rejects.toMatchObject({ field: 'resources.gpuCount' });
    await expect(sdk.instances.start({ ttl: 10 ** 9 })).rejects.toMatchObject({ field: 'ttl' });
    await expect(sdk.instances.start({ colour: 'red' } as never)).rejects.toMatchObject({ code: 'VALIDATION_ERROR', field: 'colour' });
    // The disk is 0.5 GiB: writing 600 MiB fails with ENOSPC, the instance carries on.
    const r = await sdk.instances.exec(inst.id, { command: 'dd if=/dev/zero of=~/big bs=1M count=600 2>&1; rm -f ~/big; echo alive' });
    expect(r.stdout).toMatch(/No space left on device/);
    expect(r.stdout).toMatch(/alive\n$/);
  });
});

describe('from a snapshot', () => {
  it("an instance started from a snapshot has the snapshot's files in /workspace; another key's snapshot is NOT_FOUND", async () => {
    const ctx = await sdk.execute({ language: 'python', mode: 'checkpointed', code: 'import os\nos.makedirs("data")\nopen("data/notes.txt", "w").write("from the snapshot")\nos.chmod("data/notes.txt", 0o640)' });
    const snap = await sdk.createSnapshot(ctx.executionId);
    await expect(other.instances.start({ snapshotId: snap.id })).rejects.toBeInstanceOf(NotFoundError);
    const fromSnap = await sdk.instances.start({ snapshotId: snap.id, resources: { memoryMb: 256, diskGb: 0.25 }, ttl: 300 });
    try {
      const r = await sdk.instances.exec(fromSnap.id, { command: 'cat /workspace/data/notes.txt; echo; stat -c %a /workspace/data/notes.txt' });
      expect(r.stdout).toBe('from the snapshot\n640\n');
    } finally {
      await sdk.instances.stop(fromSnap.id);
    }
  });
});

describe('ttl, idle stop, restart, stop', () => {
  it('ttl: the instance is stopped and removed when it runs out', async () => {
    const t = await sdk.instances.start({ ttl: 2, resources: { diskGb: 0.1 } });
    await expect.poll(async () => (await sdk.instances.get(t.id)).status, { timeout: 10_000, interval: 250 }).toBe('stopped');
    expect((await sdk.instances.get(t.id)).stopReason).toBe('ttl');
    await expect(docker.getContainer(`faas-${t.id}`).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('autoStop: an idle instance is stopped; one with an open SSH session is not idle', async () => {
    const a = await sdk.instances.start({ autoStop: 2, resources: { diskGb: 0.1 } });
    const info = await sdk.instances.getSshInfo(a.id);
    // An open SSH session keeps it.
    const c = new Client();
    await new Promise<void>((resolve, reject) => {
      c.on('ready', () => resolve());
      c.on('error', reject);
      c.connect({ host: info.host, port: info.port, username: info.username, privateKey: info.privateKey!, readyTimeout: 20_000 });
    });
    await sleep(3500);
    expect((await sdk.instances.get(a.id)).status).toBe('running');
    c.end();
    await expect.poll(async () => (await sdk.instances.get(a.id)).status, { timeout: 10_000, interval: 250 }).toBe('stopped');
    expect((await sdk.instances.get(a.id)).stopReason).toBe('idle');
  });

  it('instances survive an operator restart and are found again (SSH port, exposed URLs, token)', async () => {
    const e = await sdk.instances.expose(inst.id, { name: 'web2', port: 8000 });
    await gw.restart();
    const s2 = new FaaSClient({ endpoint: gw.url, apiKey: key });
    const again = await s2.instances.get(inst.id);
    expect(again.status).toBe('running');
    const info = await s2.instances.getSshInfo(inst.id);
    expect(info.port).toBe(ssh.port);
    expect((await ssh2Exec(info, ssh.privateKey!, 'cat ~/site/hello.txt')).out).toBe('hi from the instance\n');
    const page = await fetch(`${e.url}hello.txt?faas_token=${e.token}`);
    expect([page.status, await page.text()]).toEqual([200, 'hi from the instance\n']);
  });

  it('stop removes everything: container, SSH port, exposed URLs; usage is recorded', async () => {
    const s2 = new FaaSClient({ endpoint: gw.url, apiKey: key });
    const before = await s2.usage.getCurrent();
    const stopped = await s2.instances.stop(inst.id);
    expect(stopped).toMatchObject({ status: 'stopped', stopReason: 'user' });
    expect((await s2.instances.stop(inst.id)).status).toBe('stopped'); // idempotent
    expect(await containersOf(gw)).toEqual([]);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(ssh.port, '127.0.0.1');
      s.on('connect', () => resolve('connected'));
      s.on('error', (err: Error & { code?: string }) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect((await fetch(`http://${inst.id}-web.localhost:${new URL(gw.url).port}/`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(404);
    await expect(s2.instances.exec(inst.id, { command: 'true' })).rejects.toBeInstanceOf(ConflictError);
    const after = await s2.usage.getCurrent();
    expect(after.executions.totalCount).toBe(before.executions.totalCount + 1);
    expect(after.cpuSeconds).toBeGreaterThan(before.cpuSeconds);
  });
});
