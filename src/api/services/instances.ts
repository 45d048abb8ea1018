// Persistent instances through the API: each belongs to one key (another key gets 404), usage
// is written when one stops, and every inbound path — SSH, exposed URLs (`/i/<id>/<name>/`),
// port-forward tunnels, file copies — goes through the instance's relay, never a published port.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import type { Duplex } from 'node:stream';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { PriceTable } from '../../config.js';
import { AuthError, ConflictError, NotFoundError, NotImplementedError, RateLimitError, SandboxError, ValidationError } from '@faas/sdk/errors';
import type { SnapshotEngine } from '../../sandbox/index.js';
import { INSTANCE_HOME, SSH_USER, publicKeyFingerprint } from '../../sandbox/instances/index.js';
import type { InstanceManager, MuxChannel } from '../../sandbox/instances/index.js';
import { sha256 } from '../../store/index.js';
import type { ApiKey, ExposureRecord, InstanceRecord, InstanceStore, UsageStore } from '../../store/index.js';
import type { CreditGuard } from './usage.js';
import type { ExposeBody, Exposure, FileList, InstanceExecBody, InstanceExecResult, InstanceInfo, InstanceStartBody, JupyterInfo, SshInfo, VncInfo, VSCodeInfo } from '@faas/sdk/wire';

export interface InstanceServiceDeps {
  /** Snapshot files for `start({snapshotId})` (absent: an engine without snapshots). */
  snapshots?: Pick<SnapshotEngine, 'snapshotFiles'>;
  manager: InstanceManager;
  store: InstanceStore;
  log: Logger;
  /** Exposed ports are served at `<instance id>-<name>.<exposeDomain>` (default `localhost`). */
  exposeDomain?: string;
  /** The credit rule: a key at or below zero balance starts no instance (absent: not enforced). */
  credit?: CreditGuard;
  /** File listings and archives one key may run at once (FAAS_KEY_MAX_FILE_OPS; absent: 2). */
  maxFileOps?: number;
}

