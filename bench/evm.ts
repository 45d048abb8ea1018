// Jobs through Tangle's EVM protocol (tnt-core on anvil, instant mining): submit → verified
// result for print(1) in cached mode, split into execution (the engine's share, measured in
// the operator) and chain; beside it a plain ETH transfer round trip (sign, send, receipt) in
// the same run; jobs per second with 20 concurrent callers, each its own account; and the round
// trip on a service of three operators verified by two (the blueprint's service manager keeps
// each call open until all three answered), beside the one-operator round trip.
import { createPublicClient, http, parseEther } from 'viem';
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { startLocalEvmFaas } from '../chain/evm/faas.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { startOperatorService } from '../src/operator/index.js';
import { DockerSandboxEngine } from '../src/sandbox/index.js';
import { TangleFaaSClient } from '@faas/sdk';
import { r2, record, results, say, sleep, timeIt } from './stats.js';
import { TimedEngine } from './timed-engine.js';

const CALLERS = 20;

export async function benchEvm(pace: number): Promise<void> {
  say('\nTangle EVM protocol (tnt-core on anvil, instant mining): job round trip and throughput');
  const log = createLogger('warn');
  const engine = new TimedEngine(new DockerSandboxEngine(loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_OWNER_MAX_CONTAINERS: '2', FAAS_MAX_CONCURRENT: '8' }), log));
  await engine.start();
  const callerKeys: Hex[] = Array.from({ length: CALLERS }, () => generatePrivateKey());
  const t0 = performance.now();
  const f = await startLocalEvmFaas({ operators: 1, permittedCallers: callerKeys.map((k) => privateKeyToAccount(k).address) });
  results.evm_setup_ms = Math.round(performance.now() - t0);
  say(`  anvil + tnt-core deployed + blueprint + operator + service: ${results.evm_setup_ms} ms`);
  const pub = createPublicClient({ transport: http(f.rpcUrl) });
  for (const k of callerKeys) await pub.request({ method: 'anvil_setBalance' as never, params: [privateKeyToAccount(k).address, `0x${parseEther('100').toString(16)}`] as never });
  const service = await startOperatorService({ rpcUrl: f.rpcUrl, evm: { tangle: f.addresses.tangle }, suri: f.operatorKeys[0]!, services: [f.serviceId], dbPath: ':memory:', engine, log, follow: 'best', api: false });
  const client = (key: Hex) => new TangleFaaSClient({ chain: 'evm', rpcUrl: f.rpcUrl, tangleAddress: f.addresses.tangle, blueprintId: f.blueprintId, serviceId: f.serviceId, account: key });
  try {
    // The chain's floor: a plain ETH transfer, signed here, sent, its receipt read.
    const sender = privateKeyToAccount(f.caller.privateKey);
    const chainId = await pub.getChainId();
    let nonce = await pub.getTransactionCount({ address: sender.address, blockTag: 'pending' });
    const fee = (await pub.getGasPrice()) * 2n;
    const transfer = record('evm_eth_transfer_roundtrip', await timeIt(30, pace, async () => {
      const raw = await sender.signTransaction({ to: f.deployer.address, value: 1n, nonce: nonce++, gas: 21_000n, chainId, maxFeePerGas: fee, maxPriorityFeePerGas: 0n, type: 'eip1559' });
      const hash = await pub.sendRawTransaction({ serializedTransaction: raw });
      for (let r = await pub.getTransactionReceipt({ hash }).catch(() => null); !r; r = await pub.getTransactionReceipt({ hash }).catch(() => null)) await sleep(2);
    }));

    const sdk = client(f.caller.privateKey);
    await sdk.connect();
    const job = async (c: TangleFaaSClient) => {
      const r = await c.waitForResult(await c.submitJob({ code: 'print(1)', language: 'python', mode: 'cached' }), { timeoutMs: 60_000 });
      if (r.stdout !== '1\n' || !r.verified) throw new Error(`unexpected result: ${JSON.stringify(r).slice(0, 200)}`);
    };
    for (let i = 0; i < 5; i++) await job(sdk); // warm the caller's container
    engine.times.length = 0;
    const samples = await timeIt(30, pace, () => job(sdk));
    const total = record('evm_job_roundtrip', samples);
    const exec = [...engine.times].sort((a, b) => a - b)[Math.floor(engine.times.length / 2)]!;
    results.evm_job_execution_p50_ms = r2(exec);
    results.evm_job_chain_p50_ms = r2(total - exec);
    results.evm_job_vs_eth_transfer_ratio = r2(total / transfer);
    say(`  split: execution p50 ${exec.toFixed(2)} ms, chain and verification ${(total - exec).toFixed(2)} ms; ${results.evm_job_vs_eth_transfer_ratio}× an ETH transfer round trip`);

    const callers = await Promise.all(callerKeys.map(async (k) => {
      const c = client(k);
      await c.connect();
      return c;
    }));
    await Promise.all(callers.map((c) => job(c))); // each caller's container warm
    let done = 0;
    const until = performance.now() + 10_000;
    const t = performance.now();
    await Promise.all(callers.map(async (c) => {
      while (performance.now() < until) {
        await job(c);
        done++;
      }
    }));
    const perS = done / ((performance.now() - t) / 1000);
    results.evm_jobs_per_s = r2(perS);
    say(`  evm_jobs_per_s                       ${perS.toFixed(1)} verified jobs/s with ${CALLERS} callers (${done} in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  } finally {
    await service.stop();
    await f.anvil.stop();
  }
  try {
    await benchEvmQuorum(engine, pace, log);
  } finally {
    await engine.shutdown();
  }
}

/** A service of three operators (anvil accounts 1-3, one engine), quorum 2: submit → two agreeing verified results. */
async function benchEvmQuorum(engine: TimedEngine, pace: number, log: ReturnType<typeof createLogger>): Promise<void> {
  say('\nTangle EVM protocol: a service of three operators, quorum 2 — submit → two agreeing verified results');
  const q = await startLocalEvmFaas({ operators: 3 });
  const services = [];
  try {
    for (const key of q.operatorKeys) services.push(await startOperatorService({ rpcUrl: q.rpcUrl, evm: { tangle: q.addresses.tangle, heartbeatMs: 0 }, suri: key, services: [q.serviceId], dbPath: ':memory:', engine, log, follow: 'best', api: false }));
    const sdk = new TangleFaaSClient({ chain: 'evm', rpcUrl: q.rpcUrl, tangleAddress: q.addresses.tangle, blueprintId: q.blueprintId, serviceId: q.serviceId, account: q.caller.privateKey });
    await sdk.connect();
    const trip = async () => {
      const r = await sdk.waitForResult(await sdk.submitJob({ code: 'print(1)', language: 'python', mode: 'cached' }), { quorum: 2, timeoutMs: 60_000 });
      if (!r.verified || r.operators.length < 2 || r.stdout !== '1\n') throw new Error(`job ${r.jobId}: verified ${r.verified} by ${r.operators.length}`);
    };
    for (let i = 0; i < 5; i++) await trip();
    const q50 = record('evm_quorum2of3_roundtrip', await timeIt(30, pace, trip));
    const single = results.evm_job_roundtrip_p50_ms;
    if (single) {
      results.evm_quorum_vs_single_ratio = r2(q50 / single);
      say(`  evm_quorum_vs_single_ratio           ${(q50 / single).toFixed(3)} (2-of-3 round trip / one-operator round trip, same run)`);
    }
  } finally {
    for (const s of services) await s.stop();
    await q.anvil.stop();
  }
}
