// Plain Docker baselines through dockerode, with the same sandbox settings as the engine (no
// network, read-only root, tmpfs work dir): what every bench section compares against.
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';

export const docker = new Docker();
export const SANDBOXED = {
  NetworkMode: 'none',
  ReadonlyRootfs: true,
  Tmpfs: { '/sandbox': 'rw,exec,size=256m,uid=65534,gid=65534' },
} as const;

/** `docker run --rm IMAGE CMD` through the API: create, attach, start, wait, remove. */
export async function dockerRun(image: string, cmd: string[]): Promise<string> {
  const c = await docker.createContainer({ Image: image, Cmd: cmd, User: '65534:65534', AttachStdout: true, AttachStderr: true, HostConfig: SANDBOXED });
  const stream = await c.attach({ stream: true, stdout: true, stderr: true });
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  c.modem.demuxStream(stream, out, out);
  await c.start();
  await c.wait();
  await c.remove({ force: true });
  return text;
}

/** `docker exec CONTAINER CMD` through the API: create the exec, start it, read, inspect. */
export async function dockerExec(c: Docker.Container, cmd: string[]): Promise<string> {
  const exec = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  let text = '';
  out.on('data', (b: Buffer) => (text += b.toString()));
  c.modem.demuxStream(stream, out, out);
  await new Promise((resolve) => stream.on('end', resolve));
  await exec.inspect();
  return text;
}
