// What both image builders (build-images.ts: the runtime images; build-devbox.ts: the devbox
// image) need: the Docker client, their progress line, running a tool, following a build, the
// Debian mirror, and the content label of an image.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { CONTENT_LABEL } from '../src/sandbox/index.js';

export const docker = new Docker();
export const say = (msg: string) => process.stderr.write(`[images] ${msg}\n`);

/** FAAS_IMAGES_NO_CACHE=1: Dockerfile steps run again instead of coming from Docker's build
 *  cache, as on a fresh machine (scripts/fresh-start.ts sets it to measure honestly). */
export const noBuildCache = (): boolean => process.env.FAAS_IMAGES_NO_CACHE === '1';

/** An image's id and `faas.content` label, or null when there is no such image. */
export async function imageInfo(tag: string): Promise<{ id: string; content?: string } | null> {
  try {
    const info = await docker.getImage(tag).inspect();
    return { id: info.Id, content: info.Config?.Labels?.[CONTENT_LABEL] };
  } catch {
    return null;
  }
}

/** Runs a tool; resolves with its stdout, rejects with the tail of its output when it fails. */
export function run(
  cmd: string,
  args: string[],
  opts: { onLine?: (l: string) => void; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    let tail = '';
    let out = '';
    const onData = (b: Buffer) => {
      const text = b.toString();
      tail = (tail + text).slice(-6000);
      for (const line of text.split('\n')) if (line.trim()) opts.onLine?.(line);
    };
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      onData(b);
    });
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${tail}`))));
  });
}

/**
 * Waits for a `docker build` / `docker import` stream to end; rejects with its error. Build
 * steps go to `onStep` when given; other lines are printed with FAAS_IMAGES_VERBOSE set.
 */
export function followProgress(stream: NodeJS.ReadableStream, onStep?: (line: string) => void): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    docker.modem.followProgress(
      stream,
      (err: Error | null, out: Array<{ error?: string }>) => {
        const failed = out?.find((o) => o.error);
        if (err || failed) reject(err ?? new Error(failed!.error));
        else resolvePromise();
      },
      (event: { stream?: string }) => {
        const line = event.stream?.trim();
        if (!line) return;
        if (onStep && /^Step \d+\/\d+ :/.test(line)) onStep(line);
        else if (process.env.FAAS_IMAGES_VERBOSE) say(`  ${line}`);
      },
    );
  });
}

/** The Debian mirror debootstrap uses: FAAS_DEBIAN_MIRROR, else this host's apt source. */
export function mirror(): string {
  if (process.env.FAAS_DEBIAN_MIRROR) return process.env.FAAS_DEBIAN_MIRROR;
  try {
    const sources = readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
    const uri = /^URIs:\s*(\S+\/debian)\s*$/m.exec(sources)?.[1];
    if (uri) return uri;
  } catch {
    /* no deb822 sources */
  }
  return 'http://deb.debian.org/debian';
}

/** Removes an image if nothing uses it any more; never throws. */
export async function removeQuietly(id: string | null | undefined): Promise<void> {
  if (!id) return;
  await docker
    .getImage(id)
    .remove()
    .catch(() => undefined); // still used by a container: leave it
}
