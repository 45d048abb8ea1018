// `docker exec` in an instance: commands with attached stdin/stdout, as the sandbox user.
// Used for what is not a TCP connection: file copies (tar through stdin/stdout), listings,
// the launchers, and the owner's own commands.
import { PassThrough } from 'node:stream';
import type { Duplex, Readable } from 'node:stream';
import type Docker from 'dockerode';
import { SandboxError } from '@faas/sdk/errors';
import { AttachDemuxer } from '../container.js';
import { SANDBOX_USER } from '../policy.js';

export interface ExecOptions {
  env?: string[];
  workingDir?: string;
  /** Keep stdin open for the caller (otherwise it is closed at once, or after `input`). */
  stdin?: boolean;
}

export interface RunningExec {
  /** The command's stdin (when asked for). */
  stdin: Duplex | null;
  stdout: Readable;
  /** Resolves with the exit code and the end of stderr once the command has ended. */
  done: Promise<{ exitCode: number; stderr: string }>;
}

/** Starts a command in the container; its stdout is a stream (with backpressure). */
export async function startExec(container: Docker.Container, cmd: string[], o: ExecOptions = {}): Promise<RunningExec> {
  let exec: Docker.Exec;
  try {
    exec = await container.exec({
      Cmd: cmd,
      User: SANDBOX_USER,
      Env: o.env,
      WorkingDir: o.workingDir,
      AttachStdin: Boolean(o.stdin),
      AttachStdout: true,
      AttachStderr: true,
      Tty: false,
    });
  } catch (err) {
    throw new SandboxError(`could not run a command in the instance: ${(err as Error).message}`);
  }
  const stream = (await exec.start({ hijack: true, stdin: Boolean(o.stdin) })) as unknown as Duplex;
  const stdout = new PassThrough({ highWaterMark: 1 << 20 });
  let stderr = '';
  const demux = new AttachDemuxer(
    (b) => {
      // Backpressure: stop reading from Docker while our reader is behind.
      if (!stdout.write(b)) {
        stream.pause();
        stdout.once('drain', () => stream.resume());
      }
    },
    (b) => {
      stderr = (stderr + b.toString()).slice(-8000);
    },
  );
  stream.on('data', (c: Buffer) => demux.push(c));
  const done = new Promise<{ exitCode: number; stderr: string }>((resolve) => {
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      stdout.end();
      void exec.inspect().then(
        (info) => resolve({ exitCode: info.ExitCode ?? -1, stderr }),
        () => resolve({ exitCode: -1, stderr }),
      );
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
  return { stdin: o.stdin ? stream : null, stdout, done };
}

/** Runs a command to its end; stdout collected (up to `maxBytes`), `input` written to stdin first. */
export async function runExec(
  container: Docker.Container,
  cmd: string[],
  o: ExecOptions & { input?: Buffer | string; maxBytes?: number } = {},
): Promise<{ stdout: Buffer; stderr: string; exitCode: number; truncated: boolean }> {
  const r = await startExec(container, cmd, { ...o, stdin: o.input !== undefined });
  if (r.stdin) r.stdin.end(o.input);
  const max = o.maxBytes ?? 16 << 20;
  const parts: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of r.stdout as AsyncIterable<Buffer>) {
    if (size < max) parts.push(chunk.subarray(0, max - size));
    else truncated = true;
    size += chunk.length;
  }
  const { exitCode, stderr } = await r.done;
  return { stdout: Buffer.concat(parts), stderr, exitCode, truncated: truncated || size > max };
}