/** Writes an instance's usage when it stops: its cgroup CPU (nothing while paused) and memory held × lifetime. */
export function instanceUsageRecorder(usage: UsageStore, prices: PriceTable, log: Logger): (r: InstanceRecord) => void {
  return (r) => {
    const finishedAt = r.stoppedAt ?? Date.now();
    const memoryGbSeconds = ((r.resources.memoryMb + r.resources.diskGb * 1024) / 1024) * ((finishedAt - r.createdAt) / 1000);
    const cost = prices.perExecution + r.cpuSeconds * prices.perCpuSecond + memoryGbSeconds * prices.perGbSecond;
    try {
      // The network opt-in is recorded in the mode: persistent+network.
      usage.record({ executionId: r.id, keyId: r.keyId, language: r.language, mode: r.network ? 'persistent+network' : 'persistent', startedAt: r.createdAt, finishedAt, exitCode: null, cpuSeconds: r.cpuSeconds, memoryGbSeconds, cost });
    } catch (err) {
      log.error({ err: (err as Error).message, instance: r.id }, 'instance usage not written');
    }
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Headers that belong to one connection and are not passed on by a proxy. */
/** What node's http server refuses in a reason phrase (as in a header value). */
const INVALID_REASON = /[^\t\x20-\x7e\x80-\xff]/;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);
export const TOKEN_PARAM = 'faas_token';
export const TOKEN_COOKIE = 'faas_token';

// ---- exposed ports: one origin each ---------------------------------------------------------
// An exposed port is served on a host name of its own, `<instance id>-<name>.<domain>`, so a page
// of one exposure is another origin than the gateway and every other exposure: its service
// workers, cookies and same-origin requests stay with it.

const EXPOSURE_LABEL = /^(inst-[0-9a-f]{16})-([a-z0-9][a-z0-9-]{0,31})$/;

/** The host name an exposed port is served on. */
export const exposureHost = (domain: string, id: string, name: string): string => `${id}-${name}.${domain}`;

/** The instance and exposure a Host header names (under `domain`), or null. */
export function parseExposureHost(host: string | undefined, domain: string): { id: string; name: string } | null {
  if (!host) return null;
  const h = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  if (!h.endsWith(`.${domain}`)) return null;
  const m = EXPOSURE_LABEL.exec(h.slice(0, -(domain.length + 1)));
  return m ? { id: m[1]!, name: m[2]! } : null;
}

/** Response headers an exposed app may not send: they would reach past its own origin or connection. */
const DROPPED_RESPONSE = new Set([...HOP_BY_HOP, 'service-worker-allowed']);

/**
 * A Set-Cookie an exposed app may send: host-only (no Domain attribute), a Path inside its
 * scope (the whole of its own host: any path starting with `/`), never the gateway's token.
 */
function cookieAllowed(value: string): boolean {
  const [pair = '', ...attrs] = value.split(';');
  if (pair.split('=')[0]!.trim() === TOKEN_COOKIE) return false;
  for (const a of attrs) {
    const eq = a.indexOf('=');
    const k = (eq < 0 ? a : a.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : a.slice(eq + 1).trim();
    if (k === 'domain') return false;
    if (k === 'path' && !v.startsWith('/')) return false;
  }
  return true;
}

/**
 * The answer to an upgrade, passed on with its head filtered as any exposed answer's (see
 * exposedResponseHeaders), then its bytes as they come. A head over 64 KiB ends both sides.
 */
function pipeUpgradeAnswer(ch: Duplex, socket: Duplex): void {
  let buf: Buffer = Buffer.alloc(0);
  const onData = (c: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    // A bare LF ends a line too (as lenient clients read it): nothing can hide behind one.
    const text = buf.toString('latin1');
    const blank = /\r?\n\r?\n/.exec(text);
    if (!blank) {
      if (buf.length > 64 << 10) {
        ch.destroy();
        socket.destroy();
      }
      return;
    }
    ch.off('data', onData);
    ch.pause();
    const [status = '', ...lines] = text.slice(0, blank.index).split(/\r?\n/);
    if (!/^HTTP\/1\.[01] [1-9]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?$/.test(status)) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      ch.destroy();
      return;
    }
    const raw: string[] = [];
    for (const l of lines) {
      const i = l.indexOf(':');
      const name = l.slice(0, i);
      const value = l.slice(i + 1).trim();
      if (i > 0 && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[^\t\x20-\x7e\x80-\xff]/.test(value)) raw.push(name, value);
    }
    const headers = exposedResponseHeaders(raw, /^HTTP\/1\.[01] 101(?: |$)/.test(status));
    const out = [status];
    for (let i = 0; i < headers.length; i += 2) out.push(`${headers[i]}: ${headers[i + 1]}`);
    socket.write(Buffer.from(`${out.join('\r\n')}\r\n\r\n`, 'latin1'));
    const rest = Buffer.byteLength(text.slice(0, blank.index + blank[0].length), 'latin1');
    if (buf.length > rest) socket.write(buf.subarray(rest));
    ch.pipe(socket);
  };
  ch.on('data', onData);
}

/**
 * The upstream answer's headers, without what an exposed app may not send (raw pairs). A
 * WebSocket's `101 Switching Protocols` keeps its Connection and Upgrade.
 */
export function exposedResponseHeaders(raw: string[], switching = false): string[] {
  const kept = switching ? new Set(['connection', 'upgrade']) : new Set<string>();
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const n of raw[i + 1]!.split(',')) named.add(n.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lk = raw[i]!.toLowerCase();
    if (!kept.has(lk) && (DROPPED_RESPONSE.has(lk) || named.has(lk))) continue;
    if (lk === 'set-cookie' && !cookieAllowed(raw[i + 1]!)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
/** Ports the launchers use inside an instance. */
const JUPYTER_PORT = 8888;
const VNC_PORT = 6080;
const VSCODE_PORT = 8443;

/** An exposed URL's target, once the caller was let in. */
export interface ProxyTarget {
  instanceId: string;
  exposure: ExposureRecord;
  /** The path (and query) to send to the port. */
  path: string;
  /** Set this cookie on the answer (the caller came with `?faas_token=`). */
  setCookie: string | null;
  /** Headers to pass on (credentials removed). */
  headers: Record<string, string | string[]>;
}

/** Lists a tree as JSON (run inside the instance by python3). */
const LIST_SCRIPT = `
import json, os, stat, sys
root = sys.argv[1]
out = {"path": root, "exists": False, "entries": []}
def kind(m):
    return "dir" if stat.S_ISDIR(m) else "symlink" if stat.S_ISLNK(m) else "file" if stat.S_ISREG(m) else None
try:
    st = os.lstat(root)
    # A link to a directory at the top (the devbox's /workspace is one) is listed as that directory.
    if stat.S_ISLNK(st.st_mode) and os.path.isdir(root):
        st = os.stat(root)
except OSError:
    print(json.dumps(out)); sys.exit(0)
out["exists"] = True
out["type"] = kind(st.st_mode)
if stat.S_ISDIR(st.st_mode):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = os.path.join(dirpath, name)
            try:
                s = os.lstat(p)
            except OSError:
                continue
            k = kind(s.st_mode)
            if k is None:
                continue
            e = {"path": os.path.relpath(p, root), "type": k, "size": s.st_size if k == "file" else 0, "mtimeMs": s.st_mtime_ns / 1e6, "mode": stat.S_IMODE(s.st_mode)}
            if k == "symlink":
                e["target"] = os.readlink(p)
            out["entries"].append(e)
print(json.dumps(out))
`;

const DELETE_SCRIPT = `
import os, shutil, sys
root = sys.argv[1]
n = 0
for rel in sys.stdin.buffer.read().split(b"\\0"):
    if not rel:
        continue
    p = os.path.join(root.encode(), rel)
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
        n += 1
    except FileNotFoundError:
        pass
print(n)
`;

/** A relative entry inside a tree: no absolute paths, no `..`, no NUL. */
function checkEntry(field: string, e: string): string {
  const norm = posix.normalize(e);
  if (e.includes('\0') || norm.startsWith('/') || norm === '..' || norm.startsWith('../') || norm === '.') throw new ValidationError(field, `${JSON.stringify(e)} must be a relative path inside the tree`);
  return norm;
}

/** Where an instance started from a snapshot finds the snapshot's files. */
export const SNAPSHOT_FILES_DIR = '/workspace';

export class InstanceService {
  private readonly manager: InstanceManager;
  private readonly store: InstanceStore;
  /** Upgraded proxy connections and tunnels, cut when the API closes. */
  private readonly open = new Set<Duplex>();

  constructor(private readonly d: InstanceServiceDeps) {
    this.manager = d.manager;
    this.store = d.store;
  }

  /** The key's instance record, or NOT_FOUND (also for another key's: ids do not leak across keys). */
  private own(key: ApiKey, id: string): InstanceRecord {
    const r = this.manager.get(id);
    if (!r || r.keyId !== key.id) throw new NotFoundError('instance', id);
    return r;
  }

  info(r: InstanceRecord): InstanceInfo {
    const now = Date.now();
    return {
      id: r.id,
      status: r.status,
      createdAt: iso(r.createdAt),
      expiresAt: iso(r.expiresAt),
      language: r.language as InstanceInfo['language'],
      resources: { ...r.resources },
      network: r.network,
      autoStop: r.autoStopS,
      ...(r.stoppedAt ? { stoppedAt: iso(r.stoppedAt) } : {}),
      ...(r.stopReason ? { stopReason: r.stopReason } : {}),
      usage: {
        cpuSeconds: Math.round(this.manager.cpuSeconds(r.id) * 1e6) / 1e6,
        pausedSeconds: (r.pausedMs + (r.pausedAt ? now - r.pausedAt : 0)) / 1000,
        uptimeSeconds: ((r.stoppedAt ?? now) - r.createdAt) / 1000,
      },
    };
  }

  /**
   * Starts an instance; with `snapshotId`, the snapshot's files are unpacked into its
   * /workspace before it is handed over (files only: the instance is another kind of sandbox
   * than the snapshot's interpreter, so its memory cannot come along).
   */
  async start(key: ApiKey, body: InstanceStartBody): Promise<InstanceInfo> {
    this.d.credit?.require(key);
    const snapshotId = (body as { snapshotId?: unknown }).snapshotId;
    let files: Buffer | null = null;
    if (snapshotId !== undefined) {
      if (!this.d.snapshots) throw new NotImplementedError('Starting an instance from a snapshot (this engine has no snapshots)');
      if (typeof snapshotId !== 'string') throw new ValidationError('snapshotId', 'must be a snapshot id');
      files = this.d.snapshots.snapshotFiles(key.id, snapshotId); // NOT_FOUND before anything starts
    }
    const rec = await this.manager.create(key.id, body);
    if (files) {
      try {
        await this.upload(key, rec.id, SNAPSHOT_FILES_DIR, Readable.from([files]));
      } catch (err) {
        await this.manager.stop(rec.id, 'user').catch(() => undefined);
        throw err;
      }
    }
    return this.info(this.manager.get(rec.id) ?? rec);
  }

  get(key: ApiKey, id: string): InstanceInfo {
    return this.info(this.own(key, id));
  }

  list(key: ApiKey): { instances: InstanceInfo[] } {
    return { instances: this.manager.list(key.id).map((r) => this.info(r)) };
  }

  async stop(key: ApiKey, id: string): Promise<InstanceInfo> {
    this.own(key, id);
    return this.info(await this.manager.stop(id, 'user'));
  }

  async pause(key: ApiKey, id: string): Promise<InstanceInfo> {
    this.own(key, id);
    return this.info(await this.manager.pause(id));
  }

  async resume(key: ApiKey, id: string): Promise<InstanceInfo> {
    this.own(key, id);
    return this.info(await this.manager.resume(id));
  }

  /** Where to ssh: the operator's relay port for this instance, on the host the caller reached the API at. */
  async ssh(key: ApiKey, id: string, body: { rotateKey?: boolean }, host: string): Promise<SshInfo> {
    const r = this.own(key, id);
    const port = await this.manager.sshPort(id);
    this.manager.touch(id);
    const privateKey = body.rotateKey ? await this.manager.rotateKey(id) : this.manager.takePrivateKey(id);
    const fingerprint = publicKeyFingerprint(this.manager.get(id)?.publicKey ?? r.publicKey);
    const hostKey = r.status === 'running' ? await this.manager.hostKey(id) : null;
    return { host, port, username: SSH_USER, privateKey, fingerprint, hostKey, command: `ssh -i <key file> -p ${port} ${SSH_USER}@${host}` };
  }

  // ---- Jupyter, VNC, VS Code (the devbox's launch scripts, behind exposed URLs) -------------

  /** Runs a devbox launch script (it prints READY once the service answers) and exposes its port. */
  private async launch(key: ApiKey, id: string, name: string, port: number, args: string[], base: string, stripPrefix: boolean): Promise<{ url: string; accessToken: string }> {
    const r = this.own(key, id);
    if (r.status !== 'running') throw new ConflictError('status', `instance ${id} is ${r.status}`);
    const env = [`FAAS_JUPYTER_ALLOW_ORIGIN=${this.url(base, id, name).slice(0, -1)}`];
    const out = await this.manager.exec(id, [`/opt/faas/devbox/launch-${name}`, ...args], { env, maxBytes: 64 << 10 });
    const text = out.stdout.toString();
    if (out.exitCode !== 0 || !/^READY$/m.test(text)) {
      const why = `${out.stderr}\n${text}`.trim().split('\n').filter(Boolean).slice(-6).join(' | ');
      throw new SandboxError(`${name} did not start in instance ${id}: ${why.slice(0, 800)}`);
    }
    const e = this.expose(key, id, { name, port, stripPrefix }, base);
    return { url: e.url, accessToken: e.token! };
  }

  /** Jupyter Notebook at /i/<id>/jupyter/ (its own token too); `url` carries both tokens. */
  async launchJupyter(key: ApiKey, id: string, base: string): Promise<JupyterInfo> {
    const token = randomBytes(24).toString('hex');
    const l = await this.launch(key, id, 'jupyter', JUPYTER_PORT, [String(JUPYTER_PORT), token, '/'], base, true);
    return { url: `${l.url}?${TOKEN_PARAM}=${l.accessToken}&token=${token}`, token, accessToken: l.accessToken };
  }

  /** A VNC desktop (Xvnc + xterm) with noVNC at /i/<id>/vnc/; the VNC password (8 characters count). */
  async launchVNC(key: ApiKey, id: string, base: string): Promise<VncInfo> {
    const password = randomBytes(6).toString('base64url');
    const l = await this.launch(key, id, 'vnc', VNC_PORT, [String(VNC_PORT), password, '/'], base, true);
    return { url: `${l.url}?${TOKEN_PARAM}=${l.accessToken}`, password, accessToken: l.accessToken };
  }

  /**
   * VS Code in the browser (code-server) on its own host; the exposed URL's token is its only
   * lock. code-server wants a non-empty base path: it keeps /i/<id>/vscode/ (stripPrefix false
   * puts it before `/`, and its own absolute links already carry it).
   */
  async launchVSCode(key: ApiKey, id: string, base: string): Promise<VSCodeInfo> {
    const l = await this.launch(key, id, 'vscode', VSCODE_PORT, [String(VSCODE_PORT), `/i/${id}/vscode/`], base, false);
    return { url: `${l.url}?${TOKEN_PARAM}=${l.accessToken}`, accessToken: l.accessToken };
  }

  // ---- exposed URLs -----------------------------------------------------------------------

  /** The domain exposed ports are served under. */
  get exposeDomain(): string {
    return this.d.exposeDomain ?? 'localhost';
  }

  /** An exposed port's URL: its own host, with the scheme and port the gateway was reached on. */
  url(base: string, id: string, name: string): string {
    const b = new URL(base);
    return `${b.protocol}//${exposureHost(this.exposeDomain, id, name)}${b.port ? `:${b.port}` : ''}/`;
  }

  expose(key: ApiKey, id: string, body: ExposeBody, base: string): Exposure {
    const r = this.own(key, id);
    if (r.status === 'stopped') throw new ConflictError('status', `instance ${id} is stopped`);
    const token = randomBytes(24).toString('base64url');
    const stripPrefix = body.stripPrefix ?? true;
    this.store.putExposure({ instanceId: id, name: body.name, port: body.port, stripPrefix, tokenHash: sha256(token), createdAt: Date.now() });
    this.manager.touch(id);
    return { name: body.name, port: body.port, stripPrefix, url: this.url(base, id, body.name), token };
  }

  exposures(key: ApiKey, id: string, base: string): { exposures: Exposure[] } {
    this.own(key, id);
    return { exposures: this.store.exposures(id).map((e) => ({ name: e.name, port: e.port, stripPrefix: e.stripPrefix, url: this.url(base, id, e.name) })) };
  }

  unexpose(key: ApiKey, id: string, name: string): { removed: boolean } {
    this.own(key, id);
    if (!this.store.removeExposure(id, name)) throw new NotFoundError('exposed URL', `${id}/${name}`);
    return { removed: true };
  }

  /**
   * Who may use `/i/<id>/<name>/…`: the owner's API key (`Authorization: Bearer`), or the URL's
   * token (`?faas_token=`, which also sets a cookie for that path, or that cookie). Another key
   * gets 404, no or a wrong credential 401. Credentials are removed before the request goes on.
   */
  authorizeProxy(req: IncomingMessage, key: ApiKey | null, id: string, name: string, rest: string): ProxyTarget {
    const r = this.manager.get(id);
    const exposure = r && r.status !== 'stopped' ? this.store.exposure(id, name) : null;
    if (!r || (key && key.id !== r.keyId) || !exposure) throw new NotFoundError('exposed URL', `/i/${id}/${name}/`);
    const url = new URL(rest, 'http://x');
    const fromQuery = url.searchParams.get(TOKEN_PARAM);
    url.searchParams.delete(TOKEN_PARAM);
    const cookies = (req.headers.cookie ?? '').split(/;\s*/).filter(Boolean);
    // Every token cookie counts (a sibling host may have set one for the parent domain).
    const fromCookies = cookies.filter((c) => c.startsWith(`${TOKEN_COOKIE}=`)).map((c) => c.slice(TOKEN_COOKIE.length + 1));
    const matches = (t: string | null | undefined) => Boolean(t) && timingSafeEqual(sha256(t!), exposure.tokenHash);
    let setCookie: string | null = null;
    if (!key) {
      if (matches(fromQuery)) setCookie = `${TOKEN_COOKIE}=${fromQuery}; Path=/; HttpOnly; SameSite=Lax`;
      else if (!fromCookies.some(matches)) throw new AuthError(`This URL needs its token (?${TOKEN_PARAM}=… from expose) or the owner's API key.`);
      else if (crossSite(req)) {
        // The cookie alone authorises; a browser sends it with a sibling exposure's requests too
        // (same site under a shared domain): a WebSocket or a state-changing request must come
        // from the exposure's own origin.
        throw new AuthError('A request from another origin needs the URL token (?faas_token=) or the API key, not only the cookie.');
      }
    }
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || k === 'authorization' || k === 'host' || k === 'cookie') continue;
      headers[k] = v;
    }
    const keptCookies = cookies.filter((c) => !c.startsWith(`${TOKEN_COOKIE}=`));
    if (keptCookies.length) headers.cookie = keptCookies.join('; ');
    const search = url.searchParams.toString();
    const prefix = `/i/${id}/${name}`;
    // The exposure's host is all its own: the path goes on as it is; with stripPrefix false
    // (an app configured to serve under /i/<id>/<name>/) the prefix is put before it once.
    const path = (exposure.stripPrefix || url.pathname.startsWith(`${prefix}/`) ? '' : prefix) + url.pathname + (search ? `?${search}` : '');
    this.manager.touch(id);
    return { instanceId: id, exposure, path, setCookie, headers };
  }

  /** Sends one HTTP request to the exposed port and its answer back. */
  proxyHttp(req: IncomingMessage, res: ServerResponse, t: ProxyTarget): void {
    const prefix = `/i/${t.instanceId}/${t.exposure.name}`;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(t.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = req.headers.host ?? '127.0.0.1';
    headers['x-forwarded-proto'] = 'http';
    headers['x-forwarded-host'] = req.headers.host ?? '';
    if (!t.exposure.stripPrefix) headers['x-forwarded-prefix'] = prefix;
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
    const up = httpRequest({
      method: req.method,
      path: t.path,
      headers,
      createConnection: (_opts, cb) => {
        this.manager.connect(t.instanceId, t.exposure.port).then(
          (ch) => cb(null, ch as unknown as import('node:net').Socket),
          (err: Error) => cb(err, undefined as unknown as import('node:net').Socket),
        );
        return undefined as unknown as import('node:net').Socket;
      },
    });
    const fail = (err: Error) => {
      if (res.headersSent) {
        if (!res.writableEnded) res.destroy(); // not a 502 already on its way
        return;
      }
      const body = JSON.stringify({ code: 'SANDBOX_ERROR', message: `Nothing answered on port ${t.exposure.port} in instance ${t.instanceId}, or not in HTTP: ${err.message}` });
      res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    up.on('error', fail);
    up.on('response', (ur) => {
      // Hop-by-hop headers, Service-Worker-Allowed and cookies for other hosts or the token go.
      const out = exposedResponseHeaders(ur.rawHeaders);
      if (t.setCookie) out.push('Set-Cookie', t.setCookie);
      // The status line comes from inside the instance: res.writeHead throws on a status out of
      // 100..999 or a reason phrase with a control character, and a throw here (a socket
      // callback) would reach the process. Anything writeHead refuses is answered 502.
      ur.on('error', () => res.destroy());
      const status = ur.statusCode ?? 0;
      const reason = ur.statusMessage ?? '';
      let why = status < 100 || status > 999 ? `status ${status}` : INVALID_REASON.test(reason) ? 'a control character in the reason phrase' : null;
      if (!why) {
        try {
          res.writeHead(status, reason, out);
        } catch (err) {
          why = (err as Error).message;
        }
      }
      if (why) {
        ur.destroy();
        this.d.log.debug({ instance: t.instanceId, why }, 'malformed response from an exposed port');
        return fail(new Error(`malformed response (${why})`));
      }
      ur.pipe(res);
    });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  }

  /** A WebSocket (or any HTTP upgrade) to the exposed port: the request is replayed there, then bytes flow both ways. */
  async proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: ProxyTarget): Promise<void> {
    let ch: MuxChannel;
    try {
      ch = await this.manager.connect(t.instanceId, t.exposure.port);
    } catch (err) {
      socket.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      this.d.log.debug({ err: (err as Error).message }, 'upgrade proxy failed');
      return;
    }
    const lines = [`${req.method ?? 'GET'} ${t.path} HTTP/1.1`, `host: ${req.headers.host ?? '127.0.0.1'}`, ...(t.exposure.stripPrefix ? [] : [`x-forwarded-prefix: /i/${t.instanceId}/${t.exposure.name}`])];
    for (const [k, v] of Object.entries(t.headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
    let replied = false;
    ch.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) ch.write(head);
    this.open.add(socket);
    ch.once('data', () => (replied = true));
    ch.on('error', () => {
      if (!replied) socket.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      else socket.destroy();
    });
    socket.on('error', () => ch.destroy());
    socket.on('close', () => {
      this.open.delete(socket);
      ch.destroy();
    });
    ch.on('close', () => socket.destroy());
    socket.pipe(ch);
    pipeUpgradeAnswer(ch, socket);
  }

  // ---- port forwards ------------------------------------------------------------------------

  /** A connection to `port` inside the key's instance (the SDK's port forward carries it over a WebSocket). */
  async tunnel(key: ApiKey, id: string, port: number): Promise<MuxChannel> {
    const r = this.own(key, id);
    if (r.status === 'stopped') throw new ConflictError('status', `instance ${id} is stopped`);
    const ch = await this.manager.connect(id, port);
    this.open.add(ch);
    ch.on('close', () => this.open.delete(ch));
    return ch;
  }

  // ---- commands and files -----------------------------------------------------------------

  /** A path in the instance: absolute, or relative to HOME. */
  private remote(p: string): string {
    return posix.normalize(p.startsWith('/') ? p : posix.join(INSTANCE_HOME, p));
  }

  async exec(key: ApiKey, id: string, body: InstanceExecBody): Promise<InstanceExecResult> {
    this.own(key, id);
    let cmd = typeof body.command === 'string' ? ['bash', '-lc', body.command] : body.command;
    const timeoutS = body.timeoutMs ? Math.max(1, Math.ceil(body.timeoutMs / 1000)) : null;
    if (timeoutS) cmd = ['timeout', '-s', 'KILL', String(timeoutS), ...cmd];
    const input = body.stdin === undefined ? undefined : typeof body.stdin === 'string' ? body.stdin : Buffer.from(body.stdin.base64, 'base64');
    const env = Object.entries(body.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const t0 = Date.now();
    const r = await this.manager.exec(id, cmd, { input, env: env.length ? env : undefined, workingDir: this.remote(body.cwd ?? '.'), maxBytes: 4 << 20 });
    const timedOut = timeoutS !== null && r.exitCode === 137 && Date.now() - t0 >= timeoutS * 1000 - 50;
    return { stdout: r.stdout.toString('utf8'), stderr: r.stderr, exitCode: r.exitCode, timedOut, truncated: r.truncated };
  }

  /** File listings and archives running per key (each may hold up to 256 MiB while it runs). */
  private readonly fileOps = new Map<string, number>();

  /** Takes one of the key's file-operation slots (FAAS_KEY_MAX_FILE_OPS) or answers 429; the returned function gives it back (once). */
  private fileOp(key: ApiKey): () => void {
    const max = this.d.maxFileOps ?? 2;
    const n = this.fileOps.get(key.id) ?? 0;
    if (n >= max) throw new RateLimitError(new Date(Date.now() + 1000), `At most ${max} file listings or archives may run at once for this key (FAAS_KEY_MAX_FILE_OPS); retry when one finishes.`);
    this.fileOps.set(key.id, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (this.fileOps.get(key.id) ?? 1) - 1;
      if (left > 0) this.fileOps.set(key.id, left);
      else this.fileOps.delete(key.id);
    };
  }

  async listFiles(key: ApiKey, id: string, path: string): Promise<FileList> {
    this.own(key, id);
    const root = this.remote(path);
    const release = this.fileOp(key);
    try {
      const r = await this.manager.exec(id, ['python3', '-I', '-c', LIST_SCRIPT, root], { maxBytes: 256 << 20 });
      if (r.exitCode !== 0) throw new SandboxError(`could not list ${root}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout.toString('utf8')) as FileList;
    } finally {
      release();
    }
  }

  /**
   * A tar (pax) stream of `path` (one top entry named after it), or of `entries` under it.
   * Resolves once the first bytes are there, so a missing path is a clean 404.
   */
  async archive(key: ApiKey, id: string, path: string, entries?: string[]): Promise<Readable> {
    this.own(key, id);
    const root = this.remote(path);
    const list = entries?.map((e) => checkEntry('entries', e));
    // A missing path is told before tar runs (tar would still write an empty archive).
    const tar = list ? 'exec tar -c --format=pax --no-recursion -C "$1" --null -T - -f -' : 'exec tar -c --format=pax -C "$(dirname -- "$1")" -f - -- "$(basename -- "$1")"';
    const cmd = ['sh', '-c', `if [ ! -e "$1" ] && [ ! -L "$1" ]; then echo "No such file: $1" >&2; exit 44; fi; ${tar}`, 'sh', root];
    // The slot is held until the archive has been read to its end (or the stream broke off).
    const release = this.fileOp(key);
    let run: Awaited<ReturnType<InstanceManager['startExec']>>;
    try {
      run = await this.manager.startExec(id, cmd, { stdin: Boolean(list) });
    } catch (err) {
      release();
      throw err;
    }
    run.stdout.once('close', release);
    run.stdout.once('end', release);
    run.stdout.once('error', release);
    void run.done.then(release, release);
    if (run.stdin) run.stdin.end(Buffer.from(list!.map((e) => `${e}\0`).join('')));
    return new Promise<Readable>((resolve, reject) => {
      // 'readable' also comes at the end of an empty stream: only bytes resolve.
      const onReadable = () => {
        if (run.stdout.readableLength === 0) {
          run.stdout.read();
          return;
        }
        cleanup();
        resolve(run.stdout);
      };
      const onEnd = () => {
        cleanup();
        void run.done.then(({ exitCode, stderr }) => {
          if (exitCode === 44) reject(new NotFoundError('path', root));
          else reject(new SandboxError(`could not read ${root} (tar exit ${exitCode}): ${stderr.trim().slice(0, 500)}`));
        });
      };
      const cleanup = () => {
        run.stdout.off('readable', onReadable);
        run.stdout.off('end', onEnd);
      };
      run.stdout.on('readable', onReadable);
      run.stdout.once('end', onEnd);
    });
  }

  /** Unpacks a tar stream into `path` (created if missing); modes and modification times are kept. */
  async upload(key: ApiKey, id: string, path: string, body: Readable): Promise<{ path: string; bytes: number }> {
    this.own(key, id);
    const root = this.remote(path);
    const run = await this.manager.startExec(id, ['sh', '-c', 'mkdir -p -- "$1" && exec tar -x -p --no-same-owner --delay-directory-restore -C "$1" -f -', 'sh', root], { stdin: true });
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        cb(null, chunk);
      },
    });
    const drained = run.stdout.resume();
    await pipeline(body, count, run.stdin!).catch((err: Error) => {
      run.stdin!.destroy();
      throw new SandboxError(`upload to ${root} broke off: ${err.message}`);
    });
    const { exitCode, stderr } = await run.done;
    drained.destroy();
    if (exitCode !== 0) {
      if (/No space left/.test(stderr)) throw new ConflictError('resources.diskGb', `the instance's disk is full: ${stderr.trim().split('\n')[0]}`);
      throw new ValidationError('body', `not a tar archive that unpacks into ${root}: ${stderr.trim().slice(0, 500)}`);
    }
    return { path: root, bytes };
  }

  async deleteFiles(key: ApiKey, id: string, path: string, entries: string[]): Promise<{ deleted: number }> {
    this.own(key, id);
    const root = this.remote(path);
    const list = entries.map((e) => checkEntry('entries', e));
    const r = await this.manager.exec(id, ['python3', '-I', '-c', DELETE_SCRIPT, root], { input: Buffer.from(list.map((e) => `${e}\0`).join('')) });
    if (r.exitCode !== 0) throw new SandboxError(`could not delete under ${root}: ${r.stderr.trim()}`);
    return { deleted: Number(r.stdout.toString().trim()) };
  }

  /** Cuts every proxied connection and tunnel (the API is closing); the instances go on. */
  closeConnections(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}

/** A WebSocket upgrade or a state-changing request whose Origin is another host than the one asked. */
function crossSite(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  const stateChanging = (req.headers.upgrade ?? '').toLowerCase() === 'websocket' || !['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? 'GET');
  if (!stateChanging) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}
