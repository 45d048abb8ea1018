// Operators for the EVM multi-operator tests (the counterpart of test/operator/operators.ts):
// in this process (sharing one engine, each with its own EVM chain client, job store, key and
// API), or as their own process through the operator CLI (to be SIGKILLed); and who submitted
// which results, read from the Tangle contract's JobResultSubmitted logs.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import type { Address, Hex, PublicClient } from 'viem';
import { startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { EvmTangleClient, tangleAbi } from '../../src/tangle/evm/index.js';
import { createLogger } from '../../src/log.js';
import { Operator } from '../../src/operator/index.js';
import type { SandboxEngine } from '../../src/sandbox/index.js';
import { JobStore } from '../../src/store/index.js';

const log = createLogger('warn');

export class InProcessEvmOperator {
  readonly store = new JobStore();
  operator: Operator | null = null;
  api: ApiServer | null = null;
  client: EvmTangleClient | null = null;

  /** The node and Tangle contract, once deployed (its API is served before, to register it). */
  chain: { rpcUrl: string; tangle: Address } | null = null;

  constructor(
    readonly privateKey: Hex,
    private readonly engine: SandboxEngine,
    /** Which head it acts on (EvmTangleClient's `follow`). */
    private readonly follow: 'latest' | 'finalized' = 'latest',
  ) {}

  /** Its API (full outputs, job status), started first: its URL is what it registers. */
  async serveApi(): Promise<string> {
    this.api = await startApiServer({ log, outputs: { output: (h) => this.store.output(h), get: (s, c) => this.store.get(s, c) } }, { port: 0 });
    return this.api.url;
  }

  async start(services: bigint[], opts: { engine?: SandboxEngine } = {}): Promise<void> {
    if (!this.client) {
      if (!this.chain) throw new Error('no chain yet: set `chain` first');
      this.client = new EvmTangleClient({ rpcUrl: this.chain.rpcUrl, privateKey: this.privateKey, tangle: this.chain.tangle, log, pollMs: 20, follow: this.follow });
      await this.client.connect();
    }
    this.operator = new Operator({ client: this.client, engine: opts.engine ?? this.engine, store: this.store, signer: { evmPrivateKey: this.privateKey }, services: new Set(services), log });
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

/** The operator CLI's `run --chain evm` as a child process; resolves once it says it is serving. */
export function startEvmOperatorProcess(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/operator/cli.ts', 'run', '--chain', 'evm'], {
    env: { ...process.env, FAAS_FOLLOW: 'best', FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('serving') && resolve(child));
    child.once('exit', (code, signal) => reject(new Error(`operator exited early (${code ?? signal})`)));
  });
}

/** The accounts that submitted a result for the call, one entry per submission, in order. */
export async function evmSubmitters(pub: PublicClient, tangle: Address, serviceId: bigint, callId: bigint): Promise<Address[]> {
  const event = tangleAbi.find((x) => x.type === 'event' && x.name === 'JobResultSubmitted')!;
  const logs = await pub.getLogs({ address: tangle, event, args: { serviceId, callId }, fromBlock: 0n });
  return logs.map((l) => l.args.operator!);
}
