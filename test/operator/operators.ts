// Operators for the multi-operator tests: in this process (sharing one engine, each with its own
// chain client, job store, signing key and API), or as their own process through the operator
// CLI (to be SIGKILLed); and who submitted which results, read from every block's events.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { ApiPromise } from '@polkadot/api';
import type { Codec } from '@polkadot/types/types';
import { operatorSigningKey } from '@faas/sdk/blueprint';
import type { LocalNode } from '../../chain/src/index.js';
import { startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { PolkadotTangleClient } from '../../src/tangle/index.js';
import type { TangleClient } from '../../src/tangle/index.js';
import { createLogger } from '../../src/log.js';
import { Operator } from '../../src/operator/index.js';
import type { SandboxEngine } from '../../src/sandbox/index.js';
import { JobStore } from '../../src/store/index.js';

const log = createLogger('warn');

/** An operator in this process. `start` (again) makes a new Operator over the same store. */
export class InProcessOperator {
  readonly store = new JobStore();
  operator: Operator | null = null;
  api: ApiServer | null = null;
  client: TangleClient | null = null;

  constructor(
    readonly suri: string,
    private readonly engine: SandboxEngine,
    private readonly rpcUrl: string,
  ) {}

  /** Its API (full outputs, job status), started first: its URL is what it registers. */
  async serveApi(): Promise<string> {
    this.api = await startApiServer({ log, outputs: { output: (h) => this.store.output(h), get: (s, c) => this.store.get(s, c) } }, { port: 0 });
    return this.api.url;
  }

  async key(): Promise<`0x${string}`> {
    return (await operatorSigningKey(this.suri)).registeredKey;
  }

  async start(services: number[], opts: { client?: TangleClient; engine?: SandboxEngine } = {}): Promise<void> {
    if (!this.client || opts.client) {
      this.client = opts.client ?? new PolkadotTangleClient({ rpcUrl: this.rpcUrl, suri: this.suri, log });
      await this.client.connect();
    }
    const { pair } = await operatorSigningKey(this.suri);
    this.operator = new Operator({ client: this.client, engine: opts.engine ?? this.engine, store: this.store, signer: pair, services: new Set(services.map(BigInt)), log });
    await this.operator.start();
  }

  async stop(): Promise<void> {
    await this.operator?.stop();
    this.operator = null;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.client?.disconnect();
    await this.api?.close();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The operator CLI's `run` as a child process; resolves once it says it is serving. */
export function startOperatorProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/operator/cli.ts', 'run'], {
    env: { ...process.env, FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('serving') && resolve(child));
    child.once('exit', (code, signal) => reject(new Error(`operator exited early (${code ?? signal})`)));
  });
}

export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((res) => child.once('exit', res));
}

/** The accounts that submitted a result for the call, one entry per submission, in order. */
export function submitters(node: LocalNode, api: ApiPromise, serviceId: number, callId: bigint): string[] {
  const out: string[] = [];
  const key = node.runtime.key('system', 'events');
  for (let i = 0; i <= node.chain.head.number; i++) {
    const raw = node.chain.block(i)!.storage.get(key);
    if (!raw) continue;
    const records = api.registry.createType('Vec<EventRecord>', raw) as unknown as Array<{ event: { section: string; method: string; data: Codec[] } }>;
    for (const { event } of records) {
      if (event.section !== 'services' || event.method !== 'JobResultSubmitted') continue;
      if (Number(event.data[1]!.toString()) === serviceId && BigInt(event.data[2]!.toString()) === callId) out.push(event.data[0]!.toString());
    }
  }
  return out;
}
