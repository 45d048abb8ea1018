// Builds the runtime images offline (no registry needed), only when their content changed:
//   faas-base     a Debian bookworm root filesystem from mmdebstrap (docker/base/packages.txt),
//                 written as a tarball straight into `docker import`;
//   faas-base-go  faas-base plus the go toolchain (docker/base/go.Dockerfile), for the go image;
//   faas-<image>  docker/runtime/Dockerfile FROM its base (ARG BASE) for its LANGUAGE, plus
//                 the agent (one shared layer: agent/ as /opt/faas).
// All carry FAAS_IMAGE_TAG's tag (`latest` when unset). Each image carries a `faas.content`
// label (a hash of what it is made from); an image whose label matches is kept as it is, so
// later runs take a second or two.
//   node --import tsx scripts/build-images.ts               every runtime image (npm test, bench)
//   node --import tsx scripts/build-images.ts --first-job   only what `npm start`'s first job
//        needs (the python image); npm start builds the others once that job is verified.
import { spawn } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BASE_OF_IMAGE,
  CONTENT_LABEL,
  FIRST_JOB_LANGUAGE,
  LANGUAGE_OF_IMAGE,
  RUNTIME_DOCKERFILE,
  RUNTIME_IMAGES,
  agentFiles,
  baseImageTag,
  hashFiles,
  runtimeImageHash,
  runtimeImagePlan,
  runtimeImageTag,
} from '../src/sandbox/index.js';
import type { BaseImage, RuntimeImage } from '../src/sandbox/index.js';
import { docker, followProgress, imageInfo, mirror, noBuildCache, removeQuietly, say } from './image-tools.js';
import { stageRuntimeExtra } from './node-runtime.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BASE_PACKAGES = 'docker/base/packages.txt';
export const GO_BASE_DOCKERFILE = 'docker/base/go.Dockerfile';

/**
 * mmdebstrap's options besides the package list. Merged /usr made as debootstrap makes it
 * (directory symlinks; else bookworm's usrmerge package would bring perl in). dpkg inside
 * eatmydata and with unsafe I/O: no fsync for a root filesystem that is thrown away if the
 * build fails (the hook removes itself at the end). No manuals, info pages, translations or
 * documentation (copyright files stay), and no translated package descriptions for apt. The
 * dpkg and apt options are written into the base (/etc/dpkg/dpkg.cfg.d, /etc/apt/apt.conf.d),
 * so faas-base-go's apt install follows them too.
 */
export const BASE_OPTIONS = [
  '--variant=minbase',
  '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
  '--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata',
  '--dpkgopt=path-exclude=/usr/share/man/*',
  '--dpkgopt=path-exclude=/usr/share/info/*',
  '--dpkgopt=path-exclude=/usr/share/doc/*',
  '--dpkgopt=path-include=/usr/share/doc/*/copyright',
  '--dpkgopt=path-exclude=/usr/share/locale/*',
  '--dpkgopt=path-include=/usr/share/locale/locale.alias',
  '--dpkgopt=force-unsafe-io',
  '--aptopt=Acquire::Languages "none"',
];
// Bump when the way the base is made changes beyond BASE_OPTIONS and the package list.
const BASE_RECIPE = 'mmdebstrap-bookworm-v3';

export function basePackages(): string[] {
  return readFileSync(join(root, BASE_PACKAGES), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/**
 * Where mmdebstrap unpacks the root filesystem before it writes the tarball: a tmpfs when there
 * is one with room (/dev/shm; a few hundred MB for a minute), so unpacking and dpkg's database
 * writes do not wait for a disk others use; else the usual temp dir.
 */
function rootfsTmpdir(): string {
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize > 1024 ** 3) return '/dev/shm';
  } catch {
    /* no /dev/shm */
  }
  return process.env.TMPDIR ?? '/tmp';
}
const TMPFS_MAGIC = 0x01021994;

const secsSince = (t0: number) => Math.round((Date.now() - t0) / 1000);

/**
 * Builds the base image as `image` (default faas-base:<FAAS_IMAGE_TAG>) unless it carries this
 * content: mmdebstrap writes the root filesystem as a tarball on its stdout, which goes straight
 * into `docker import` (no copy on disk).
 */
