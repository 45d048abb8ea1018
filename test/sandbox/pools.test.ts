// Warm pools: grow on demand up to a cap, refill in the background, shrink when idle,
// drain on shutdown, and a crashed engine's containers are cleared by the next one.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { MANAGED_LABEL, OWNER_PID_LABEL } from '../../src/sandbox/labels.js';
import { docker, makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine({ FAAS_OWNER_MAX_CONTAINERS: '2', FAAS_IDLE_TIMEOUT_MS: '1500', FAAS_WARM_POOL_SIZE: '1', FAAS_EPHEMERAL_POOL_SIZE: '1' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

describe('warm pools', () => {
  it('starts with its prewarmed pool filled', () => {
    expect(engine.stats().freshContainers).toBe(2); // warm 1 + ephemeral 1, python only
  });

  it('grows an owner up to its cap and queues the rest', async () => {
    const sleep = { code: 'import time, os; time.sleep(1); print(os.uname().nodename)', language: 'python', mode: 'cached' } as const;
    const t0 = Date.now();
    const results = await Promise.all([1, 2, 3, 4].map(() => engine.execute(sleep, { owner: 'dave' })));
    const elapsed = Date.now() - t0;
    const hosts = new Set(results.map((r) => r.stdout.trim()));
    expect(hosts.size).toBe(2); // two containers, each used twice
    expect(elapsed).toBeGreaterThanOrEqual(2000); // two waves of two
    expect(engine.stats().warmContainers).toBe(2);
  });

  it('refills the fresh pool in the background', async () => {
    await expect.poll(() => engine.stats().freshContainers, { timeout: 15_000, interval: 200 }).toBe(2);
  });

  it('removes an owner’s containers once idle', async () => {
    await expect.poll(() => engine.stats().warmContainers, { timeout: 10_000, interval: 250 }).toBe(0);
    // The owner is served again afterwards, from a fresh container.
    const r = await engine.execute({ code: 'print("back")', language: 'python', mode: 'cached' }, { owner: 'dave' });
    expect(r.stdout).toBe('back\n');
  });

  it('clears the containers of an engine process that was killed', async () => {
    // A second process starts an engine (which fills its pool), then dies by SIGKILL.
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/start-engine.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`fixture exited ${code}`)));
    });
    const label = { label: [`${MANAGED_LABEL}=true`, `${OWNER_PID_LABEL}=${child.pid}`] };
    expect((await docker.listContainers({ all: true, filters: label })).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const next = makeEngine({ FAAS_PREWARM_LANGUAGES: 'bash', FAAS_EPHEMERAL_POOL_SIZE: '0' });
    await next.start();
    await next.shutdown();
    expect(await docker.listContainers({ all: true, filters: label })).toEqual([]);
  });
});
