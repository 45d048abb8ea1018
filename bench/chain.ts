// Jobs through the chain on the local services node (instant blocks): submit → verified
// result for print(1) in cached mode, split into execution (the engine's share, measured in
// the operator) and chain; beside it the chain's floor, a plain system.remark round trip in
// the same run; and jobs per second with 20 concurrent callers (one process, sharing one API
// connection, as a backend submitting for many accounts would). Then the same with a service
// of three operators, each answering every call: submit → two agreeing verified results.
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { bootstrapFaasService } from '../chain/src/index.js';
import { TxSender, connectApi } from '../src/tangle/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import { startOperatorService } from '../src/operator/index.js';
import { DockerSandboxEngine } from '../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { pct, r2, record, results, say, sleep } from './stats.js';
import { TimedEngine } from './timed-engine.js';

const CALLERS = 20;

/** `npm run chain` as a child process on a free port. */
async function startNodeProcess(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'chain/src/main.ts'], { env: { ...process.env, FAAS_CHAIN_PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => {
      const m = /at (ws:\/\/\S+)/.exec(b.toString());
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`the local node exited (${code})`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

export async function benchChain(pace: number): Promise<void> {
  say('\nchain: jobs through the local services node (instant blocks), operator on the real engine');
  const log = createLogger('warn');
  const engine = new TimedEngine(new DockerSandboxEngine(loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_OWNER_MAX_CONTAINERS: '4' }), log));
  await engine.start();
  // The node runs as its own process, as a chain node does: it gets the second core rather
  // than sharing this process's one thread with the operators and the callers.
  const node = await startNodeProcess();
  const api = await connectApi(node.url);
  const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 });
  const [alice, bob] = [keyring.addFromUri('//Alice'), keyring.addFromUri('//Bob')] as [KeyringPair, KeyringPair];
  const callers = Array.from({ length: CALLERS }, (_, i) => keyring.addFromUri(`//Caller${i}`));
  const stops: Array<() => Promise<unknown>> = [() => engine.shutdown(), () => node.stop(), () => api.disconnect()];
  try {
    const fund = new TxSender(api, alice);
    await Promise.all(callers.map((c) => fund.send(api.tx.balances!.transferKeepAlive!(c.address, 10n ** 21n))));
    const { registeredKey } = await operatorSigningKey('//Bob');
    const { blueprintId, serviceId } = await bootstrapFaasService(api, { owner: alice, operator: bob, permitted: callers.map((c) => c.address), key: registeredKey });
    const op = await startOperatorService({ rpcUrl: node.url, suri: '//Bob', services: [BigInt(serviceId)], dbPath: ':memory:', engine, log, api: { port: 0 } });
    stops.unshift(() => op.stop());
    const clients = callers.map((account) => new TangleFaaSClient({ rpcUrl: node.url, blueprintId, serviceId, account, api }));
    await Promise.all(clients.map((c) => c.connect()));
    stops.unshift(() => Promise.all(clients.map((c) => c.disconnect())));
    const job = { code: 'print(1)', language: 'python', mode: 'cached' } as const;
    const roundTrip = async (c: TangleFaaSClient) => {
      const r = await c.waitForResult(await c.submitJob(job), { timeoutMs: 60_000 });
      if (!r.verified || r.stdout !== '1\n') throw new Error(`job ${r.jobId}: verified ${r.verified}, stdout ${JSON.stringify(r.stdout)}`);
    };

    // The floor: a remark signed, included and finalized, on the same node.
    const remarker = new TxSender(api, callers[0]!);
    const floor: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await remarker.send(api.tx.system!.remark!('0x00'));
      floor.push(performance.now() - t);
      await sleep(pace / 2);
    }
    const floorP50 = record('chain_remark_roundtrip', floor);

    for (let i = 0; i < 5; i++) await roundTrip(clients[1]!); // warm the caller's container
    engine.times.length = 0;
    const total: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      await roundTrip(clients[1]!);
      total.push(performance.now() - t);
      await sleep(pace);
    }
    const exec = engine.times.slice();
    const chainPart = total.map((t, i) => t - (exec[i] ?? 0));
    const rt = record('chain_job_roundtrip', total);
    record('chain_job_execution', exec);
    record('chain_job_chain', chainPart);
    results.chain_job_vs_remark_ratio = Math.round((rt / floorP50) * 1000) / 1000;
    say(`  chain_job_vs_remark_ratio            ${(rt / floorP50).toFixed(3)} (job round trip / plain remark round trip)`);

    say(`\nchain: jobs per second, ${CALLERS} concurrent callers (each submit → verified result, in a loop)`);
    // Each caller is its own owner with its own warm container: start them before the clock does.
    await Promise.all(clients.map((c) => roundTrip(c)));
    engine.times.length = 0;
    let done = 0;
    const until = performance.now() + 10_000;
    const t0 = performance.now();
    await Promise.all(
      clients.map(async (c) => {
        while (performance.now() < until) {
          await roundTrip(c);
          done++;
        }
      }),
    );
    const perS = done / ((performance.now() - t0) / 1000);
    results.chain_jobs_per_s = r2(perS);
    say(`  chain_jobs_per_s                     ${perS.toFixed(1)} verified jobs/s (${done} jobs)`);
    say(`  p50 of the execution share           ${pct(exec, 50).toFixed(2)} ms`);

    say('\nchain: a service of three operators (//Bob, //Dave, //Eve), quorum 2 — submit → two agreeing verified results');
    const more = [keyring.addFromUri('//Dave'), keyring.addFromUri('//Eve')];
    const operators = [];
    for (const [i, pair] of [bob, ...more].entries()) {
      operators.push({ pair, key: (await operatorSigningKey(['//Bob', '//Dave', '//Eve'][i]!)).registeredKey, joined: i === 0 });
    }
    const q = await bootstrapFaasService(api, { owner: alice, permitted: callers.map((c) => c.address), operators });
    for (const suri of ['//Bob', '//Dave', '//Eve']) {
      const o = await startOperatorService({ rpcUrl: node.url, suri, services: [BigInt(q.serviceId)], dbPath: ':memory:', engine, log, api: false });
      stops.unshift(() => o.stop());
    }
    const qClients = callers.map((account) => new TangleFaaSClient({ rpcUrl: node.url, blueprintId: q.blueprintId, serviceId: q.serviceId, account, api }));
    stops.unshift(() => Promise.all(qClients.map((c) => c.disconnect())));
    const quorumTrip = async (c: TangleFaaSClient) => {
      const r = await c.waitForResult(await c.submitJob(job), { quorum: 2, timeoutMs: 60_000 });
      if (!r.verified || r.operators.length < 2 || r.stdout !== '1\n') throw new Error(`job ${r.jobId}: verified ${r.verified} by ${r.operators.length}`);
    };
    for (let i = 0; i < 5; i++) await quorumTrip(qClients[1]!);
    const qTotal: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await quorumTrip(qClients[1]!);
      qTotal.push(performance.now() - t);
      await sleep(pace);
    }
    const q50 = record('chain_quorum2of3_roundtrip', qTotal);
    results.chain_quorum_vs_single_ratio = Math.round((q50 / rt) * 1000) / 1000;
    say(`  chain_quorum_vs_single_ratio         ${(q50 / rt).toFixed(3)} (2-of-3 round trip / one-operator round trip, same run)`);
    await Promise.all(qClients.map((c) => quorumTrip(c)));
    let qDone = 0;
    const qUntil = performance.now() + 10_000;
    const q0 = performance.now();
    await Promise.all(
      qClients.map(async (c) => {
        while (performance.now() < qUntil) {
          await quorumTrip(c);
          qDone++;
        }
      }),
    );
    const qPerS = qDone / ((performance.now() - q0) / 1000);
    results.chain_quorum_jobs_per_s = r2(qPerS);
    say(`  chain_quorum_jobs_per_s              ${qPerS.toFixed(1)} jobs/s verified by 2 of 3 operators (${qDone} jobs, ${CALLERS} callers)`);
  } finally {
    for (const s of stops) await s().catch(() => undefined);
  }
}
