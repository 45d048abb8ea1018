// File operations in a persistent instance, run there as the sandbox user: list a tree, read
// a tree as a tar stream, unpack a tar into it, delete entries. Paths come from tenants: an
// entry must stay inside its tree, and whatever runs to read or write runs inside the instance.
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConflictError, NotFoundError, SandboxError, ValidationError } from '@faas/sdk/errors';
import type { FileList } from '@faas/sdk/wire';
import { HOME } from './container.js';
import type { InstanceManager } from './manager.js';

/** What the file operations need of the manager: commands in a running instance. */
export type InstanceCommands = Pick<InstanceManager, 'exec' | 'startExec'>;

/** Where an instance started from a snapshot finds the snapshot's files. */
export const SNAPSHOT_FILES_DIR = '/workspace';

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
export function checkEntry(field: string, e: string): string {
  const norm = posix.normalize(e);
  if (e.includes('\0') || norm.startsWith('/') || norm === '..' || norm.startsWith('../') || norm === '.') throw new ValidationError(field, `${JSON.stringify(e)} must be a relative path inside the tree`);
  return norm;
}

/** A path in the instance: absolute, or relative to its HOME. */
export function instancePath(p: string): string {
  return posix.normalize(p.startsWith('/') ? p : posix.join(HOME, p));
}

/** Lists `root` (a file, a link or a tree); `exists: false` when there is nothing there. */
export async function listFiles(m: InstanceCommands, id: string, root: string): Promise<FileList> {
  const r = await m.exec(id, ['python3', '-I', '-c', LIST_SCRIPT, root], { maxBytes: 256 << 20 });
  if (r.exitCode !== 0) throw new SandboxError(`could not list ${root}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.toString('utf8')) as FileList;
}

/**
 * A tar (pax) stream of `root` (one top entry named after it), or of `entries` under it.
 * Resolves once the first bytes are there, so a missing path is a clean NOT_FOUND.
 * `release` is called once, when the stream has ended or broken off (or nothing started).
 */
export async function archiveFiles(m: InstanceCommands, id: string, root: string, entries: string[] | undefined, release: () => void): Promise<Readable> {
  const list = entries?.map((e) => checkEntry('entries', e));
  // A missing path is told before tar runs (tar would still write an empty archive).
  const tar = list ? 'exec tar -c --format=pax --no-recursion -C "$1" --null -T - -f -' : 'exec tar -c --format=pax -C "$(dirname -- "$1")" -f - -- "$(basename -- "$1")"';
  const cmd = ['sh', '-c', `if [ ! -e "$1" ] && [ ! -L "$1" ]; then echo "No such file: $1" >&2; exit 44; fi; ${tar}`, 'sh', root];
  let run: Awaited<ReturnType<InstanceManager['startExec']>>;
  try {
    run = await m.startExec(id, cmd, { stdin: Boolean(list) });
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

/** Unpacks a tar stream into `root` (created if missing); modes and modification times are kept. */
export async function unpackFiles(m: InstanceCommands, id: string, root: string, body: Readable): Promise<{ path: string; bytes: number }> {
  const run = await m.startExec(id, ['sh', '-c', 'mkdir -p -- "$1" && exec tar -x -p --no-same-owner --delay-directory-restore -C "$1" -f -', 'sh', root], { stdin: true });
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

/** Deletes `entries` (relative to `root`; a directory with what is in it); how many were there. */
export async function deleteFiles(m: InstanceCommands, id: string, root: string, entries: string[]): Promise<{ deleted: number }> {
  const list = entries.map((e) => checkEntry('entries', e));
  const r = await m.exec(id, ['python3', '-I', '-c', DELETE_SCRIPT, root], { input: Buffer.from(list.map((e) => `${e}\0`).join('')) });
  if (r.exitCode !== 0) throw new SandboxError(`could not delete under ${root}: ${r.stderr.trim()}`);
  return { deleted: Number(r.stdout.toString().trim()) };
}
