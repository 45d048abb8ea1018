// The operator as its own process, killed with SIGKILL in the middle of a job and started
// again on the same job store: the call gets exactly one result, and the killed process's
// sandbox containers are cleared by the new one.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Codec } from '@polkadot/types/types';
import { encodeExecuteArgs } from '@faas/sdk/blueprint';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { send, setupFaasService, startChain } from '../chain/fixtures.js';
import { OWNER_PID_LABEL } from '../../src/sandbox/labels.js';
import { docker } from '../helpers.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let serviceId: number;
const dir = mkdtempSync('/var/tmp/opcrash-');
const dbPath = join(dir, 'jobs.db');

function startOperator(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/operator/cli.ts', 'run'], {
    env: { ...process.env, FAAS_RPC_URL: chain.node.url, FAAS_SURI: '//Bob', FAAS_SERVICE_IDS: String(serviceId), FAAS_DB_PATH: dbPath, FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('serving') && resolve(child));
    child.once('exit', (code) => reject(new Error(`operator exited early (${code})`)));
  });
}

async function resultCount(callId: bigint): Promise<number> {
  let n = 0;
  for (let i = 0; i <= chain.node.chain.head.number; i++) {
    const at = await chain.api.at(chain.node.chain.block(i)!.hash);
    const evs = (await at.query.system!.events!()) as unknown as Array<{ event: { method: string; data: Codec[] } }>;
    n += evs.filter(({ event }) => event.method === 'JobResultSubmitted' && BigInt(event.data[2]!.toString()) === callId).length;
  }
  return n;
}

beforeAll(async () => {
  chain = await startChain();
  const { registeredKey } = await operatorSigningKey('//Bob');
  ({ serviceId } = await setupFaasService(chain.api, { owner: chain.keys.alice, operator: chain.keys.bob, permitted: [chain.keys.charlie.address], key: registeredKey }));
});

afterAll(async () => {
  await chain?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('operator crash and restart', () => {
  it('SIGKILL mid-job, restart: exactly one result, no container left behind', async () => {
    const first = await startOperator();
    const r = await send(chain.api.tx.services!.call!(serviceId, 0, encodeExecuteArgs({ code: 'import time\ntime.sleep(2)\nprint("survived")', language: 'python', mode: 'cached' })), chain.keys.charlie);
    const callId = BigInt(r.events.find(({ event }) => event.method === 'JobCalled')!.event.data[2]!.toString());
    await new Promise((res) => setTimeout(res, 1000)); // the job is running in a sandbox now
    first.kill('SIGKILL');
    await new Promise((res) => first.once('exit', res));
    expect(await resultCount(callId)).toBe(0);

    const second = await startOperator();
    try {
      await expect.poll(() => resultCount(callId), { timeout: 60_000, interval: 500 }).toBe(1);
      const stored = (await chain.api.query.services!.jobResults!(serviceId, callId)) as unknown as { unwrap(): { result: Array<{ type: string; value: Codec }> } };
      expect(Buffer.from(stored.unwrap().result[1]!.value.toU8a(true)).toString()).toBe('survived\n');
      // The killed process's containers were removed when the new one started.
      const leftover = await docker.listContainers({ all: true, filters: { label: [`${OWNER_PID_LABEL}=${first.pid}`] } });
      expect(leftover).toEqual([]);
      await new Promise((res) => setTimeout(res, 1500));
      expect(await resultCount(callId)).toBe(1); // and no second submission
    } finally {
      second.kill('SIGTERM');
      await new Promise((res) => second.once('exit', res));
    }
    const remaining = await docker.listContainers({ all: true, filters: { label: [`${OWNER_PID_LABEL}=${second.pid}`] } });
    expect(remaining).toEqual([]);
  });
});
