// Runtime images: which image runs which language, and the content hash that decides when an
// image must be rebuilt. Shared by the image builder (scripts/build-images.ts) and the engine.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Language } from './types.js';

/** The image folder under docker/ for each language (javascript and typescript share node). */
export const IMAGE_OF_LANGUAGE: Record<Language, RuntimeImage> = {
  python: 'python',
  javascript: 'node',
  typescript: 'node',
  bash: 'bash',
  go: 'go',
};

export type RuntimeImage = 'python' | 'node' | 'bash' | 'go';
export const RUNTIME_IMAGES: readonly RuntimeImage[] = ['python', 'node', 'bash', 'go'];

export const BASE_IMAGE = 'faas-base:latest';
export const CONTENT_LABEL = 'faas.content';
export const MANAGED_LABEL = 'faas.managed';

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

/** Files (relative to the project root) copied into every runtime image. */
export const AGENT_FILES = [
  'src/sandbox/agent/agent.py',
  'src/sandbox/agent/runner.cjs',
  // the progress helpers: `faas-progress`, python's and node's `faas` module
  'src/sandbox/agent/faas-progress',
  'src/sandbox/agent/faas.py',
  'src/sandbox/agent/faas.cjs',
  // stateful contexts (checkpointed / branched / persistent modes) and their node interpreter
  'src/sandbox/agent/family.py',
  'src/sandbox/agent/ctx-runner.cjs',
  // javascript / typescript heaps in snapshots (family.py imports node_holder everywhere)
  'src/sandbox/agent/node_holder.py',
  'src/sandbox/agent/ctx-hold.cjs',
];

/**
 * What the node image is made from besides its Dockerfile and the agent: the Node.js version
 * (from the npm registry) and the source of the fork addon compiled for it at build time.
 */
export const NODE_IMAGE_INPUTS = ['docker/node/versions.json', 'src/sandbox/agent/node-fork/fork.c'];
/** Where the image builder stages the node binary and the compiled addon (inside the build context). */
export const NODE_RUNTIME_STAGE = '.build/node-runtime';

export function hashFiles(root: string, files: readonly string[], extra = ''): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  }
  h.update(extra);
  return h.digest('hex').slice(0, 16);
}

/** Content hash of a runtime image: its Dockerfile, the agent, and the base it is built on. */
export function runtimeImageHash(root: string, image: RuntimeImage, baseId: string): string {
  return hashFiles(root, [`docker/${image}/Dockerfile`, ...AGENT_FILES, ...(image === 'node' ? NODE_IMAGE_INPUTS : [])], baseId);
}