export async function buildBase(image: string = baseImageTag('base')): Promise<string> {
  const hash = hashFiles(root, [BASE_PACKAGES], `${BASE_RECIPE}\0${BASE_OPTIONS.join('\0')}`);
  const have = await imageInfo(image);
  if (have?.content === hash) return have.id;
  const packages = basePackages();
  const t0 = Date.now();
  say(`building ${image} with mmdebstrap (bookworm, minbase + ${packages.join(', ')})`);
  const args = [...BASE_OPTIONS, `--include=${packages.join(',')}`, 'bookworm', '-', mirror()];
  const child = spawn('mmdebstrap', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: rootfsTmpdir() } });
  let tail = '';
  child.stderr.on('data', (b: Buffer) => {
    const text = b.toString();
    tail = (tail + text).slice(-6000);
    // mmdebstrap's stages (downloading, extracting, installing, ...), with the time so far.
    for (const line of text.split('\n')) {
      const stage = /^I: ((?:running apt-get update|downloading|extracting|installing|creating tarball).*?)\.*$/.exec(line.trim())?.[1];
      if (stage) say(`  mmdebstrap: ${stage} (${secsSince(t0)} s)`);
    }
  });
  const exited = new Promise<void>((res, rej) => {
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res() : rej(new Error(`mmdebstrap ${args.join(' ')} exited ${code}:\n${tail}`))));
  });
  const [repo, tag] = image.split(':') as [string, string];
  const imported = docker
    .importImage(child.stdout as unknown as string, { repo, tag, changes: `LABEL ${CONTENT_LABEL}=${hash}` } as object)
    .then((stream) => followProgress(stream));
  // mmdebstrap's failure is the one to report (the import then fails only for want of input).
  await Promise.all([exited, imported.catch(async (err: Error) => exited.then(() => Promise.reject(err)))]);
  const built = await imageInfo(image);
  if (built?.content !== hash) throw new Error(`${image} was imported but does not carry its content label`);
  say(`${image} ready in ${secsSince(t0)} s`);
  return built.id;
}

/** Builds faas-base-go (faas-base plus golang-go) on the base `baseId` unless it is up to date. */
export async function buildGoBase(baseId: string): Promise<string> {
  const image = baseImageTag('base-go');
  const hash = hashFiles(root, [GO_BASE_DOCKERFILE], baseId);
  const have = await imageInfo(image);
  if (have?.content === hash) return have.id;
  const t0 = Date.now();
  say(`building ${image} (${baseImageTag('base')} + golang-go)`);
  const stream = await docker.buildImage(
    { context: root, src: [GO_BASE_DOCKERFILE] },
    { t: image, dockerfile: GO_BASE_DOCKERFILE, buildargs: { BASE: baseImageTag('base') }, labels: { [CONTENT_LABEL]: hash }, rm: true, forcerm: true, nocache: noBuildCache() },
  );
  await followProgress(stream);
  const built = await imageInfo(image);
  if (built?.content !== hash) throw new Error(`${image} was built but does not carry its content label`);
  say(`${image} ready in ${secsSince(t0)} s`);
  await removeQuietly(have?.id);
  return built.id;
}

async function buildRuntime(image: RuntimeImage, base: BaseImage, baseId: string): Promise<string | null> {
  const tag = runtimeImageTag(image);
  const hash = runtimeImageHash(root, image, baseId);
  const have = await imageInfo(tag);
  if (have?.content === hash) return null;
  const t0 = Date.now();
  say(`building ${tag}`);
  const extra = await stageRuntimeExtra(root, LANGUAGE_OF_IMAGE[image]);
  const stream = await docker.buildImage(
    { context: root, src: [RUNTIME_DOCKERFILE, ...agentFiles(root), ...extra] },
    {
      t: tag,
      dockerfile: RUNTIME_DOCKERFILE,
      buildargs: { BASE: baseImageTag(base), LANGUAGE: LANGUAGE_OF_IMAGE[image] },
      labels: { [CONTENT_LABEL]: hash },
      rm: true,
      forcerm: true,
      nocache: noBuildCache(),
    },
  );
  await followProgress(stream);
  say(`${tag} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return have?.id ?? null;
}

/** How old an untagged image must be to count as a replaced version rather than a build step in progress. */
const STALE_AFTER_S = 30 * 60;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  for (const a of args) if (a !== '--first-job') throw new Error(`unknown option ${a} (expected --first-job or nothing)`);
  const images = args.includes('--first-job') ? runtimeImagePlan([FIRST_JOB_LANGUAGE]).first : [...RUNTIME_IMAGES];
  const t0 = Date.now();
  const oldBase = await imageInfo(baseImageTag('base'));
  const baseIds: Partial<Record<BaseImage, string>> = { base: await buildBase() };
  const replaced: (string | null)[] = [];
  for (const image of images) {
    const base = BASE_OF_IMAGE[image];
    if (base === 'base-go') baseIds[base] ??= await buildGoBase(baseIds.base!);
    replaced.push(await buildRuntime(image, base, baseIds[base]!));
  }
  for (const id of replaced) await removeQuietly(id);
  if (oldBase && oldBase.id !== baseIds.base) await removeQuietly(oldBase.id);
  // Earlier versions that were still in use by a container when they were replaced. Only old
  // ones: a build under way elsewhere on the engine (another checkout's, or npm start's in
  // the background) has untagged step images too, which inherit the label from their base.
  const stale = await docker.listImages({ filters: { dangling: ['true'], label: [CONTENT_LABEL] } });
  const before = Date.now() / 1000 - STALE_AFTER_S;
  for (const image of stale) if (image.Created < before) await removeQuietly(image.Id);
  say(`images up to date: ${images.map(runtimeImageTag).join(', ')} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    say(`failed: ${err.message}`);
    process.exit(1);
  });
}
