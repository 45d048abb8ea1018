// Builds the runtime images offline (no registry needed), only when their content changed:
//   faas-base     a Debian bookworm root filesystem from debootstrap, `docker import`ed;
//   faas-<image>  docker/<image>/Dockerfile FROM faas-base (ARG BASE), plus the agent.
// Each image carries a `faas.content` label (a hash of what it is made from); an image whose
// label matches is kept as it is, so later runs take a second or two.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AGENT_FILES,
  BASE_IMAGE,
  CONTENT_LABEL,
  RUNTIME_IMAGES,
  hashFiles,
  runtimeImageHash,
  runtimeImageTag,
} from '../src/sandbox/index.js';
import { docker, followProgress, imageInfo, mirror, removeQuietly, run, say } from './image-tools.js';
import { stageNodeRuntime } from './node-runtime.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Bump when the way the base is made changes (not only its package list).
const BASE_RECIPE = 'debootstrap-minbase-bookworm-v1';

async function buildBase(): Promise<string> {
  const hash = hashFiles(root, ['docker/base/packages.txt'], BASE_RECIPE);
  const have = await imageInfo(BASE_IMAGE);
  if (have?.content === hash) return have.id;
  const packages = readFileSync(join(root, 'docker/base/packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const dir = mkdtempSync('/var/tmp/faas-rootfs-');
  const t0 = Date.now();
  say(`building ${BASE_IMAGE} with debootstrap (bookworm, minbase + ${packages.join(', ')}); about a minute`);
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
    const [repo, tag] = BASE_IMAGE.split(':') as [string, string];
    const stream = await docker.importImage(tar.stdout as unknown as string, { repo, tag, changes: `LABEL ${CONTENT_LABEL}=${hash}` } as object);
    await followProgress(stream);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const built = await imageInfo(BASE_IMAGE);
  if (built?.content !== hash) throw new Error(`${BASE_IMAGE} was imported but does not carry its content label`);
  say(`${BASE_IMAGE} ready in ${Math.round((Date.now() - t0) / 1000)} s`);
  return built.id;
}

async function buildRuntime(image: (typeof RUNTIME_IMAGES)[number], baseId: string): Promise<string | null> {
  const tag = runtimeImageTag(image);
  const hash = runtimeImageHash(root, image, baseId);
  const have = await imageInfo(tag);
  if (have?.content === hash) return null;
  const t0 = Date.now();
  say(`building ${tag}`);
  const dockerfile = `docker/${image}/Dockerfile`;
  const extra = image === 'node' ? await stageNodeRuntime(root) : [];
  const stream = await docker.buildImage(
    { context: root, src: [dockerfile, ...AGENT_FILES, ...extra] },
    { t: tag, dockerfile, buildargs: { BASE: BASE_IMAGE }, labels: { [CONTENT_LABEL]: hash }, rm: true, forcerm: true },
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

main().catch((err: Error) => {
  say(`failed: ${err.message}`);
  process.exit(1);
});
