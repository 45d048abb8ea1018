// The operator CLI on the EVM backend as its own process: SIGKILLed in the middle of a job, or
// right after it journaled its signed result transaction, then started again on the same job
// store — each call gets exactly one result from it.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvmResult, encodeEvmExecuteArgs } from '@faas/sdk/blueprint';
import { startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { submitEvmJob, tangleAbi } from '../../src/tangle/evm/index.js';
import { OWNER_PID_LABEL } from '../../src/sandbox/labels.js';
import { docker } from '../helpers.js';

let f: LocalEvmFaas;
const dir = mkdtempSync('/var/tmp/evmcrash-');
const dbPath = join(dir, 'jobs.db');

function startOperator(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/operator/cli.ts', 'run', '--chain', 'evm', '--api-port', '0'], {
    env: { ...process.env, FAAS_RPC_URL: f.rpcUrl, TANGLE_CONTRACT: f.addresses.tangle, FAAS_EVM_PRIVATE_KEY: f.operatorKeys[0]!, FAAS_SERVICE_IDS: String(f.serviceId), FAAS_DB_PATH: dbPath, FAAS_FOLLOW: 'best', FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('serving') && resolve(child));
    child.once('exit', (code, signal) => reject(new Error(`operator exited early (${code ?? signal})`)));
  });
}

const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((res) => c.once('exit', res)));

async function results(callId: bigint): Promise<string[]> {
  const event = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobResultSubmitted')!;
  const logs = await f.caller.pub.getLogs({ address: f.addresses.tangle, event, args: { serviceId: f.serviceId, callId }, fromBlock: 0n });
  return logs.map((l) => decodeEvmResult(l.args.result!).stdout);
}

beforeAll(async () => {
  f = await startLocalEvmFaas({ operators: 1 });
});

afterAll(async () => {
  await f?.anvil.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('EVM operator crash and restart', () => {
  it('SIGKILL mid-job, restart: exactly one result, no container left behind', async () => {
    const first = await startOperator();
    const callId = await submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, encodeEvmExecuteArgs({ code: 'import time\ntime.sleep(2)\nprint("survived")', language: 'python', mode: 'cached' }));
    await new Promise((res) => setTimeout(res, 1000)); // running in a sandbox now
    first.kill('SIGKILL');
    await exited(first);
    expect(await results(callId)).toEqual([]);
    const second = await startOperator();
    try {
      await expect.poll(() => results(callId), { timeout: 60_000, interval: 200 }).toEqual(['survived\n']);
      expect(await docker.listContainers({ all: true, filters: { label: [`${OWNER_PID_LABEL}=${first.pid}`] } })).toEqual([]);
      await new Promise((res) => setTimeout(res, 1000));
      expect(await results(callId)).toEqual(['survived\n']); // and no second submission
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
  });

  it('killed right after journaling its signed result transaction: the same transaction goes out once', async () => {
    const first = await startOperator({ FAAS_TEST_CRASH_POINT: 'after-journal' });
    const callId = await submitEvmJob(f.caller, f.addresses.tangle, f.serviceId, encodeEvmExecuteArgs({ code: 'print("journaled")', language: 'python', mode: 'cached' }));
    await exited(first); // it killed itself before the node saw the transaction
    expect(first.signalCode).toBe('SIGKILL');
    expect(await results(callId)).toEqual([]);
    const second = await startOperator();
    try {
      await expect.poll(() => results(callId), { timeout: 60_000, interval: 200 }).toEqual(['journaled\n']);
      await new Promise((res) => setTimeout(res, 1000));
      expect(await results(callId)).toEqual(['journaled\n']);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
    expect(await docker.listContainers({ all: true, filters: { label: [`${OWNER_PID_LABEL}=${second.pid}`] } })).toEqual([]);
  });
});
