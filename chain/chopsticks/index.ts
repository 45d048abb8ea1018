// chopsticks (@acala-network/chopsticks) as a child process on 127.0.0.1: a real Tangle
// runtime to test the chain plumbing against. Genesis mode boots the 2024 Tangle testnet
// spec offline; fork mode forks a live endpoint (or any node serving the state RPCs).
// Its own logs go to a file in its temp dir (and a tail kept for error messages), never to
// our output. `restart()` kills it and resumes the same chain from its sqlite db.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiPromise } from '@polkadot/api';
import Database from 'better-sqlite3';
import WebSocket from 'ws';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHOPSTICKS_BIN = join(REPO_ROOT, 'node_modules/@acala-network/chopsticks/chopsticks.cjs');

/** The 2024 Tangle testnet spec prepared for chopsticks (see ../shared/chain/README.md); `FAAS_CHOPSTICKS_GENESIS` overrides it. */
export function defaultGenesisPath(): string {
  return process.env.FAAS_CHOPSTICKS_GENESIS ?? resolve(REPO_ROOT, '../shared/chain/tangle-testnet-2024-01-chopsticks.json');
}

export interface ChopsticksOptions {
  /** Fork this live endpoint (fork mode). Without it: genesis mode. */
  endpoint?: string | string[];
  /** Fork mode: the block (number or hash) to fork at; default the endpoint's head. */
  block?: number | string;
  /** Genesis mode: path of the raw chain spec; default `defaultGenesisPath()`. */
  genesis?: string;
  host?: string;
  /** 0 or unset: a free port. */
  port?: number;
  /** Instant (default): a block per transaction. */
  buildBlockMode?: 'Instant' | 'Batch' | 'Manual';
  /** How long to wait for "RPC listening"; default 60 s (genesis), 180 s (fork). */
  readyTimeoutMs?: number;
  /** Progress lines (starting, ready, restarting, stopped). Default: silent. */
  progress?: (line: string) => void;
  /** More chopsticks config keys (e.g. `wasm-override`, `runtime-log-level`). */
  config?: Record<string, unknown>;
}

export interface Chopsticks {
  /** ws://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly mode: 'genesis' | 'fork';
  /** Its temp dir (config, sqlite db, log); removed by `stop()`. */
  readonly dir: string;
  readonly logFile: string;
  /** The last part of chopsticks' own output. */
  output(): string;
  /** A JSON-RPC call over HTTP (e.g. `dev_newBlock`). */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  /**
   * `dev_setStorage` on the head. chopsticks keeps such values in memory only (its db holds
   * what blocks changed), so `restart()` writes the current values of `keys` — the raw
   * storage keys this call sets — back on the resumed head.
   */
  setStorage(storage: unknown, keys: string[]): Promise<void>;
  /** Kills it and boots it again on the same port, resuming the same chain (never a lower head). */
  restart(): Promise<void>;
  /** Kills it and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

const TAIL_CHARS = 8_000;
// pino-pretty colours only when asked; strip any colour codes before matching.
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const LISTENING = /RPC listening on http:\/\/(\S+) and ws:\/\/(\S+)/;

async function freePort(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** The whole lines among the last 3000 characters. */
const lastLines = (text: string) => text.slice(-3000).replace(/^[^\n]*\n/, '').trimEnd();

/** Resolves once `url` answers a JSON-RPC call over WebSocket (rejects after `timeoutMs`). */
async function probeEndpoint(url: string, timeoutMs = 30_000): Promise<void> {
  const ws = new WebSocket(url);
  ws.on('error', () => {}); // reported through the promise below; terminate() may emit another
  try {
    await new Promise<void>((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
      ws.once('error', (err) => {
        clearTimeout(timer);
        rej(err);
      });
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'chain_getBlockHash', params: [] })));
      ws.once('message', () => {
        clearTimeout(timer);
        res();
      });
    });
  } finally {
    ws.terminate();
  }
}

/** One JSON-RPC call over HTTP to a node at a ws:// or http:// URL. */
export async function rpcCall<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url.replace(/^ws/, 'http'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: 1, jsonrpc: '2.0', method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result as T;
}

