// The direct host <-> agent channel of an execution container: a unix socket the agent listens
// on in a directory the host made for that container alone (bind-mounted at
// AGENT_SOCKET_MOUNT). Frames otherwise cross Docker's attach relay (dockerd, containerd-shim
// and their fifos, several process hops each way; measured here ≈ 2 ms per round trip on an
// idle machine); over the socket they take one. The agent side is agent/faas_agent/host_socket.py.
import { chownSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

/** Where the directory is mounted in the container, and the socket's name in it. */
export const AGENT_SOCKET_MOUNT = '/run/faas-agent';
export const AGENT_SOCKET_PATH = `${AGENT_SOCKET_MOUNT}/agent.sock`;

/** One container's socket directory on the host. */
export interface AgentSocketDir {
  hostDir: string;
  uid: number;
}

/**
 * Makes and removes the per-container directories under `root/<this pid>-<random>/`. Null from
 * `open` when the host cannot give a directory to a sandbox uid (not root, a remote Docker
 * engine): then containers talk over the attach stream, as before.
 */
export class AgentSocketDirs {
  private constructor(private readonly dir: string) {}

  static open(root: string | null, dockerHost: string | undefined): AgentSocketDirs | null {
    if (!root || process.getuid?.() !== 0) return null;
    if (dockerHost && !dockerHost.startsWith('unix://')) return null; // the engine must see our files
    try {
      mkdirSync(root, { recursive: true, mode: 0o711 });
      sweepDeadOwners(root);
      // One directory per engine (a process may run several): `<pid>-<random>`.
      const dir = join(root, `${process.pid}-${randomBytes(6).toString('hex')}`);
      mkdirSync(dir, { mode: 0o711 });
      return new AgentSocketDirs(dir);
    } catch {
      return null;
    }
  }

  /** A fresh directory only `uid` (the container's sandbox user) can write to. */
  make(uid: number): AgentSocketDir {
    const hostDir = join(this.dir, randomBytes(9).toString('base64url'));
    mkdirSync(hostDir, { mode: 0o700 });
    chownSync(hostDir, uid, uid);
    return { hostDir, uid };
  }

  /**
   * Connects to the agent's socket. The directory is the container's: the socket must be a
   * socket of its uid (not a link to one of the host's) — checked before connecting, and only
   * ever done before any user code has run there.
   */
  connect(d: AgentSocketDir, timeoutMs = 5_000): Promise<Socket> {
    const path = join(d.hostDir, 'agent.sock');
    const st = lstatSync(path);
    if (!st.isSocket() || st.uid !== d.uid) return Promise.reject(new Error(`${path} is not the agent's socket`));
    return new Promise((resolve, reject) => {
      const s = connect(path);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`no connection to ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /**
   * Removes a container's directory. Once removed (the agent took its one connection), the
   * container's mount of it refuses new entries: nothing can be written to the host there.
   */
  remove(d: AgentSocketDir): void {
    rmSync(d.hostDir, { recursive: true, force: true });
  }

  /** Where this engine's container directories are made. */
  get path(): string {
    return this.dir;
  }

  /** Removes this engine's directory (at shutdown). */
  close(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Directories of operator processes that are gone (a crash leaves them behind); `<pid>-…`. */
function sweepDeadOwners(root: string): void {
  for (const name of readdirSync(root)) {
    const pid = Number(name.split('-')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(root, name), { recursive: true, force: true });
    }
  }
}
