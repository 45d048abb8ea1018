// The local Tangle services node: public face. Starts in-process for tests, or as
// `npm run chain` for users; serves on 127.0.0.1.
import { Blockchain } from './blockchain/index.js';
import { TxPool } from './blockchain/txpool.js';
import { author, dev } from './rpc/author.js';
import { collectRpc } from './rpc/index.js';
import { Runtime } from './runtime.js';
import { serveRpc } from './server.js';

export { Runtime, defaultMetadataPath } from './runtime.js';
export { Blockchain, DEV_ACCOUNTS, DEV_BALANCE, devAddresses } from './blockchain/index.js';
export { TxPool } from './blockchain/txpool.js';
export { FIXED_FEE } from './blockchain/block-builder.js';
export { bootstrapFaasService, send, sendRaw } from './bootstrap.js';

export interface NodeOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  metadataPath?: string;
}

export interface LocalNode {
  url: string;
  port: number;
  runtime: Runtime;
  chain: Blockchain;
  pool: TxPool;
  stop(): Promise<void>;
  /** Drops all connections and stops answering (blocks can still be made in-process). */
  suspend(): Promise<void>;
  /** Listens again on the same port. */
  resume(): Promise<void>;
}

export async function startNode(opts: NodeOptions = {}): Promise<LocalNode> {
  const runtime = new Runtime(opts.metadataPath);
  const chain = await Blockchain.create(runtime);
  const ctx = { chain, runtime, node: { name: 'tangle-faas-dev-node', version: '0.1.0', chain: 'Tangle Local Testnet (FaaS development)' } };
  const pool = new TxPool(chain);
  const server = await serveRpc(ctx, collectRpc([author(pool), dev(pool)]), { host: opts.host ?? '127.0.0.1', port: opts.port ?? 9944 });
  return { url: server.url, port: server.port, runtime, chain, pool, stop: () => server.close(), suspend: () => server.suspend(), resume: () => server.resume() };
}
