// `npm start -- --chain evm` (the main job without its host set-up): anvil, tnt-core deployed,
// the blueprint, an operator, a service, and a first job through the contracts, verified.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { OWNER_PID_LABEL } from '../../src/sandbox/labels.js';
import { docker } from '../helpers.js';
import { freePort } from '../operator/operators.js';

describe('npm start -- --chain evm', () => {
  it('deploys the protocol on anvil and verifies a first job through it', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--chain', 'evm'], {
      env: { ...process.env, FAAS_API_PORT: String(await freePort()), FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    try {
      await expect.poll(() => out, { timeout: 120_000, interval: 500 }).toMatch(/Ctrl-C stops everything|error:/);
      expect(out).toMatch(/tnt-core deployed, blueprint 0 created, service 0 approved/);
      expect(out).toMatch(/first job through the EVM protocol: job 0 → exit 0, stdout "45\\n", verified true by 0x70997970C51812dc3A010C7d01b50e0d17dc79C8/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((res) => child.once('exit', res));
    }
    expect(child.exitCode).toBe(0);
    expect(await docker.listContainers({ all: true, filters: { label: [`${OWNER_PID_LABEL}=${child.pid}`] } })).toEqual([]);
  }, 180_000);
});