// Flat YAML: each value as a JSON scalar, which YAML reads as is.
const toYaml = (config: Record<string, unknown>) =>
  Object.entries(config)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}\n`)
    .join('');

export async function startChopsticks(opts: ChopsticksOptions = {}): Promise<Chopsticks> {
  const mode = opts.endpoint ? 'fork' : 'genesis';
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port || (await freePort(host));
  const genesis = opts.genesis ?? defaultGenesisPath();
  if (mode === 'genesis' && !existsSync(genesis)) {
    throw new Error(`chopsticks genesis mode: no chain spec at ${genesis} (set FAAS_CHOPSTICKS_GENESIS, or see ../shared/chain/README.md)`);
  }
  if (!existsSync(CHOPSTICKS_BIN)) throw new Error(`chopsticks is not installed (${CHOPSTICKS_BIN}); run npm ci`);
  const readyTimeoutMs = opts.readyTimeoutMs ?? (mode === 'fork' ? 180_000 : 60_000);
  const progress = opts.progress ?? (() => {});
  if (mode === 'fork') {
    // chopsticks retries an unreachable endpoint until our timeout; say so at once instead.
    const endpoints = [opts.endpoint!].flat();
    const reached = await Promise.allSettled(endpoints.map((e) => probeEndpoint(e)));
    if (reached.every((r) => r.status === 'rejected')) {
      throw new Error(`chopsticks fork mode: cannot reach ${endpoints.map((e, i) => `${e} (${((reached[i] as PromiseRejectedResult).reason as Error).message})`).join(', ')}`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'faas-chopsticks-'));
  const configFile = join(dir, 'config.yml');
  const dbFile = join(dir, 'chain.sqlite');
  const logFile = join(dir, 'chopsticks.log');
  const config = {
    host,
    port,
    'build-block-mode': opts.buildBlockMode ?? 'Instant',
    // The 2024 runtime imports an EVM tracing host function chopsticks lacks (never called).
    'allow-unresolved-imports': true,
    db: dbFile,
    ...(mode === 'fork' ? { endpoint: opts.endpoint, block: opts.block } : { genesis }),
    ...opts.config,
  };
  const what = mode === 'fork' ? `fork of ${String(opts.endpoint)}${opts.block !== undefined ? ` at ${opts.block}` : ''}` : `genesis ${genesis}`;

  let child: ChildProcess | null = null;
  let log: WriteStream | null = null;
  let tail = '';
  let stopped = false;
  const setKeys = new Set<string>();
  // If this process ends without stop(), leave neither a 300 MB chopsticks nor its dir behind.
  const killOnExit = () => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', killOnExit);

  const boot = async (resume: { restore?: string } | false): Promise<string> => {
    writeFileSync(configFile, toYaml({ ...config, resume: resume ? true : undefined, 'import-storage': resume ? resume.restore : undefined }));
    log = createWriteStream(logFile, { flags: 'a' });
    // chopsticks reads LOG_LEVEL (default info). Its "RPC listening" line is an info line, so
    // info it stays — it goes to the log file, not our output; LOG_COMPACT drops the objects.
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', LOG_COMPACT: 'true', NO_COLOR: '1' };
    // chopsticks takes PORT from the environment over its config.
    delete env.PORT;
    delete env.FORCE_COLOR;
    const proc = spawn(process.execPath, [CHOPSTICKS_BIN, '--config', configFile], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    const started = Date.now();
    return new Promise<string>((res, rej) => {
      let seen = '';
      let ready = false;
      const timer = setTimeout(() => fail(`did not report "RPC listening" within ${readyTimeoutMs / 1000} s`), readyTimeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        rej(new Error(`chopsticks (${what}) ${why}; its last output:\n${lastLines(tail)}`));
      };
      const onData = (chunk: Buffer) => {
        const text = chunk.toString().replace(ANSI, '');
        log?.write(text);
        tail = (tail + text).slice(-TAIL_CHARS);
        if (ready) return;
        seen += text;
        const m = LISTENING.exec(seen);
        if (m) {
          clearTimeout(timer);
          ready = true;
          progress(`chopsticks (${what}) listening on ws://${m[2]} after ${((Date.now() - started) / 1000).toFixed(1)} s`);
          res(`ws://${m[2]}`);
        } else if (seen.length > 2 * TAIL_CHARS) seen = seen.slice(-TAIL_CHARS);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('error', (err) => fail(`could not be started: ${err.message}`));
      // 'close': after its output was read to the end, so the tail holds its last words.
      proc.once('close', (code, signal) => {
        if (ready && child === proc) progress(`chopsticks (${what}) exited by itself (${signal ?? `code ${code}`}); its last output:\n${lastLines(tail)}`);
        if (child === proc) child = null;
        if (!ready) fail(`exited (${signal ?? `code ${code}`}) before it was ready`);
      });
    });
  };

  const kill = async () => {
    const proc = child;
    child = null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((res) => proc.once('exit', () => res()));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    }
    const l = log;
    log = null;
    if (l) await new Promise<void>((res) => l.end(res));
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await kill();
    process.off('exit', killOnExit);
    rmSync(dir, { recursive: true, force: true });
    progress(`chopsticks (${what}) stopped`);
  };

  progress(`chopsticks (${what}): starting on ${host}:${port}, log ${logFile}`);
  let url: string;
  try {
    url = await boot(false);
  } catch (err) {
    await stop();
    throw err;
  }

  const rpc = <T>(method: string, params: unknown[] = []) => rpcCall<T>(url, method, params);
  const headOf = async () => {
    const h = await rpc<{ number: string }>('chain_getHeader');
    return { number: Number(h.number), hash: await rpc<string>('chain_getBlockHash', [Number(h.number)]) };
  };

  return {
    url,
    port,
    mode,
    dir,
    logFile,
    output: () => tail,
    rpc,
    async setStorage(storage, keys) {
      await rpc('dev_setStorage', [storage]);
      for (const k of keys) setKeys.add(k);
    },
    async restart() {
      if (stopped) throw new Error('chopsticks was stopped');
      const before = await headOf();
      // What dev_setStorage set, as it is now, to be set again after the restart.
      const restore = await Promise.all([...setKeys].map(async (k) => [k, await rpc<string | null>('state_getStorage', [k])]));
      const restoreFile = join(dir, 'restore-storage.json');
      writeFileSync(restoreFile, JSON.stringify(restore));
      // chopsticks announces a new head before it writes the block to its db: wait for the
      // write, or the resumed chain could be a block short.
      await waitForBlockInDb(dbFile, before.hash);
      progress(`chopsticks (${what}): restarting at #${before.number}`);
      await kill();
      try {
        url = await boot(restore.length ? { restore: restoreFile } : {});
      } catch (err) {
        await stop();
        throw err;
      }
      const after = await headOf();
      if (after.number < before.number) {
        throw new Error(`chopsticks resumed at #${after.number}, below #${before.number} where it was stopped; its last output:\n${lastLines(tail)}`);
      }
    },
    stop,
  };
}

