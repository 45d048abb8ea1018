// The gateway's cost: the same cached execute through FaaSClient over HTTP and through the
// engine directly, alternating in one run; and a 1 MB file in / 1 MB printed back end to end.
import { createGateway, startApiServer } from '../src/api/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createSandbox } from '../src/sandbox/index.js';
import type { ExecuteRequestInput } from '../src/sandbox/index.js';
import { FaaSClient } from '@faas/sdk';
import { JobStore, openDatabase } from '../src/store/index.js';
import { check, pct, r2, record, results, say, sleep } from './stats.js';

export async function benchGateway(pace: number): Promise<void> {
  say('\ngateway: cached python print(1) through FaaSClient (HTTP) vs the engine directly, alternating');
  const config = loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_RATE_LIMIT_REQUESTS: '1000000' });
  const log = createLogger('warn');
  const sandbox = createSandbox(config, { log });
  const { engine } = sandbox;
  await engine.start();
  const db = openDatabase(':memory:');
  const gateway = createGateway(config, sandbox, db, log);
  const server = await startApiServer({ log, outputs: new JobStore(db), gateway }, { port: 0, bodyLimit: config.api.bodyLimitBytes });
  const { key, info } = gateway.keys.create('bench');
  const sdk = new FaaSClient({ endpoint: server.url, apiKey: key });
  try {
    const req: ExecuteRequestInput = { code: 'print(1)', language: 'python', mode: 'cached' };
    // Both paths use the same owner (the key's id), so the same warm container.
    const direct = async () => check((await engine.execute(req, { owner: info.id })).stdout, '1\n', 'engine');
    const viaHttp = async () => check((await sdk.execute({ code: 'print(1)', language: 'python', mode: 'cached' })).stdout, '1\n', 'gateway');
    for (let i = 0; i < 20; i++) {
      await direct();
      await viaHttp();
    }
    const d: number[] = [];
    const h: number[] = [];
    for (let i = 0; i < 100; i++) {
      for (const [fn, into] of [[direct, d], [viaHttp, h]] as const) {
        const t = performance.now();
        await fn();
        into.push(performance.now() - t);
        await sleep(pace / 2);
      }
    }
    const dp = record('engine_direct_python', d);
    const hp = record('sdk_cached_python', h);
    results.gateway_overhead_p50_ms = r2(hp - dp);
    results.sdk_vs_engine_ratio = Math.round((hp / dp) * 1000) / 1000;
    say(`  gateway_overhead_p50_ms              ${(hp - dp).toFixed(2)} ms (target < 3 ms: ${hp - dp < 3 ? 'met' : 'MISSED'})`);

    say('\npayload: a 1 MB input file, printed back (1 MB stdout), end to end through FaaSClient');
    const mb = 'abcdefghij'.repeat(100_000); // 1,000,000 bytes
    const payload = { code: 'import sys\nsys.stdout.write(open("in.txt").read())', language: 'python' as const, mode: 'cached' as const, files: { 'in.txt': mb } };
    const p: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t = performance.now();
      const r = await sdk.execute(payload);
      p.push(performance.now() - t);
      if (r.stdout.length !== mb.length || r.truncated) throw new Error(`payload: got ${r.stdout.length} bytes back (truncated ${r.truncated})`);
      await sleep(pace);
    }
    results.payload_1mb_roundtrip_ms = r2(pct(p, 50));
    results.payload_1mb_roundtrip_p95_ms = r2(pct(p, 95));
    say(`  payload_1mb_roundtrip_ms             p50 ${pct(p, 50).toFixed(1)} ms   p95 ${pct(p, 95).toFixed(1)} ms (target < 1000 ms: ${pct(p, 50) < 1000 ? 'met' : 'MISSED'})`);
  } finally {
    await server.close();
    await engine.shutdown();
    db.close();
  }
}
