// What a hostile operator can send a client, Docker-free: its API's answer for a full output
// (too large, trickled, the wrong shape), a result whose check throws, and conflicting groups
// that each reach a low quorum. Each ends in a verdict, never a crash or an unbounded read.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputHash } from '../../blueprint/index.js';
import { MAX_OUTPUT_ANSWER_BYTES, fetchFullOutput } from '../tangle-client.js';
import { checkResult, decide } from './verify.js';
import type { OperatorResult } from './verify.js';

let server: Server;
let url = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url!.includes('huge')) {
      // Far past the cap, as fast as the socket takes it.
      const chunk = Buffer.alloc(1 << 20, 0x61);
      let sent = 0;
      const more = () => {
        while (sent < MAX_OUTPUT_ANSWER_BYTES + (4 << 20)) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.on('close', () => (sent = Infinity));
      more();
    } else if (req.url!.includes('trickle')) {
      const t = setInterval(() => res.write(' '), 100);
      res.on('close', () => clearInterval(t));
    } else if (req.url!.includes('shape')) res.end(JSON.stringify({ exitCode: 0 }));
    else res.end(JSON.stringify({ exitCode: 0, stdout: 'ok\n', stderr: '' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("an operator API's answer for a full output", () => {
  it('is read up to a size cap, within a time limit in all, and only in the expected shape', async () => {
    expect(await fetchFullOutput(`${url}/good`, 'h')).toEqual({ exitCode: 0, stdout: 'ok\n', stderr: '' });
    await expect(fetchFullOutput(`${url}/huge`, 'h')).rejects.toThrow(/over \d+ bytes/);
    const t = performance.now();
    await expect(fetchFullOutput(`${url}/trickle`, 'h', 1_000)).rejects.toThrow();
    expect(performance.now() - t).toBeLessThan(3_000);
    await expect(fetchFullOutput(`${url}/shape`, 'h')).rejects.toThrow(/not \{exitCode, stdout, stderr\}/);
  });

  it('a check that would throw (a wrong-shaped output) ends as an unverified result', async () => {
    const r = { exitCode: 0, stdout: 'cut', stderr: '', complete: false, outputHash: `0x${'11'.repeat(32)}` as const, imageHash: `0x${'22'.repeat(32)}` as const, signature: `0x${'33'.repeat(65)}` as const };
    const deps = { operators: ['A'], registration: async () => ({ key: '0x04', rpcAddress: url }), fetchOutput: async () => ({ exitCode: 0 }) as never };
    const out = await checkResult({ serviceId: 1, blueprintId: 0 }, 'A', r, deps, () => true);
    expect(out).toMatchObject({ operator: 'A', verified: false });
  });
});

describe('deciding a job from checked results', () => {
  const r = (operator: string, out: string): OperatorResult => ({
    operator, exitCode: 0, stdout: out, stderr: '', complete: true, outputHash: outputHash({ exitCode: 0, stdout: out, stderr: '' }), imageHash: `0x${'22'.repeat(32)}`, signature: '0x', trusted: true, verified: true,
  });

  it('waits while neither the quorum nor every operator is in', () => {
    expect(decide(1n, [r('A', '1')], 2, 3)).toBeNull();
  });

  it('believes a quorum that no rival group also reached', () => {
    expect(decide(1n, [r('A', '1'), r('B', '1'), r('C', '2')], 2, 3)).toMatchObject({ verified: true, stdout: '1', operators: ['A', 'B'] });
  });

  it('with a quorum at or below half, two groups reaching it make neither believed', () => {
    const out = decide(1n, [r('A', '1'), r('B', '1'), r('C', '2'), r('D', '2')], 2, 4);
    expect(out).toMatchObject({ verified: false });
    expect(out!.verificationError).toMatch(/two groups/);
  });
});
