// Shared test set-up: a real engine on the local Docker host, and leak checks.
import Docker from 'dockerode';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { DockerSandboxEngine, MANAGED_LABEL, OWNER_PID_LABEL, createSandbox } from '../src/sandbox/index.js';
import type { Sandbox } from '../src/sandbox/index.js';

export const docker = new Docker();

export function makeEngine(env: Record<string, string> = {}): DockerSandboxEngine {
  const config = loadConfig({ FAAS_LOG_LEVEL: 'warn', FAAS_PREWARM_LANGUAGES: 'python', ...env });
  return new DockerSandboxEngine(config, createLogger(process.env.FAAS_LOG_LEVEL ?? 'warn', 'test'));
}

/** The engine and the instance managers over one client, as the operator builds them (createSandbox). */
export function makeSandbox(env: Record<string, string> = {}): Sandbox {
  const config = loadConfig({ FAAS_LOG_LEVEL: 'warn', FAAS_PREWARM_LANGUAGES: 'python', ...env });
  return createSandbox(config, { log: createLogger(process.env.FAAS_LOG_LEVEL ?? 'warn', 'test') });
}

/** Containers this test process's engines started that still exist. */
export async function ourContainers(): Promise<string[]> {
  const list = await docker.listContainers({
    all: true,
    filters: { label: [`${MANAGED_LABEL}=true`, `${OWNER_PID_LABEL}=${process.pid}`] },
  });
  return list.map((c) => c.Id);
}

export async function imageIds(): Promise<string[]> {
  const list = await docker.listImages({ all: true });
  return list.map((i) => i.Id).sort();
}

/** Runs the operator CLI (`npm run operator -- ARGS`) as a user would; exit code and all output. */
export async function runOperatorCli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number; out: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', 'src/operator/cli.ts', ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}
