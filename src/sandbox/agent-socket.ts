// The direct host <-> agent channel of an execution container: a unix socket the host listens
// on in a directory of its own for that container (root's, mounted read-only at
// AGENT_SOCKET_MOUNT). Frames otherwise cross Docker's attach relay (dockerd, containerd-shim
// and their fifos, several process hops each way; measured here: a paced round trip 0.69 vs
// 1.0-1.2 ms); over the socket they take one. The agent (agent/faas_agent/host_socket.py)
// connects once as it starts, before any user code runs; the first connection is taken, the
// listener closed and the socket and directory removed. The container never has anything of
// the host's that it can write to: the mount is read-only, and the socket file is the host's.
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';

/** Where the directory is mounted in the container, and the socket's name in it. */
export const AGENT_SOCKET_MOUNT = '/run/faas-agent';
export const AGENT_SOCKET_PATH = `${AGENT_SOCKET_MOUNT}/agent.sock`;
/** sun_path holds 107 bytes and a NUL. */
const MAX_SOCKET_PATH = 107;
/** What a container's socket adds to the engine's directory: `/<12 chars>/agent.sock`. */
const SOCKET_SUFFIX = 1 + 12 + '/agent.sock'.length;
/** A crashed operator's directories go once this old (another operator's live ones are younger). */
const STALE_MS = 60 * 60_000;

/** One container's listening socket on the host, until its agent connects. */
export interface AgentSocket {
  hostDir: string;
  /** The agent's connection (the first one made); rejects if the listener fails. */
  connection: Promise<Socket>;
  /** Stops listening and removes the socket and directory (idempotent). */
  close(): void;
}

/**
 * Makes the per-container listening sockets under `root/<pid>-<random>/`. Null from `open`
 * when the host cannot give a socket to a sandbox uid (not root, a remote Docker engine, a
 * root path too long for a socket, or not writable): then containers talk over the attach
 * stream, as before.
 */
export class AgentSocketDirs {
  private constructor(private readonly dir: string, private readonly log: Logger) {}

  static open(root: string | null, dockerHost: string | undefined, log: Logger): AgentSocketDirs | null {
    const off = (why: string) => {
      log.info({ root, why }, 'direct agent channel off: frames go over the attach stream');
      return null;
    };
    if (!root) return null;
    if (process.getuid?.() !== 0) return off('the operator is not root (it must give each socket to a sandbox uid)');
    if (dockerHost && !dockerHost.startsWith('unix://')) return off('the Docker engine is remote');
    try {
      mkdirSync(root, { recursive: true, mode: 0o700 });
      // Everything under it is made, chowned and removed as root: it must be root's alone (a
      // directory another user could write to would let them swap in links to host files).
      const st = lstatSync(root);
      if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) return off('the directory is not root-owned and closed to others');
      sweepStale(root);
      // One directory per engine (a process may run several): `<pid>-<random>`.
      const dir = join(root, `${process.pid}-${randomBytes(6).toString('hex')}`);
      if (Buffer.byteLength(dir) + SOCKET_SUFFIX > MAX_SOCKET_PATH) return off(`socket paths there would be over ${MAX_SOCKET_PATH} bytes`);
      mkdirSync(dir, { mode: 0o700 });
      return new AgentSocketDirs(dir, log);
    } catch (err) {
      return off((err as Error).message);
    }
  }

  /** A socket only `uid` (the container's sandbox user) may connect to, listening now. */
  async listen(uid: number): Promise<AgentSocket> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 }); // back if a sweep took it
    const hostDir = join(this.dir, randomBytes(9).toString('base64url'));
    // 0700 until the socket is the container's; then 0711: its uid needs to pass through this
    // one directory (the mount's root), not its parents (the mount is made by the engine).
    mkdirSync(hostDir, { mode: 0o700 });
    const path = join(hostDir, 'agent.sock');
    const server: Server = createServer({ pauseOnConnect: true });
    const close = () => {
      server.close();
      try {
        unlinkSync(path);
      } catch {
        /* not made, or gone */
      }
      try {
        rmdirSync(hostDir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err, hostDir }, 'could not remove an agent socket directory');
      }
    };
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      chownSync(path, uid, uid);
      chmodSync(path, 0o600);
      chmodSync(hostDir, 0o711);
    } catch (err) {
      close();
      throw err;
    }
    const connection = new Promise<Socket>((resolve, reject) => {
      server.once('connection', (s) => {
        close(); // one connection, ever: the agent's, made before any user code ran
        resolve(s);
      });
      server.once('error', reject);
    });
    connection.catch(() => undefined); // the caller may be gone by then
    return { hostDir, connection, close };
  }

  /** Removes this engine's directory (at shutdown). */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Directories of operator processes that are gone (a crash leaves them behind): `<pid>-…`,
 *  the pid not alive here and the directory untouched for an hour (an operator in another PID
 *  namespace sharing the root has a pid this one cannot see). */
function sweepStale(root: string): void {
  const now = Date.now();
  for (const name of readdirSync(root)) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      if (now - statSync(join(root, name)).mtimeMs < STALE_MS) continue;
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(root, name), { recursive: true, force: true });
    }
  }
}
