// The devbox image (faas-devbox, scripts/build-devbox.ts) proven on the real Docker engine, in a
// container made with the sandbox policy itself (src/sandbox/policy.ts containerOptions: uid
// 65534, read-only root, all capabilities dropped, no-new-privileges, no network, one tmpfs at
// /sandbox). Every service is reached from the host the way a user would: ssh with a key through
// `docker exec -i ... tcp-relay`, HTTP / websockets / a browser through test/devbox/relay.ts.
// Containers carry faas.devbox-probe=true (not faas.managed) and are always removed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEVBOX_PROBE_LABEL, MANAGED_LABEL } from '../../src/sandbox/labels.js';
import { containerOptions } from '../../src/sandbox/policy.js';
import { Browser, CHROMIUM } from './browser.js';
import { vncResponse } from './rfb.js';
import { startRelay, type Relay } from './relay.js';

const IMAGE = 'faas-devbox:latest';
const PROBE_LABEL = DEVBOX_PROBE_LABEL;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = join(root, 'test/artifacts');
const docker = new Docker();

const INSTANCE = 'i/t3st-1';
const JUPYTER = { port: 8888, token: 'tok-3f9a1c77e2', base: `/${INSTANCE}/jupyter/` };
const VNC = { port: 6080, password: 'vnc-pw-7', base: `/${INSTANCE}/vnc/` };
const VSCODE = { port: 8443, base: `/${INSTANCE}/vscode/` };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

const dexec = (cid: string, args: string[], input?: string, timeoutMs?: number) => run('docker', ['exec', '-i', cid, ...args], { input, timeoutMs });

// ---- VNC authentication (RFB 3.8, security type 2) -----------------------------------------

