// What an RPC namespace file exports: plain method handlers and subscriptions.
import type { Blockchain } from '../blockchain/index.js';
import type { Runtime } from '../runtime.js';

export interface RpcContext {
  chain: Blockchain;
  runtime: Runtime;
  /** Name and version the node reports (system_name / system_version). */
  node: { name: string; version: string; chain: string };
}

export type Handler = (ctx: RpcContext, params: unknown[]) => unknown | Promise<unknown>;

export interface Subscription {
  /** The method name of the notifications (e.g. chain_newHead). */
  notification: string;
  /** The method that ends it (e.g. chain_unsubscribeNewHeads). */
  unsubscribe: string;
  /** Starts sending; returns a function that stops. */
  start(ctx: RpcContext, params: unknown[], emit: (result: unknown) => void): () => void;
}

export interface RpcModule {
  handlers: Record<string, Handler>;
  subscriptions?: Record<string, Subscription>;
}

/** A JSON-RPC error with a code (the JSON-RPC codes, or a Substrate-like one). */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

export const INVALID_PARAMS = -32602;
export const METHOD_NOT_FOUND = -32601;
