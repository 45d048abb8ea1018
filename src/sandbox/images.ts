// Runtime images: which image runs which language, and the content hash that decides when an
// image must be rebuilt. Shared by the image builder (scripts/build-images.ts) and the engine.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Language } from './types.js';

/** The runtime image of each language (javascript and typescript share node). */
export const IMAGE_OF_LANGUAGE: Record<Language, RuntimeImage> = {
  python: 'python',
  javascript: 'node',
  typescript: 'node',
  bash: 'bash',
  go: 'go',
};

export type RuntimeImage = 'python' | 'node' | 'bash' | 'go';
export const RUNTIME_IMAGES: readonly RuntimeImage[] = ['python', 'node', 'bash', 'go'];


/**
 * The tag the runtime images carry: `latest`, or FAAS_IMAGE_TAG so that two checkouts of the
 * project on one Docker engine (a second working tree, a branch under test) build and run their
 * own agent instead of replacing each other's images.
 */
export function runtimeImageTagSuffix(): string {
  const tag = process.env.FAAS_IMAGE_TAG ?? 'latest';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`FAAS_IMAGE_TAG ${JSON.stringify(tag)} is not a Docker tag`);
  return tag;
}

export function runtimeImageTag(image: RuntimeImage): string {
  return `faas-${image}:${runtimeImageTagSuffix()}`;
}

/**
 * The root filesystems the runtime images are built FROM (scripts/build-images.ts): `base`, a
 * Debian minbase with what python, javascript and bash need (docker/base/packages.txt; node
 * itself comes with the node image), and `base-go`, that plus the go toolchain
 * (docker/base/go.Dockerfile): golang-go is most of the bytes, so only the go image waits for it.
 */
export type BaseImage = 'base' | 'base-go';
export const BASE_OF_IMAGE: Record<RuntimeImage, BaseImage> = { python: 'base', node: 'base', bash: 'base', go: 'base-go' };

/** A base image's name, tagged like the runtime images so a checkout with FAAS_IMAGE_TAG never replaces the shared `latest` base. */
export function baseImageTag(base: BaseImage): string {
  return `faas-${base}:${runtimeImageTagSuffix()}`;
}

/** The language of the first job `npm start` sends through the chain (src/main-stack.ts): its image is the one built before it. */
export const FIRST_JOB_LANGUAGE: Language = 'python';

/**
 * The order `npm start` builds the runtime images in: the image of the first job's language
 * before the engine starts (`first`), the others after the first verified result, in the
 * background (`later`; the go image last, as it alone needs the larger go base). `npm test`
 * and `npm run bench` build them all up front.
 */
export function runtimeImagePlan(firstLanguages: readonly Language[]): { first: RuntimeImage[]; later: RuntimeImage[] } {
  const first = RUNTIME_IMAGES.filter((image) => firstLanguages.some((l) => IMAGE_OF_LANGUAGE[l] === image));
  const later = RUNTIME_IMAGES.filter((image) => !first.includes(image));
  const bySize = (a: RuntimeImage, b: RuntimeImage) => Number(BASE_OF_IMAGE[a] !== 'base') - Number(BASE_OF_IMAGE[b] !== 'base');
  return { first: first.sort(bySize), later: later.sort(bySize) };
}

/** The one recipe of the runtime images (its LANGUAGE build argument picks the language). */
export const RUNTIME_DOCKERFILE = 'docker/runtime/Dockerfile';

/** The LANGUAGE build argument of each runtime image (its language when the engine names none). */
export const LANGUAGE_OF_IMAGE: Record<RuntimeImage, Language> = {
  python: 'python',
  node: 'javascript',
  bash: 'bash',
  go: 'go',
};

/** The in-sandbox programs' folder: copied whole into every runtime image, as /opt/faas. */
export const AGENT_DIR = 'agent';

/**
 * Files (relative to the project root) copied into every runtime image: everything under
 * agent/ but Python's byte-code caches (the image compiles its own).
 */
export function agentFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true })
      .filter((e) => e.name !== '__pycache__' && !e.name.endsWith('.pyc'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`]));
  return walk(AGENT_DIR);
}

/**
 * What the node image is made from besides the recipe and the agent (whose node-fork/fork.c is
 * the fork addon's source): the Node.js version it gets from the npm registry.
 */
export const NODE_IMAGE_INPUTS = ['docker/runtime/node-versions.json'];

/**
 * Where the image builder stages what only one language's image carries (the node image:
 * Node.js and the fork addon compiled for it), inside the build context; the recipe copies
 * `${RUNTIME_EXTRA_STAGE}/<LANGUAGE>/` to /opt/faas-runtime.
 */
export const RUNTIME_EXTRA_STAGE = '.build/runtime-extra';

export function hashFiles(root: string, files: readonly string[], extra = ''): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  }
  h.update(extra);
  return h.digest('hex').slice(0, 16);
}

/** Content hash of a runtime image: its recipe, its language, the agent, and the base it is built on. */
export function runtimeImageHash(root: string, image: RuntimeImage, baseId: string): string {
  return hashFiles(root, [RUNTIME_DOCKERFILE, ...agentFiles(root), ...(image === 'node' ? NODE_IMAGE_INPUTS : [])], `${baseId}\0${LANGUAGE_OF_IMAGE[image]}`);
}
