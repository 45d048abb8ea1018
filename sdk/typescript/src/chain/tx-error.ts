// A transaction the chain refused or failed, in a module of its own: the sender throws it and
// describe.ts words it, without those two importing each other.

/** Thrown when the chain refuses or fails a transaction; `reason` is the chain's words. */
export class ChainTxError extends Error {
  constructor(
    readonly reason: string,
    /** The node refused it before it entered the pool (its nonce went unused). */
    readonly refused = false,
    readonly outdatedNonce = false,
    /** The node already has this very transaction in its pool. */
    readonly alreadyImported = false,
  ) {
    super(reason);
  }
}
