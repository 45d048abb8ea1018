// A failed transaction in the runtime's own words, for every place that sends one (the operator
// CLI, the chain bootstrap of `npm start` and the tests, blueprint creation): a pallet error as
// `section.Name: its docs` from the chain's metadata, another dispatch error as
// `dispatch error: token.FundsUnavailable`, never the raw `{"module":{"index":51,...}}`.
import type { ApiPromise } from '@polkadot/api';
import type { Registry } from '@polkadot/types/types';
import { ChainTxError } from './tx-error.js';

/** What the metadata says about a pallet error: `section.Name` → its docs. */
export type ErrorDocs = (section: string, name: string) => string[] | undefined;

/** The metadata's error docs of a connected API. */
export function errorDocs(api: ApiPromise): ErrorDocs {
  return (section, name) => api.errors[section]?.[name]?.meta.docs.map((d) => d.toString());
}

/** The part of a DispatchError these functions read (a `system.ExtrinsicFailed` event's first field, a result's `dispatchError`). */
export interface DispatchErrorLike {
  isModule: boolean;
  asModule: Parameters<Registry['findMetaError']>[0];
  toString(): string;
}

/** A dispatch error as ChainTxError's reason: `section.Name` for a pallet error (from the metadata), else its JSON. */
export function dispatchErrorReason(registry: Registry, e: DispatchErrorLike): string {
  if (!e.isModule) return e.toString();
  const { section, name } = registry.findMetaError(e.asModule);
  return `${section}.${name}`;
}

/** A failed transaction in the runtime's words: a pallet error as `section.Name: docs`
 *  (ChainTxError gives `section.Name`, found with `registry.findMetaError`; the docs come from
 *  the same metadata), another dispatch error as `dispatch error: token.FundsUnavailable`.
 *  Anything else is its message. */
export function describeChainFailure(err: unknown, docs: ErrorDocs): string {
  if (!(err instanceof ChainTxError)) return err instanceof Error ? err.message : String(err);
  const pallet = /^(\w+)\.(\w+)$/.exec(err.reason);
  if (pallet) {
    const text = (docs(pallet[1]!, pallet[2]!) ?? []).map((d) => d.trim()).filter(Boolean).join(' ');
    return `${err.reason}${text ? `: ${text}` : ''}`;
  }
  // A DispatchError other than Module prints as JSON: {"badOrigin":null}, {"token":"FundsUnavailable"}.
  let decoded: unknown;
  try {
    decoded = JSON.parse(err.reason);
  } catch {
    return err.reason;
  }
  const [kind, detail] = decoded && typeof decoded === 'object' ? (Object.entries(decoded)[0] ?? []) : [];
  if (typeof kind !== 'string') return err.reason;
  return `dispatch error: ${kind}${detail === null || detail === undefined ? '' : `.${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`;
}

/** A result's `dispatchError` told as describeChainFailure does, with the docs of the registry's metadata. */
export function describeDispatchError(registry: Registry, e: DispatchErrorLike): string {
  const docs: ErrorDocs = () => (e.isModule ? registry.findMetaError(e.asModule).docs : undefined);
  return describeChainFailure(new ChainTxError(dispatchErrorReason(registry, e)), docs);
}
