// `faas.instances`: persistent instances from TypeScript — start / get / list / stop, pause and
// resume, SSH, exposed URLs, port forwards, file copies and sync, exec, and the Jupyter, VNC
// and VS Code launchers. Everything goes through the gateway; a port forward is a local TCP
// listener whose connections each ride a WebSocket to the gateway and on into the instance.
import { createHash } from 'node:crypto';
import { lstat, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { homedir } from 'node:os';
import { basename, dirname, join, posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import WebSocket, { createWebSocketStream } from 'ws';
import { ValidationError, errorFromBody } from '../errors.js';
import type { ErrorBody } from '../errors.js';
import type { Exposure, FileList, InstanceExecResult, InstanceInfo, InstanceStartBody, JupyterInfo, SshInfo, VncInfo, VSCodeInfo } from '../wire/index.js';
import { IgnoreMatcher, extractTar, localEntries, parseIgnore, walkLocal } from './files.js';
import type { FileMeta } from './files.js';
import { planSync } from './sync.js';
import type { SyncDirection } from './sync.js';
import { writeTar } from './tar.js';

/** What the instances API needs from its client: JSON calls with retries, and the raw means. */
export interface InstancesTransport {
  call<T>(method: string, path: string, body: unknown, o: { idempotent: boolean; timeoutMs?: number }): Promise<T>;
  endpoint(): string;
  apiKey(): string;
  /** Per-request timeout, ms. */
  timeout(): number;
}

export type StartInstanceParams = InstanceStartBody;

export interface PortForward {
  localPort: number;
  remotePort: number;
  /** Connections open right now. */
  readonly connections: number;
  /** Stops listening and cuts the open connections. */
  close(): Promise<void>;
}

export interface CopyFilesParams {
  direction: 'upload' | 'download';
  localPath: string;
  /** Absolute, or relative to the instance's HOME (/home/sandbox). It is the copy itself (not a folder to copy into). */
  remotePath: string;
}

export interface SyncFilesParams {
  localDir: string;
  remoteDir: string;
  /** gitignore-style globs left out on both sides (`node_modules/`, `*.log`, `/build`, `!keep.log`). */
  exclude?: string[];
  /** Also leave out what the local .gitignore files say (and `.git/`). */
  useGitignore?: boolean;
  /** Report what would move, move nothing. */
  dryRun?: boolean;
  /** Two-way: changes on either side go to the other; newest wins where both changed. */
  bidirectional?: boolean;
  /** One-way direction (default upload: the instance's tree becomes the local one). */
  direction?: SyncDirection;
  /** Where the two-way state is kept (default ~/.cache/faas/sync/). */
  statePath?: string;
}

export interface SyncSummary {
  dryRun: boolean;
  uploaded: string[];
  downloaded: string[];
  deletedRemote: string[];
  deletedLocal: string[];
  conflicts: Array<{ path: string; winner: 'local' | 'remote' }>;
  bytesUploaded: number;
  bytesDownloaded: number;
}

const seg = encodeURIComponent;

/** An answer with a URL that prints as that URL (`${exposure}`, String(exposure)); its fields,
 *  JSON included, are the API's. */
export type Launched<T extends { url: string }> = T & { toString(): string };
/** What `expose` resolves with: the exposure (`url`, `token`, `name`, `port`), printing as its URL. */
export type ExposedUrl = Launched<Exposure>;

function printsAsUrl<T extends { url: string }>(answer: T): Launched<T> {
  // Not enumerable: JSON and spreading see the API's fields only.
  Object.defineProperty(answer, 'toString', { value: () => answer.url, enumerable: false, configurable: true, writable: true });
  return answer;
}

export class InstancesApi {
  constructor(private readonly t: InstancesTransport) {}

  private post<T>(id: string, action: string, body: unknown = {}, timeoutMs?: number): Promise<T> {
    return this.t.call<T>('POST', `/v1/instances/${seg(id)}/${action}`, body, { idempotent: false, timeoutMs });
  }

  /** Starts an instance; resolves once its SSH server answers. */
  start(params: StartInstanceParams = {}): Promise<InstanceInfo> {
    return this.t.call('POST', '/v1/instances', params, { idempotent: false, timeoutMs: this.t.timeout() + 30_000 });
  }

  get(id: string): Promise<InstanceInfo> {
    return this.t.call('GET', `/v1/instances/${seg(id)}`, undefined, { idempotent: true });
  }

  async list(): Promise<InstanceInfo[]> {
    return (await this.t.call<{ instances: InstanceInfo[] }>('GET', '/v1/instances', undefined, { idempotent: true })).instances;
  }

  /** Stops it and removes everything of it (idempotent). */
  stop(id: string): Promise<InstanceInfo> {
    return this.t.call('DELETE', `/v1/instances/${seg(id)}`, undefined, { idempotent: true });
  }

  /** Freezes every process (memory kept; no CPU used or counted). */
  pause(id: string): Promise<InstanceInfo> {
    return this.post(id, 'pause');
  }

  resume(id: string): Promise<InstanceInfo> {
    return this.post(id, 'resume');
  }

  /** `{host, port, username, privateKey}`: the private key only the first time (or with `rotateKey`, a new pair). */
  getSshInfo(id: string, o: { rotateKey?: boolean } = {}): Promise<SshInfo> {
    return this.post(id, 'ssh', o);
  }

  /** Exposes a port on an origin of its own, `http://<id>-<name>.<FAAS_EXPOSE_DOMAIN>:<gateway port>/` (`url`; HTTP and WebSocket), for the owner's key or the returned token. */
  async expose(id: string, params: { name: string; port: number; stripPrefix?: boolean }): Promise<ExposedUrl> {
    return printsAsUrl(await this.post<Exposure>(id, 'expose', params));
  }

  async exposures(id: string): Promise<Exposure[]> {
    return (await this.t.call<{ exposures: Exposure[] }>('GET', `/v1/instances/${seg(id)}/exposures`, undefined, { idempotent: true })).exposures;
  }

  unexpose(id: string, name: string): Promise<{ removed: boolean }> {
    return this.t.call('DELETE', `/v1/instances/${seg(id)}/exposures/${seg(name)}`, undefined, { idempotent: true });
  }

  /** Runs a command in the instance (a string runs under `bash -lc`). */
  exec(id: string, params: { command: string | string[]; stdin?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number }): Promise<InstanceExecResult> {
    return this.post(id, 'exec', params, this.t.timeout() + (params.timeoutMs ?? 0));
  }

  /** Jupyter Notebook at its own host, `<id>-jupyter.<domain>`: `url` opens as it is (it carries the exposed URL's token and Jupyter's). */
  async launchJupyter(id: string): Promise<Launched<JupyterInfo>> {
    return printsAsUrl(await this.post<JupyterInfo>(id, 'jupyter', {}, this.t.timeout() + 60_000));
  }

  /** A VNC desktop with noVNC at `<id>-vnc.<domain>`; the page asks for `password`. */
  async launchVNC(id: string): Promise<Launched<VncInfo>> {
    return printsAsUrl(await this.post<VncInfo>(id, 'vnc', {}, this.t.timeout() + 60_000));
  }

  /** VS Code in the browser at `<id>-vscode.<domain>` (the exposed URL's token is its lock). */
  async launchVSCode(id: string): Promise<Launched<VSCodeInfo>> {
    return printsAsUrl(await this.post<VSCodeInfo>(id, 'vscode', {}, this.t.timeout() + 60_000));
  }

  // ---- port forwards ------------------------------------------------------------------------

  /** Listens on `localPort` (127.0.0.1; 0: any free port) and tunnels each connection to `remotePort` in the instance. */
  async createPortForward(id: string, params: { localPort: number; remotePort: number; host?: string }): Promise<PortForward> {
    await this.get(id); // a clear error now (404, auth) rather than on the first connection
    const url = `${this.t.endpoint().replace(/^http/, 'ws')}/v1/instances/${seg(id)}/tunnel?port=${params.remotePort}`;
    const sockets = new Set<Socket>();
    const server: Server = createServer((sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.pause();
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${this.t.apiKey()}` }, perMessageDeflate: false });
      const stream = createWebSocketStream(ws);
      stream.on('error', () => sock.destroy());
      sock.on('error', () => stream.destroy());
      stream.on('close', () => sock.destroy());
      sock.on('close', () => stream.destroy());
      ws.once('open', () => sock.resume());
      sock.pipe(stream);
      stream.pipe(sock);
    });
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(params.localPort, params.host ?? '127.0.0.1', () => {
        server.off('error', rej);
        res();
      });
    });
    const addr = server.address();
    return {
      localPort: typeof addr === 'object' && addr ? addr.port : params.localPort,
      remotePort: params.remotePort,
      get connections() {
        return sockets.size;
      },
      close: () =>
        new Promise<void>((res) => {
          for (const s of sockets) s.destroy();
          server.close(() => res());
        }),
    };
  }

  // ---- files ----------------------------------------------------------------------------------

  /** A raw call: the body streamed, the answer as a stream (tar) or JSON; errors as FaaSErrors. */
  private async raw(method: 'PUT' | 'POST', path: string, body: Readable | string, contentType: string): Promise<Readable> {
    const res = await request(this.t.endpoint() + path, {
      method,
      headers: { authorization: `Bearer ${this.t.apiKey()}`, 'content-type': contentType },
      body,
      headersTimeout: this.t.timeout(),
      bodyTimeout: this.t.timeout(),
    });
    if (res.statusCode >= 300) {
      const text = await res.body.text();
      let parsed: Partial<ErrorBody> | null = null;
      try {
        parsed = JSON.parse(text) as ErrorBody;
      } catch {
        parsed = null;
      }
      throw errorFromBody(parsed, res.statusCode);
    }
    return res.body as unknown as Readable;
  }

  private async uploadTar(id: string, remoteDir: string, entries: AsyncIterable<Buffer>): Promise<number> {
    const out = await this.raw('PUT', `/v1/instances/${seg(id)}/files?path=${seg(remoteDir)}`, Readable.from(entries), 'application/x-tar');
    const r = JSON.parse(await new Response(Readable.toWeb(out) as ReadableStream).text()) as { bytes: number };
    return r.bytes;
  }

  private async downloadTar(id: string, body: { path: string; entries?: string[] }): Promise<Readable> {
    return this.raw('POST', `/v1/instances/${seg(id)}/files/archive`, JSON.stringify(body), 'application/json');
  }

  /** Lists the tree under a path in the instance. */
  listFiles(id: string, path: string): Promise<FileList> {
    return this.post(id, 'files/list', { path });
  }

  /**
   * Copies a file or a directory tree between here and the instance (binary-safe; modes, times
   * and symbolic links kept). The destination path is the copy itself; an existing directory
   * there is merged into.
   */
  async copyFiles(id: string, p: CopyFilesParams): Promise<{ files: number; bytes: number }> {
    if (p.direction === 'upload') {
      const local = resolve(p.localPath);
      const remote = p.remotePath.replace(/\/+$/, '') || '/';
      const top = posix.basename(remote);
      const names: Array<[string, string]> = [[top, '']];
      const st = await lstat(local);
      let files = st.isFile() ? 1 : 0;
      if (st.isDirectory()) {
        for (const [rel, m] of await walkLocal(local, new IgnoreMatcher(), false)) {
          names.push([`${top}/${rel}`, rel]);
          if (m.type === 'file') files++;
        }
      }
      const bytes = await this.uploadTar(id, posix.dirname(remote), writeTar(localEntries(local, names)));
      return { files, bytes };
    }
    const remote = p.remotePath.replace(/\/+$/, '');
    const top = posix.basename(remote);
    const local = resolve(p.localPath);
    const tar = await this.downloadTar(id, { path: remote });
    const want = basename(local);
    const r = await extractTar(tar, dirname(local), { rename: (n) => (n === top ? want : n.startsWith(`${top}/`) ? `${want}/${n.slice(top.length + 1)}` : null), self: want });
    return { files: r.files, bytes: r.bytes };
  }

  /**
   * Syncs a local directory with one in the instance: one-way (the target becomes the source,
   * deletions included) or two-way (newest wins where both sides changed; deletions on either
   * side carried over, judged against the last sync's state). Excludes are gitignore-style.
   */
  async syncFiles(id: string, p: SyncFilesParams): Promise<SyncSummary> {
    const localDir = resolve(p.localDir);
    await mkdir(localDir, { recursive: true });
    const matcher = new IgnoreMatcher();
    matcher.add(parseIgnore(p.exclude ?? []));
    if (p.useGitignore) matcher.add(parseIgnore(['.git/']));
    const local = await walkLocal(localDir, matcher, Boolean(p.useGitignore));
    const listing = await this.listFiles(id, p.remoteDir);
    if (listing.exists && listing.type !== 'dir') throw new ValidationError('remoteDir', `${p.remoteDir} in the instance is not a directory`);
    const remote = new Map<string, FileMeta>();
    for (const e of listing.entries) {
      if (!matcher.ignores(e.path, e.type === 'dir')) remote.set(e.path, { type: e.type, size: e.size, mtimeMs: e.mtimeMs, mode: e.mode, ...(e.target !== undefined ? { target: e.target } : {}) });
    }
    const statePath = p.statePath ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'faas', 'sync', `${createHash('sha256').update(`${this.t.endpoint()}\0${id}\0${localDir}\0${listing.path}`).digest('hex').slice(0, 32)}.json`);
    const base = p.bidirectional ? ((await readFile(statePath, 'utf8').then((t) => JSON.parse(t) as Record<string, FileMeta>).catch(() => null)) ?? null) : null;
    const plan = planSync(local, remote, { bidirectional: Boolean(p.bidirectional), direction: p.direction ?? 'upload', base });
    const summary: SyncSummary = {
      dryRun: Boolean(p.dryRun),
      uploaded: plan.upload,
      downloaded: plan.download,
      deletedRemote: plan.deleteRemote,
      deletedLocal: plan.deleteLocal,
      conflicts: plan.conflicts,
      bytesUploaded: plan.upload.reduce((n, q) => n + (local.get(q)?.size ?? 0), 0),
      bytesDownloaded: plan.download.reduce((n, q) => n + (remote.get(q)?.size ?? 0), 0),
    };
    if (p.dryRun) return summary;
    if (plan.deleteRemote.length) await this.post(id, 'files/delete', { path: listing.path, entries: plan.deleteRemote });
    for (const q of plan.deleteLocal) await rm(join(localDir, ...q.split('/')), { recursive: true, force: true });
    if (plan.upload.length) await this.uploadTar(id, listing.path, writeTar(localEntries(localDir, plan.upload.map((q) => [q, q]))));
    if (plan.download.length) await extractTar(await this.downloadTar(id, { path: listing.path, entries: plan.download }), localDir);
    if (p.bidirectional) {
      await mkdir(dirname(statePath), { recursive: true });
      await writeFile(statePath, JSON.stringify(plan.state));
    }
    return summary;
  }
}
