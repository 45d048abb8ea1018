// The chain as the operator CLI's one-shot commands meet it: a connection that gives up with a
// clear message instead of retrying forever, the chain's token for amounts, and a failed
// transaction told in the runtime's own words (`services.XyzError: its docs`).
import { ApiPromise, WsProvider } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';

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

// The runtime's words for a failed transaction live with the chain code (@faas/sdk/chain), shared
// with the chain bootstrap and blueprint creation.
export { describeChainFailure, errorDocs } from '../tangle/index.js';
export type { ErrorDocs } from '../tangle/index.js';
