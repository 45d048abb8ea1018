// All RPC namespaces of the local node, merged; rpc_methods lists them.
import { chain } from './chain.js';
import { state } from './state.js';
import { system } from './system.js';
import type { Handler, RpcModule, Subscription } from './types.js';

export * from './types.js';

const modules: RpcModule[] = [system, chain, state];

export function collectRpc(extra: RpcModule[] = []): { handlers: Map<string, Handler>; subscriptions: Map<string, Subscription> } {
  const handlers = new Map<string, Handler>();
  const subscriptions = new Map<string, Subscription>();
  for (const m of [...modules, ...extra]) {
    for (const [name, h] of Object.entries(m.handlers)) handlers.set(name, h);
    for (const [name, s] of Object.entries(m.subscriptions ?? {})) subscriptions.set(name, s);
  }
  const methods = [...handlers.keys(), ...subscriptions.keys(), ...[...subscriptions.values()].map((s) => s.unsubscribe), 'rpc_methods'].sort();
  handlers.set('rpc_methods', () => ({ version: 1, methods }));
  return { handlers, subscriptions };
}
