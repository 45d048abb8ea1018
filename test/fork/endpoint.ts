// The live endpoint the fork tests fork (vitest.fork.config.ts refuses to start without it).
export const endpoint = process.env.FAAS_FORK_ENDPOINT!;
/** FAAS_FORK_BLOCK: a block number or hash to fork at; default the endpoint's head. */
export const block = ((b) => (b === undefined || b === '' ? undefined : /^\d+$/.test(b) ? Number(b) : b))(process.env.FAAS_FORK_BLOCK);