async function waitForBlockInDb(dbFile: string, hash: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let found = false;
    if (existsSync(dbFile)) {
      const db = new Database(dbFile, { readonly: true, fileMustExist: true });
      try {
        found = db.prepare('SELECT 1 FROM block WHERE hash = ?').get(hash) !== undefined;
      } catch {
        // the table is created by chopsticks; not there yet
      } finally {
        db.close();
      }
    }
    if (found) return;
    if (Date.now() > deadline) throw new Error(`chopsticks did not save block ${hash} to ${dbFile} within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** Sets accounts' free balance (`System.Account`), keeping the rest of each account (nonce, reserves) as the chain has it. */
export async function fundAccounts(node: Pick<Chopsticks, 'setStorage'>, api: ApiPromise, balances: Record<string, bigint>): Promise<void> {
  const account = api.query.system!.account!;
  const entries = await Promise.all(
    Object.entries(balances).map(async ([address, free]) => {
      const info = (await account(address)).toJSON() as { providers: number; data: Record<string, unknown> };
      return [[address], { ...info, providers: Math.max(info.providers, 1), data: { ...info.data, free: free.toString() } }];
    }),
  );
  await node.setStorage({ System: { Account: entries } }, Object.keys(balances).map((a) => account.key(a)));
}

/** Makes `address` the sudo key (`Sudo.Key`). */
export async function setSudoKey(node: Pick<Chopsticks, 'setStorage'>, api: ApiPromise, address: string): Promise<void> {
  await node.setStorage({ Sudo: { Key: address } }, [api.query.sudo!.key!.key()]);
}
