// Shared test set-up: a real engine on the local Docker host, and leak checks.
import Docker from 'dockerode';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DockerSandboxEngine, MANAGED_LABEL } from '../src/sandbox/index.js';

export const docker = new Docker();

export function makeEngine(env: Record<string, string> = {}): DockerSandboxEngine {
  const config = loadConfig({ FAAS_LOG_LEVEL: 'warn', FAAS_PREWARM_LANGUAGES: 'python', ...env });
  return new DockerSandboxEngine(config, createLogger(process.env.FAAS_LOG_LEVEL ?? 'warn', 'test'));
}

/** Containers this test process's engines started that still exist. */
export async function ourContainers(): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${MANAGED_LABEL}=true`, `faas.owner-pid=${process.pid}`] },
  });
  return list.map((c) => c.Id);
}

export async function imageIds(): Promise<string[]> {
  const list = await docker.listImages({ all: true });
  return list.map((i) => i.Id).sort();
}
