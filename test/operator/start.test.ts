// `npm start -- --operators 3` (the main job without its host set-up): the local node with three
// operators on one service, and a first job through the chain verified by a majority of them.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { OWNER_PID_LABEL } from '../../src/sandbox/labels.js';
import { docker } from '../helpers.js';
import { freePort } from './operators.js';

const bindable = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/** Three consecutive free ports (the operators' APIs take base, base+1, base+2). */
async function freeRun(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await Promise.all([base, base + 1, base + 2].map(bindable))).every(Boolean)) return base;
  }
}

describe('npm start -- --operators 3', () => {
  it('runs three operators on the one local service; the first job is verified by a majority', async () => {
    const [chainPort, apiPort] = [await freePort(), await freeRun()];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--operators', '3'], {
      env: { ...process.env, FAAS_CHAIN_PORT: String(chainPort), FAAS_API_PORT: String(apiPort), FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await expect.poll(() => out, { timeout: 120_000, interval: 500 }).toMatch(/Ctrl-C stops everything/);
      expect(out).toMatch(/\/\/Bob \(\w+, API http:\/\/127\.0\.0\.1:\d+\), \/\/Dave \(\w+, API [^)]+\), \/\/Eve \(\w+, API [^)]+\) operate service 0/);
      expect(out).toMatch(/first job through the chain: job 0 → exit 0, stdout "45\\n", verified true by [23] of 3 operators \(quorum 2\)/);
      // Each operator serves its own API: the job's status from the second and third.
      for (const port of [apiPort + 1, apiPort + 2]) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/jobs/0/0`);
        expect(res.status).toBe(200);
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    }
    expect(child.exitCode).toBe(0);
    const left = await docker.listContainers({ all: true, filters: { label: [`${OWNER_PID_LABEL}=${child.pid}`] } });
    expect(left).toEqual([]);
  }, 180_000);
});
