// SSH to an instance: the operator listens on a TCP port per instance and carries each
// connection to the instance's sshd as a relay channel (no container port is published).
import { createServer } from 'node:net';
import type { Logger } from 'pino';
import { ResourceUnavailableError, SandboxError } from '@faas/sdk/errors';
import { SSHD_PORT } from './container.js';
import { runExec } from './exec.js';
import type { Live } from './live.js';
import type { Mux, MuxChannel } from './mux.js';

/** How long start waits for sshd to answer. */
const SSH_READY_TIMEOUT_MS = 20_000;

/** Waits until sshd answers with its banner through the instance's relay. */
export async function waitForSsh(l: Live, relay: () => Promise<Mux>): Promise<void> {
  const deadline = Date.now() + SSH_READY_TIMEOUT_MS;
  const mux = await relay();
  for (;;) {
    const banner = await new Promise<string>((resolve) => {
      const ch = mux.open(SSHD_PORT);
      let got = '';
      const done = (s: string) => {
        ch.destroy();
        resolve(s);
      };
      ch.on('data', (b: Buffer) => {
        got += b.toString('latin1');
        // Bounded: whatever listens on the port is the instance's to choose.
        if (got.includes('\n') || got.length > 1024) done(got.slice(0, 1024));
      });
      ch.on('error', () => done(''));
      ch.on('end', () => done(got));
    });
    if (banner.startsWith('SSH-')) return;
    if (Date.now() > deadline) {
      const out = await runExec(l.container, ['sh', '-c', 'cat /sandbox/.faas/sshd.out 2>/dev/null | tail -c 1000']).catch(() => null);
      throw new SandboxError(`sshd in instance ${l.rec.id} did not start within ${SSH_READY_TIMEOUT_MS} ms${out?.stdout.length ? `: ${out.stdout.toString().trim()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 15));
  }
}

/**
 * The operator's SSH relay for an instance: a TCP port (its last one when free, else one of
 * `portRange`, else any) whose connections reach sshd inside through `connect`.
 */
export async function listenSsh(l: Live, at: { host: string; portRange: [number, number] | null }, connect: (id: string, port: number) => Promise<MuxChannel>, log: Logger): Promise<void> {
  const server = createServer((sock) => {
    l.sshSockets.add(sock);
    sock.on('close', () => l.sshSockets.delete(sock));
    sock.setNoDelay(true);
    void connect(l.rec.id, SSHD_PORT).then(
      (ch) => {
        sock.pipe(ch);
        ch.pipe(sock);
        ch.on('error', () => sock.destroy());
        sock.on('error', () => ch.destroy());
        sock.on('close', () => ch.destroy());
        ch.on('close', () => sock.destroy());
      },
      () => sock.destroy(),
    );
  });
  server.on('error', (err) => log.warn({ err: err.message, instance: l.rec.id }, 'ssh relay listener failed'));
  const candidates: number[] = [];
  if (l.rec.sshPort) candidates.push(l.rec.sshPort);
  const range = at.portRange;
  if (range) {
    for (let p = range[0]; p <= range[1]; p++) if (p !== l.rec.sshPort) candidates.push(p);
  } else {
    candidates.push(0);
  }
  for (const port of candidates) {
    const ok = await new Promise<boolean>((resolve) => {
      const onErr = () => resolve(false);
      server.once('error', onErr);
      server.listen({ host: at.host, port, exclusive: true }, () => {
        server.off('error', onErr);
        resolve(true);
      });
    });
    if (ok) {
      server.unref();
      l.sshServer = server;
      const addr = server.address();
      l.rec.sshPort = typeof addr === 'object' && addr ? addr.port : port;
      return;
    }
  }
  throw new ResourceUnavailableError('sshPort', `no free port for the SSH relay${range ? ` in ${range[0]}-${range[1]} (FAAS_INSTANCE_PORT_RANGE)` : ''}`);
}
