// A local anvil (Foundry's dev EVM node) on 127.0.0.1: a free port, instant mining (a block per
// transaction), optionally loading and dumping its state so a restart keeps the chain.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

/** anvil's binary: FAAS_ANVIL_BIN, else the one npm's @foundry-rs/anvil-<platform> ships. */
export function anvilBinary(): string {
  if (process.env.FAAS_ANVIL_BIN) return process.env.FAAS_ANVIL_BIN;
  const require = createRequire(import.meta.url);
  const pkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}`;
  const bin = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'anvil');
  if (!existsSync(bin)) throw new Error(`anvil binary not found at ${bin} (npm install @foundry-rs/anvil, or set FAAS_ANVIL_BIN)`);
  return bin;
}

/** The dev accounts anvil funds (its default mnemonic), by index. Public knowledge: dev only. */
export const ANVIL_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
  '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a',
  '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba',
] as const satisfies ReadonlyArray<`0x${string}`>;

export interface AnvilOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** A state file to start from (`--load-state`). */
  loadState?: string;
  /** Where anvil writes its state when it stops (`--dump-state`). */
  dumpState?: string;
  chainId?: number;
  /** `--slots-in-an-epoch`: anvil answers the `finalized` tag with the head minus twice this
   *  (its default 32), `safe` with the head minus this. */
  slotsInAnEpoch?: number;
}

export interface Anvil {
  url: string;
  port: number;
  process: ChildProcess;
  /** Stops it (SIGTERM, so a `dumpState` file is written) and waits for it to exit. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export async function startAnvil(o: AnvilOptions = {}): Promise<Anvil> {
  const port = o.port || (await freePort());
  const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(o.chainId ?? 31337), '--accounts', String(ANVIL_KEYS.length), '--silent'];
  if (o.loadState) args.push('--load-state', o.loadState);
  if (o.dumpState) args.push('--dump-state', o.dumpState);
  if (o.slotsInAnEpoch !== undefined) args.push('--slots-in-an-epoch', String(o.slotsInAnEpoch));
  const child = spawn(anvilBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-2000)));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  // Ready when it answers JSON-RPC.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`anvil exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' });
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (i > 400) {
      child.kill('SIGKILL');
      throw new Error(`anvil did not answer on ${url}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url,
    port,
    process: child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
