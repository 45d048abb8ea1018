// Builds the runtime images offline (no registry needed), only when their content changed:
//   faas-base     a Debian bookworm root filesystem from debootstrap, `docker import`ed;
//   faas-<image>  docker/runtime/Dockerfile FROM faas-base (ARG BASE) for its LANGUAGE, plus
//                 the agent (one shared layer: agent/ as /opt/faas).
// Each image carries a `faas.content` label (a hash of what it is made from); an image whose
// label matches is kept as it is, so later runs take a second or two.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BASE_IMAGE,
  CONTENT_LABEL,
  LANGUAGE_OF_IMAGE,
  RUNTIME_DOCKERFILE,
  RUNTIME_IMAGES,
  agentFiles,
  hashFiles,
  runtimeImageHash,
  runtimeImageTag,
} from '../src/sandbox/index.js';
import { docker, followProgress, imageInfo, mirror, noBuildCache, removeQuietly, run, say } from './image-tools.js';
import { stageRuntimeExtra } from './node-runtime.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Bump when the way the base is made changes (not only its package list).
const BASE_RECIPE = 'debootstrap-minbase-bookworm-v1';

/**
 * Builds the base image as `image` (default faas-base:latest) unless it carries this content.
 * scripts/fresh-start.ts times a build under another name, so the shared base stays in place.
 */
export async function buildBase(image: string = BASE_IMAGE): Promise<string> {
  const hash = hashFiles(root, ['docker/base/packages.txt'], BASE_RECIPE);
  const have = await imageInfo(image);
  if (have?.content === hash) return have.id;
  const packages = readFileSync(join(root, 'docker/base/packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const dir = mkdtempSync('/var/tmp/faas-rootfs-');
  const t0 = Date.now();
  say(`building ${image} with debootstrap (bookworm, minbase + ${packages.join(', ')}); about a minute`);
  try {
    const seen = new Set<string>();
    await run('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, 'bookworm', dir, mirror()], {
      onLine: (l) => {
        // One line per stage (debootstrap repeats its stages per package group).
        const stage = /^I: (Retrieving|Extracting|Installing|Configuring) /.exec(l)?.[1];
        if (stage && !seen.has(stage)) {
          seen.add(stage);
          say(`  debootstrap: ${stage.toLowerCase()} packages (${Math.round((Date.now() - t0) / 1000)} s)`);
        }
      },
    });
    // Package caches are not needed at run time.
    rmSync(join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
    rmSync(join(dir, 'var/lib/apt/lists'), { recursive: true, force: true });
    say(`  importing root filesystem (${Math.round((Date.now() - t0) / 1000)} s)`);
    const tar = spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = image.split(':') as [string, string];
    const stream = await docker.importImage(tar.stdout as unknown as string, { repo, tag, changes: `LABEL ${CONTENT_LABEL}=${hash}` } as object);
    await followProgress(stream);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const built = await imageInfo(image);
  if (built?.content !== hash) throw new Error(`${image} was imported but does not carry its content label`);
  say(`${image} ready in ${Math.round((Date.now() - t0) / 1000)} s`);
  return built.id;
}

async function buildRuntime(image: (typeof RUNTIME_IMAGES)[number], baseId: string): Promise<string | null> {
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
      buildargs: { BASE: BASE_IMAGE, LANGUAGE: LANGUAGE_OF_IMAGE[image] },
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

async function main(): Promise<void> {
  const t0 = Date.now();
  const oldBase = await imageInfo(BASE_IMAGE);
  const baseId = await buildBase();
  const replaced: (string | null)[] = [];
  for (const image of RUNTIME_IMAGES) replaced.push(await buildRuntime(image, baseId));
  for (const id of replaced) await removeQuietly(id);
  if (oldBase && oldBase.id !== baseId) await removeQuietly(oldBase.id);
  // Earlier versions that were still in use by a container when they were replaced.
  const stale = await docker.listImages({ filters: { dangling: ['true'], label: [CONTENT_LABEL] } });
  for (const image of stale) await removeQuietly(image.Id);
  say(`images up to date (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    say(`failed: ${err.message}`);
    process.exit(1);
  });
}
