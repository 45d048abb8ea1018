// Persistent instances through the API: each belongs to one key (another key gets 404), usage
// is written when one stops, and every inbound path — SSH, exposed URLs (`/i/<id>/<name>/`),
// port-forward tunnels, file copies — goes through the instance's relay, never a published port.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { PriceTable } from '../../config.js';
import { AuthError, ConflictError, NotFoundError, NotImplementedError, RateLimitError, ValidationError } from '@faas/sdk/errors';
import { SNAPSHOT_FILES_DIR, SSH_USER, archiveFiles, deleteFiles, instancePath, launchJupyter, launchVNC, launchVSCode, listFiles, publicKeyFingerprint, unpackFiles } from '../../sandbox/index.js';
import type { InstanceManager, Launched, MuxChannel, SnapshotEngine } from '../../sandbox/index.js';
import { sha256 } from '../../store/index.js';
import type { ApiKey, InstanceRecord, InstanceStore, UsageStore } from '../../store/index.js';
import { TOKEN_COOKIE, TOKEN_PARAM, crossSite, exposureHost, proxyHttp, proxyUpgrade } from '../proxy.js';
import type { ProxyConnector, ProxyTarget } from '../proxy.js';
import type { CreditGuard } from './credit.js';
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
      // Mode `instance` (not an execution mode); the network opt-in is recorded in it: instance+network.
      usage.record({ executionId: r.id, keyId: r.keyId, language: r.language, mode: r.network ? 'instance+network' : 'instance', startedAt: r.createdAt, finishedAt, exitCode: null, cpuSeconds: r.cpuSeconds, memoryGbSeconds, cost });
    } catch (err) {
      log.error({ err: (err as Error).message, instance: r.id }, 'instance usage not written');
    }
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

export class InstanceService {
  private readonly manager: InstanceManager;
  private readonly store: InstanceStore;
  /** Upgraded proxy connections and tunnels, cut when the API closes. */
  private readonly open = new Set<Duplex>();
  /** Where the proxy's connections go: the instance's relay. */
  private readonly connector: ProxyConnector;

  constructor(private readonly d: InstanceServiceDeps) {
    this.manager = d.manager;
    this.store = d.store;
    this.connector = { connect: (id, port) => this.manager.connect(id, port), log: d.log };
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

  // ---- Jupyter, VNC, VS Code (the devbox's launchers, behind exposed URLs) -------------------

  /** Launches a devbox service (sandbox/instances/launchers.ts) in the key's running instance and exposes its port. */
  private async launch(key: ApiKey, id: string, name: string, base: string, start: (origin: string) => Promise<Launched>, stripPrefix = true): Promise<{ url: string; accessToken: string; secret: string | null }> {
    const r = this.own(key, id);
    if (r.status !== 'running') throw new ConflictError('status', `instance ${id} is ${r.status}`);
    const l = await start(this.url(base, id, name).slice(0, -1));
    const e = this.expose(key, id, { name, port: l.port, stripPrefix }, base);
    return { url: e.url, accessToken: e.token!, secret: l.secret };
  }

  /** Jupyter Notebook at its own host (its own token too); `url` carries both tokens. */
  async launchJupyter(key: ApiKey, id: string, base: string): Promise<JupyterInfo> {
    const l = await this.launch(key, id, 'jupyter', base, (origin) => launchJupyter(this.manager, id, origin));
    return { url: `${l.url}?${TOKEN_PARAM}=${l.accessToken}&token=${l.secret!}`, token: l.secret!, accessToken: l.accessToken };
  }

  /** A VNC desktop with noVNC at its own host; the VNC password. */
  async launchVNC(key: ApiKey, id: string, base: string): Promise<VncInfo> {
    const l = await this.launch(key, id, 'vnc', base, (origin) => launchVNC(this.manager, id, origin));
    return { url: `${l.url}?${TOKEN_PARAM}=${l.accessToken}`, password: l.secret!, accessToken: l.accessToken };
  }

  /**
   * VS Code in the browser on its own host; the exposed URL's token is its only lock. It keeps
   * /i/<id>/vscode/ as its base path (stripPrefix false puts it before `/`).
   */
  async launchVSCode(key: ApiKey, id: string, base: string): Promise<VSCodeInfo> {
    const l = await this.launch(key, id, 'vscode', base, (origin) => launchVSCode(this.manager, id, origin, `/i/${id}/vscode/`), false);
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

  /** Sends one HTTP request to the exposed port and its answer back (api/proxy.ts). */
  proxyHttp(req: IncomingMessage, res: ServerResponse, t: ProxyTarget): void {
    proxyHttp(req, res, t, this.connector);
  }

  /** A WebSocket (or any HTTP upgrade) to the exposed port; cut when the API closes. */
  async proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: ProxyTarget): Promise<void> {
    const ch = await proxyUpgrade(req, socket, head, t, this.connector);
    if (!ch || socket.destroyed) return;
    this.open.add(socket);
    socket.on('close', () => this.open.delete(socket));
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

  async exec(key: ApiKey, id: string, body: InstanceExecBody): Promise<InstanceExecResult> {
    this.own(key, id);
    let cmd = typeof body.command === 'string' ? ['bash', '-lc', body.command] : body.command;
    const timeoutS = body.timeoutMs ? Math.max(1, Math.ceil(body.timeoutMs / 1000)) : null;
    if (timeoutS) cmd = ['timeout', '-s', 'KILL', String(timeoutS), ...cmd];
    const input = body.stdin === undefined ? undefined : typeof body.stdin === 'string' ? body.stdin : Buffer.from(body.stdin.base64, 'base64');
    const env = Object.entries(body.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const t0 = Date.now();
    const r = await this.manager.exec(id, cmd, { input, env: env.length ? env : undefined, workingDir: instancePath(body.cwd ?? '.'), maxBytes: 4 << 20 });
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
    const release = this.fileOp(key);
    try {
      return await listFiles(this.manager, id, instancePath(path));
    } finally {
      release();
    }
  }

  /** A tar stream of `path`, or of `entries` under it; holds a file-operation slot until read to its end. */
  async archive(key: ApiKey, id: string, path: string, entries?: string[]): Promise<Readable> {
    this.own(key, id);
    return archiveFiles(this.manager, id, instancePath(path), entries, this.fileOp(key));
  }

  /** Unpacks a tar stream into `path` (created if missing). */
  async upload(key: ApiKey, id: string, path: string, body: Readable): Promise<{ path: string; bytes: number }> {
    this.own(key, id);
    return unpackFiles(this.manager, id, instancePath(path), body);
  }

  async deleteFiles(key: ApiKey, id: string, path: string, entries: string[]): Promise<{ deleted: number }> {
    this.own(key, id);
    return deleteFiles(this.manager, id, instancePath(path), entries);
  }

  /** Cuts every proxied connection and tunnel (the API is closing); the instances go on. */
  closeConnections(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}
