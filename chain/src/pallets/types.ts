// What a pallet implementation sees when a call is dispatched.
import type { Codec } from '@polkadot/types/types';
import type { EventLog, Phase } from '../blockchain/events.js';
import type { StorageLayer } from '../blockchain/storage-layer.js';
import type { Runtime } from '../runtime.js';

export type Origin = { signed: string } | 'root';

export interface DispatchContext {
  runtime: Runtime;
  storage: StorageLayer;
  events: EventLog;
  phase: Phase;
  origin: Origin;
  blockNumber: number;
  /** Dispatches a nested call (sudo) with another origin. */
  dispatch(call: Codec & { section: string; method: string; args: Codec[] }, origin: Origin): void;
}

/** A call's failure: the DispatchError the runtime records in System.ExtrinsicFailed. */
export class DispatchError extends Error {
  constructor(
    readonly value: unknown,
    message: string,
  ) {
    super(message);
  }

  static module(runtime: Runtime, pallet: string, name: string, payload?: unknown): DispatchError {
    return new DispatchError(runtime.moduleError(pallet, name, payload), `${pallet}.${name}`);
  }

  static get badOrigin(): DispatchError {
    return new DispatchError('BadOrigin', 'BadOrigin');
  }
}

export type CallHandler = (ctx: DispatchContext, args: Codec[]) => void;

export interface Pallet {
  /** camelCase section name as @polkadot/api shows it (e.g. `balances`). */
  section: string;
  calls: Record<string, CallHandler>;
}

export function signerOf(ctx: DispatchContext): string {
  if (ctx.origin === 'root') throw DispatchError.badOrigin;
  return ctx.origin.signed;
}
