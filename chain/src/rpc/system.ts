// system_*: who this node is and the chain's properties.
import type { RpcModule } from './types.js';
import { accountNonce } from './state.js';

export const system: RpcModule = {
  handlers: {
    system_chain: (ctx) => ctx.node.chain,
    system_name: (ctx) => ctx.node.name,
    system_version: (ctx) => ctx.node.version,
    system_chainType: () => 'Development',
    system_properties: (ctx) => ({ ss58Format: ctx.runtime.ss58Prefix, tokenDecimals: 18, tokenSymbol: 'tTNT' }),
    system_health: () => ({ peers: 0, isSyncing: false, shouldHavePeers: false }),
    system_peers: () => [],
    system_localPeerId: () => '12D3KooWFaaSLocalDevelopmentNode',
    system_accountNextIndex: (ctx, [address]) => accountNonce(ctx, String(address)),
  },
};
