// The local Tangle services node: public face. Starts in-process for tests, or as
// `npm run chain` for users; serves on 127.0.0.1.
import { Blockchain } from './blockchain/index.js';
import { collectRpc } from './rpc/index.js';
import { Runtime } from './runtime.js';
import { serveRpc } from './server.js';

export { Runtime, defaultMetadataPath } from './runtime.js';
export { Blockchain, DEV_ACCOUNTS, DEV_BALANCE, devAddresses } from './blockchain/index.js';

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
  stop(): Promise<void>;
}

export async function startNode(opts: NodeOptions = {}): Promise<LocalNode> {
  const runtime = new Runtime(opts.metadataPath);
  const chain = await Blockchain.create(runtime);
  const ctx = { chain, runtime, node: { name: 'tangle-faas-dev-node', version: '0.1.0', chain: 'Tangle Local Testnet (FaaS development)' } };
  const server = await serveRpc(ctx, collectRpc(), { host: opts.host ?? '127.0.0.1', port: opts.port ?? 9944 });
  return { url: server.url, port: server.port, runtime, chain, stop: () => server.close() };
}
