// The chain as the operator CLI's one-shot commands meet it: a connection that gives up with a
// clear message instead of retrying forever, the chain's token for amounts, and a failed
// transaction told in the runtime's own words (`services.XyzError: its docs`).
import { ApiPromise, WsProvider } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { ChainTxError } from '../tangle/index.js';

/** A failure the user can act on; printed as one line, exit code 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** How long a one-shot command waits for the node to answer. */
export const CONNECT_TIMEOUT_MS = 20_000;

/** An API connection, or a CommandError when the node refuses it or does not answer within the timeout. */
export async function connectOnce(rpcUrl: string, timeoutMs = CONNECT_TIMEOUT_MS): Promise<ApiPromise> {
  await cryptoWaitReady();
  const api = new ApiPromise({ provider: new WsProvider(rpcUrl, 1000), noInitWarn: true });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CommandError(`no answer from the node at ${rpcUrl} within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([api.isReadyOrError, timeout]);
    return api;
  } catch (err) {
    await api.disconnect().catch(() => undefined);
    if (err instanceof CommandError) throw err;
    // A failed first connection rejects with the WebSocket's error event, not an Error.
    const why = (err as { message?: unknown } | null)?.message;
    throw new CommandError(`cannot connect to the node at ${rpcUrl}${typeof why === 'string' && why ? ` (${why})` : ''}`);
  } finally {
    clearTimeout(timer);
  }
}

/** What the metadata says about a pallet error: `section.Name` → its docs. */
export type ErrorDocs = (section: string, name: string) => string[] | undefined;

/** The metadata's error docs of a connected API. */
export function errorDocs(api: ApiPromise): ErrorDocs {
  return (section, name) => api.errors[section]?.[name]?.meta.docs.map((d) => d.toString());
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