class Bytes {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  private ended = false;
  push(b: Buffer): void {
    this.buf = Buffer.concat([this.buf, b]);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async read(n: number, timeoutMs = 15_000): Promise<Buffer> {
    const until = Date.now() + timeoutMs;
    while (this.buf.length < n) {
      if (this.ended) throw new Error(`connection closed with ${this.buf.length}/${n} bytes`);
      if (Date.now() > until) throw new Error(`timed out waiting for ${n} bytes`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, 200);
        this.wake = () => {
          clearTimeout(t);
          res();
        };
      });
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
}

interface RfbResult {
  version: string;
  securityTypes: number[];
  securityResult: number;
  reason?: string;
  width?: number;
  height?: number;
  name?: string;
}

async function rfbHandshake(send: (b: Buffer) => void, bytes: Bytes, password: string): Promise<RfbResult> {
  const version = (await bytes.read(12)).toString('latin1');
  send(Buffer.from('RFB 003.008\n', 'latin1'));
  const count = (await bytes.read(1))[0]!;
  if (count === 0) {
    const len = (await bytes.read(4)).readUInt32BE(0);
    throw new Error(`server refused: ${(await bytes.read(len)).toString()}`);
  }
  const securityTypes = [...(await bytes.read(count))];
  if (!securityTypes.includes(2)) return { version, securityTypes, securityResult: -1 };
  send(Buffer.from([2]));
  const challenge = await bytes.read(16);
  send(vncResponse(challenge, password));
  const securityResult = (await bytes.read(4)).readUInt32BE(0);
  if (securityResult !== 0) {
    const len = (await bytes.read(4)).readUInt32BE(0);
    return { version, securityTypes, securityResult, reason: (await bytes.read(len)).toString() };
  }
  send(Buffer.from([1])); // ClientInit: shared
  const init = await bytes.read(24);
  const name = (await bytes.read(init.readUInt32BE(20))).toString();
  return { version, securityTypes, securityResult, width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
}

async function rfbOverWebsocket(url: string, password: string): Promise<RfbResult> {
  const ws = new WebSocket(url, ['binary']);
  const bytes = new Bytes();
  ws.on('message', (data: Buffer) => bytes.push(Buffer.from(data)));
  ws.on('close', () => bytes.end());
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  try {
    return await rfbHandshake((b) => ws.send(b), bytes, password);
  } finally {
    ws.terminate();
  }
}

async function rfbOverTcp(port: number, password: string): Promise<RfbResult> {
  const sock = net.connect(port, '127.0.0.1');
  const bytes = new Bytes();
  sock.on('data', (b: Buffer) => bytes.push(b));
  sock.on('close', () => bytes.end());
  sock.on('error', () => bytes.end());
  try {
    return await rfbHandshake((b) => sock.write(b), bytes, password);
  } finally {
    sock.destroy();
  }
}

// ---- Jupyter kernel protocol (v5 over the notebook server's websocket) ------------------------

async function runInKernel(url: string, code: string): Promise<string> {
  const ws = new WebSocket(url);
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  const msgId = `devbox-test-${Date.now()}`;
  try {
    return await new Promise<string>((res, rej) => {
      let out = '';
      const timer = setTimeout(() => rej(new Error(`no result from the kernel; output so far: ${out}`)), 60_000);
      ws.on('message', (data: Buffer) => {
        const msg = JSON.parse(data.toString()) as { msg_type: string; parent_header: { msg_id?: string }; content: Record<string, unknown> };
        if (msg.parent_header.msg_id !== msgId) return;
        if (msg.msg_type === 'stream') out += String(msg.content.text);
        if (msg.msg_type === 'error') out += `${String(msg.content.ename)}: ${String(msg.content.evalue)}`;
        if (msg.msg_type === 'status' && msg.content.execution_state === 'idle') {
          clearTimeout(timer);
          res(out);
        }
      });
      ws.send(
        JSON.stringify({
          header: { msg_id: msgId, username: 'test', session: msgId, msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          channel: 'shell',
          buffers: [],
        }),
      );
    });
  } finally {
    ws.terminate();
  }
}

// ---- the container -------------------------------------------------------------------------

describe('devbox image (faas-devbox) under the sandbox policy', () => {
  let container: Docker.Container;
  let cid = '';
  let startedAt = 0;
  let keyDir = '';
  const relays: Relay[] = [];
  const web: Record<string, Relay> = {};
  const timings: Record<string, number> = {};

  const relay = async (port: number) => {
    const r = await startRelay(cid, port);
    relays.push(r);
    return r;
  };

  beforeAll(async () => {
    const image = await docker
      .getImage(IMAGE)
      .inspect()
      .catch(() => null);
    if (!image) throw new Error(`${IMAGE} is missing: build it with \`node --import tsx scripts/build-devbox.ts\``);
    mkdirSync(artifacts, { recursive: true });
    keyDir = mkdtempSync(join(tmpdir(), 'devbox-test-'));
    const opts = containerOptions({
      image: IMAGE,
      language: 'bash',
      resources: { cpuCores: 2, memoryMb: 2048, timeoutMs: 30_000, diskMb: 1024, gpuCount: 0 },
      pidsLimit: 512,
      labels: { [PROBE_LABEL]: 'true' },
    });
    delete opts.Labels![MANAGED_LABEL]; // not a sandbox of the engine: the suite's leak check counts those
    opts.Cmd = ['/opt/faas/devbox/idle'];
    container = await docker.createContainer(opts);
    cid = container.id;
    startedAt = Date.now();
    await container.start();
  });

  afterAll(async () => {
    await Promise.all(relays.map((r) => r.close()));
    if (container) await container.remove({ force: true }).catch(() => undefined);
    if (keyDir) rmSync(keyDir, { recursive: true, force: true });
    if (Object.keys(timings).length) writeFileSync(join(artifacts, 'devbox-timings.json'), `${JSON.stringify(timings, null, 2)}\n`);
  });

  it('sshd is ready soon after the container starts and takes an ed25519 key login', async () => {
    const key = join(keyDir, 'id_ed25519');
    const gen = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'devbox-test', '-f', key]);
    expect(gen.code).toBe(0);
    const start = await dexec(cid, ['/opt/faas/devbox/start-sshd', '-'], readFileSync(`${key}.pub`, 'utf8'));
    timings.sshdReadyAfterContainerStartMs = Date.now() - startedAt;
    expect(start.stderr).toBe('');
    expect(start.code).toBe(0);
    const lines = start.stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('READY');
    expect(lines).toContain('USER sandbox');
    expect(lines).toContain('PORT 2222');
    const hostKey = lines.find((l) => l.startsWith('HOSTKEY '))!.slice('HOSTKEY '.length);
    expect(hostKey).toMatch(/^ssh-ed25519 AAAA\S+$/);
    console.log(`[devbox] sshd READY ${timings.sshdReadyAfterContainerStartMs} ms after container start`);
    expect(timings.sshdReadyAfterContainerStartMs).toBeLessThan(10_000);

    // The host key is pinned (StrictHostKeyChecking yes): what start-sshd printed is what serves.
    const knownHosts = join(keyDir, 'known_hosts');
    writeFileSync(knownHosts, `devbox ${hostKey}\n`);
    const sshBase = [
      '-F',
      '/dev/null',
      '-o',
      `ProxyCommand=docker exec -i ${cid} /opt/faas/devbox/tcp-relay 2222`,
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'HostKeyAlias=devbox',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=20',
    ];
    const t0 = Date.now();
    const login = await run('ssh', [...sshBase, '-i', key, '-o', 'IdentitiesOnly=yes', 'sandbox@devbox', 'echo hi; id -u; echo $HOME; pwd -P; touch ~/x && echo home-writable']);
    timings.sshLoginEchoMs = Date.now() - t0;
    expect(login.stderr).toBe('');
    expect(login.stdout).toBe('hi\n65534\n/home/sandbox\n/sandbox/home\nhome-writable\n');
    expect(login.code).toBe(0);

    // Running start-sshd again replaces the keys without a restart: the old key stops working.
    const key2 = join(keyDir, 'id2_ed25519');
    expect((await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key2])).code).toBe(0);
    const again = await dexec(cid, ['/opt/faas/devbox/start-sshd', '-'], readFileSync(`${key2}.pub`, 'utf8'));
    expect(again.stdout).toContain(`HOSTKEY ${hostKey}`);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('READY');
    const oldKey = await run('ssh', [...sshBase, '-i', key, '-o', 'IdentitiesOnly=yes', 'sandbox@devbox', 'true']);
    expect(oldKey.code).toBe(255);
    expect(oldKey.stderr).toContain('Permission denied (publickey)');
    const newKey = await run('ssh', [...sshBase, '-i', key2, '-o', 'IdentitiesOnly=yes', 'sandbox@devbox', 'echo ok']);
    expect(newKey.stdout).toBe('ok\n');
    // start-sshd refuses a file without a key
    const junk = await dexec(cid, ['/opt/faas/devbox/start-sshd', '-'], 'not a key\n');
    expect(junk.code).toBe(1);
    expect(junk.stderr).toContain('FAILED: no valid public key');

    // A terminal works too (the pty belongs to the unprivileged user).
    const tty = await run('ssh', [...sshBase, '-tt', '-i', key2, '-o', 'IdentitiesOnly=yes', 'sandbox@devbox', 'tty']);
    expect(tty.code).toBe(0);
    expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+/);
  });

  it('sshd refuses passwords and keyboard-interactive, and root', async () => {
    const noKey = await run('ssh', [
      '-F',
      '/dev/null',
      '-o',
      `ProxyCommand=docker exec -i ${cid} /opt/faas/devbox/tcp-relay 2222`,
      '-o',
      'UserKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=no',
      '-o',
      'BatchMode=yes',
      '-o',
      'PubkeyAuthentication=no',
      '-o',
      'PreferredAuthentications=password,keyboard-interactive',
      'sandbox@devbox',
      'true',
    ]);
    expect(noKey.code).toBe(255);
    // the only method the server offers
    expect(noKey.stderr).toContain('Permission denied (publickey)');
    const effective = await dexec(cid, ['/usr/sbin/sshd', '-T', '-f', '/sandbox/devbox/ssh/sshd_config']);
    expect(effective.code).toBe(0);
    for (const line of [
      'passwordauthentication no',
      'kbdinteractiveauthentication no',
      'permitrootlogin no',
      'authenticationmethods publickey',
      'usepam no',
      'listenaddress 127.0.0.1:2222',
    ]) {
      expect(effective.stdout).toContain(line);
    }
  });

  it('Jupyter answers under its base URL with the token, and 403 without', async () => {
    await dexec(cid, ['bash', '-c', 'mkdir -p /sandbox/work && echo "print(\'hello from the devbox\')" > /sandbox/work/hello.py']);
    const t0 = Date.now();
    const launch = await dexec(cid, ['/opt/faas/devbox/launch-jupyter', String(JUPYTER.port), JUPYTER.token, JUPYTER.base]);
    timings.jupyterReadyMs = Date.now() - t0;
    expect(launch.stderr).toBe('');
    expect(launch.stdout.trim().split('\n').at(-1)).toBe('READY');
    expect(launch.code).toBe(0);
    const r = (web.jupyter = await relay(JUPYTER.port));
    const ok = await fetch(r.url(`${JUPYTER.base}api/status?token=${JUPYTER.token}`));
    expect(ok.status).toBe(200);
    const status = (await ok.json()) as { started?: string; kernels?: number };
    expect(status.started).toBeTruthy();
    expect((await fetch(r.url(`${JUPYTER.base}api/status`))).status).toBe(403);
    expect((await fetch(r.url(`${JUPYTER.base}api/status?token=wrong`))).status).toBe(403);
    // the same token in a header, as a reverse proxy or API client would send it
    const header = await fetch(r.url(`${JUPYTER.base}api/contents`), { headers: { Authorization: `token ${JUPYTER.token}` } });
    expect(header.status).toBe(200);
    // A python kernel runs code (REST to start it, the kernel websocket to execute).
    const auth = { Authorization: `token ${JUPYTER.token}` };
    const created = await fetch(r.url(`${JUPYTER.base}api/kernels`), { method: 'POST', headers: auth, body: '{}' });
    expect(created.status).toBe(201);
    const kernel = (await created.json()) as { id: string };
    const out = await runInKernel(`ws://127.0.0.1:${r.port}${JUPYTER.base}api/kernels/${kernel.id}/channels?token=${JUPYTER.token}`, 'import os; print(os.getuid(), 6 * 7)');
    expect(out).toBe('65534 42\n');
    expect((await fetch(r.url(`${JUPYTER.base}api/kernels/${kernel.id}`), { method: 'DELETE', headers: auth })).status).toBe(204);
    // A second launch with the same port finds it running.
    const again = await dexec(cid, ['/opt/faas/devbox/launch-jupyter', String(JUPYTER.port), JUPYTER.token, JUPYTER.base]);
    expect(again.stdout.trim().split('\n').at(-1)).toBe('READY');
  });

  it('VNC: a real X display behind websockify completes the RFB handshake with the password', async () => {
    const t0 = Date.now();
    const launch = await dexec(cid, ['/opt/faas/devbox/launch-vnc', String(VNC.port), VNC.password, VNC.base]);
    timings.vncReadyMs = Date.now() - t0;
    expect(launch.stderr).toBe('');
    expect(launch.stdout).toContain('RFB 127.0.0.1:5901');
    expect(launch.stdout.trim().split('\n').at(-1)).toBe('READY');
    expect(launch.code).toBe(0);
    const novnc = (web.vnc = await relay(VNC.port));
    const page = await fetch(novnc.url(`${VNC.base}vnc.html`));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('noVNC');
    const index = await (await fetch(novnc.url(VNC.base))).text();
    expect(index).toContain(`vnc.html?path=${VNC.base.slice(1)}websockify`);

    const wsUrl = `ws://127.0.0.1:${novnc.port}${VNC.base}websockify`;
    const good = await rfbOverWebsocket(wsUrl, VNC.password);
    expect(good.version).toBe('RFB 003.008\n');
    expect(good.securityTypes).toEqual([2]);
    expect(good.securityResult).toBe(0);
    expect(good).toMatchObject({ width: 1280, height: 800, name: 'devbox' });

    const bad = await rfbOverWebsocket(wsUrl, 'not-the-password');
    expect(bad.securityResult).toBe(1);

    // the display's own RFB port, for native VNC clients
    const raw = await relay(5901);
    const direct = await rfbOverTcp(raw.port, VNC.password);
    expect(direct.securityResult).toBe(0);
    expect(direct.width).toBe(1280);

    // there is something to see on the display: an xterm
    const clients = await dexec(cid, ['bash', '-c', 'DISPLAY=:1 xterm -version >/dev/null && pgrep -x xterm']);
    expect(clients.code).toBe(0);
  });

  it('VS Code (code-server) serves the workbench under its base path', async () => {
    const t0 = Date.now();
    const launch = await dexec(cid, ['/opt/faas/devbox/launch-vscode', String(VSCODE.port), VSCODE.base]);
    timings.vscodeReadyMs = Date.now() - t0;
    expect(launch.stderr).toBe('');
    expect(launch.stdout.trim().split('\n').at(-1)).toBe('READY');
    expect(launch.code).toBe(0);
    const r = (web.vscode = await relay(VSCODE.port));
    const bare = await fetch(r.url(VSCODE.base.slice(0, -1)), { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe(VSCODE.base);
    const root = await fetch(r.url(VSCODE.base), { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('./?folder=/sandbox/work');
    const page = await fetch(r.url(`${VSCODE.base}?folder=/sandbox/work`));
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('vscode-workbench-web-configuration');
    expect(html).toContain('workbench');
    // the same app without the prefix, for a proxy that strips it
    expect((await fetch(r.url('/healthz'))).status).toBe(200);
  });

  it('every service runs as uid 65534 and nothing is written outside /sandbox', async () => {
    const ps = await dexec(cid, ['ps', '-eo', 'uid=,args=']);
    const uids = new Set(
      ps.stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[0]),
    );
    expect([...uids]).toEqual(['65534']);
    expect(ps.stdout).toMatch(/sshd/);
    expect(ps.stdout).toMatch(/Xvnc/);
    expect(ps.stdout).toMatch(/jupyter/);
    expect(ps.stdout).toMatch(/code-server/);
    expect(ps.stdout).toMatch(/websockify/);
    const write = await dexec(cid, ['bash', '-c', 'touch /etc/devbox-probe 2>&1; touch /opt/x 2>&1; true']);
    expect(write.stdout).toContain('Read-only file system');
    // The read-only root shows no changes (but the mount point of docker's init, --init);
    // /sandbox is a tmpfs, not part of the diff.
    // Docker answers `null` for no changes, which dockerode hands over unparsed.
    const raw = (await container.changes()) as unknown;
    const all = ((typeof raw === 'string' || Buffer.isBuffer(raw) ? JSON.parse(raw.toString()) : raw) ?? []) as Array<{ Path: string }>;
    const changes = all.filter((c) => !['/usr', '/usr/sbin', '/usr/sbin/docker-init'].includes(c.Path));
    expect(changes).toEqual([]);
    const info = await container.inspect();
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(info.HostConfig.NetworkMode).toBe('none');
    expect(info.Config.User).toBe('65534:65534');
  });

  it('headless Chromium renders Jupyter, VS Code and noVNC from the host', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: run bash scripts/setup-browser.sh`);
    const { jupyter, vnc, vscode } = web;
    if (!jupyter || !vnc || !vscode) throw new Error('the Jupyter, VNC and VS Code tests must have run first');
    const browser = await Browser.launch();
    const sizes: Record<string, number> = {};
    const save = (name: string, png: Buffer) => {
      writeFileSync(join(artifacts, `devbox-${name}.png`), png);
      sizes[name] = png.length;
      expect(png.subarray(1, 4).toString()).toBe('PNG');
    };
    try {
      let t0 = Date.now();
      // Jupyter's file tree, logged in by the token in the URL
      const tree = await browser.shoot(
        jupyter.url(`${JUPYTER.base}tree?token=${JUPYTER.token}`),
        `document.querySelector('#notebook_list .list_item') ? document.title : ''`,
      );
      timings.chromiumJupyterMs = Date.now() - t0;
      expect(tree.value).toContain('Home');
      save('jupyter', tree.png);

      // the VS Code workbench, connected to its server (the Explorer shows the opened folder)
      t0 = Date.now();
      const code = await browser.shoot(
        vscode.url(`${VSCODE.base}?folder=/sandbox/work`),
        `(() => { const x = document.querySelector('.monaco-workbench .part.sidebar .pane-header'); return x && document.querySelector('.part.statusbar') && document.title.includes('work') ? document.title : ''; })()`,
        { timeoutMs: 90_000, settleMs: 3000 },
      );
      timings.chromiumVscodeMs = Date.now() - t0;
      expect(code.value).toContain('code-server');
      save('vscode', code.png);

      // noVNC connected through websockify to the X display (the canvas is the 1280x800 screen)
      t0 = Date.now();
      const desk = await browser.shoot(
        vnc.url(`${VNC.base}vnc.html?path=${VNC.base.slice(1)}websockify&autoconnect=true&password=${VNC.password}`),
        `(() => { const c = document.querySelector('#noVNC_container canvas'); return document.documentElement.classList.contains('noVNC_connected') && c ? c.width + 'x' + c.height : ''; })()`,
        { settleMs: 2000 },
      );
      timings.chromiumNovncMs = Date.now() - t0;
      expect(desk.value).toBe('1280x800');
      save('novnc', desk.png);
    } finally {
      await browser.close();
    }
    console.log(`[devbox] screenshots in test/artifacts (bytes): ${JSON.stringify(sizes)}`);
    expect(sizes.jupyter).toBeGreaterThan(10 * 1024);
    expect(sizes.vscode).toBeGreaterThan(10 * 1024);
    expect(sizes.novnc).toBeGreaterThan(4 * 1024); // mostly one xterm on black
  }, 300_000);
});
