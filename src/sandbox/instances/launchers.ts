// Jupyter, a VNC desktop and VS Code in a persistent instance: the devbox image's launch scripts
// (/opt/faas/devbox/launch-<name>) start a service on the instance's loopback and print READY
// once it answers. Exposing the port (its URL and token) is the gateway's part.
import { randomBytes } from 'node:crypto';
import { SandboxError } from '@faas/sdk/errors';
import type { InstanceManager } from './manager.js';

/** The services a devbox can launch, and the port each listens on inside the instance. */
export const LAUNCHER_PORTS = { jupyter: 8888, vnc: 6080, vscode: 8443 } as const;
export type LauncherName = keyof typeof LAUNCHER_PORTS;

/** A launched service: its port inside the instance, and its own secret (when it has one). */
export interface Launched {
  name: LauncherName;
  port: number;
  /** Jupyter's token or the VNC password; VS Code has none (the exposed URL's token is its lock). */
  secret: string | null;
}

type Exec = Pick<InstanceManager, 'exec'>;

async function runLauncher(m: Exec, id: string, name: LauncherName, args: string[], env: string[]): Promise<void> {
  const out = await m.exec(id, [`/opt/faas/devbox/launch-${name}`, ...args], { env, maxBytes: 64 << 10 });
  const text = out.stdout.toString();
  if (out.exitCode !== 0 || !/^READY$/m.test(text)) {
    const why = `${out.stderr}\n${text}`.trim().split('\n').filter(Boolean).slice(-6).join(' | ');
    throw new SandboxError(`${name} did not start in instance ${id}: ${why.slice(0, 800)}`);
  }
}

/** Jupyter Notebook with a token of its own; `allowOrigin` is the origin it will be served at. */
export async function launchJupyter(m: Exec, id: string, allowOrigin: string): Promise<Launched> {
  const port = LAUNCHER_PORTS.jupyter;
  const token = randomBytes(24).toString('hex');
  await runLauncher(m, id, 'jupyter', [String(port), token, '/'], [`FAAS_JUPYTER_ALLOW_ORIGIN=${allowOrigin}`]);
  return { name: 'jupyter', port, secret: token };
}

/** A VNC desktop (Xvnc + xterm) behind noVNC; its password (VNC counts 8 characters). */
export async function launchVNC(m: Exec, id: string, allowOrigin: string): Promise<Launched> {
  const port = LAUNCHER_PORTS.vnc;
  const password = randomBytes(6).toString('base64url');
  await runLauncher(m, id, 'vnc', [String(port), password, '/'], [`FAAS_JUPYTER_ALLOW_ORIGIN=${allowOrigin}`]);
  return { name: 'vnc', port, secret: password };
}

/**
 * VS Code in the browser (code-server). It wants a non-empty base path, so it serves under
 * `basePath` (the exposure then keeps that prefix: stripPrefix false).
 */
export async function launchVSCode(m: Exec, id: string, allowOrigin: string, basePath: string): Promise<Launched> {
  const port = LAUNCHER_PORTS.vscode;
  await runLauncher(m, id, 'vscode', [String(port), basePath], [`FAAS_JUPYTER_ALLOW_ORIGIN=${allowOrigin}`]);
  return { name: 'vscode', port, secret: null };
}
