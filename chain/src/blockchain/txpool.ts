// The transaction pool. This node builds a block as soon as a valid transaction arrives
// (instant sealing), so the pool validates, seals, and tells watchers how each one fared.
import { readAccount } from '../pallets/index.js';
import { BlockBuilder, FIXED_FEE } from './block-builder.js';
import { InvalidTransaction, checkSignature, checkState } from './extrinsic.js';
import type { VerifiedExtrinsic } from './extrinsic.js';
import type { Block, Blockchain } from './index.js';
import type { HexString } from './storage-layer.js';

export type TxStatus = 'future' | 'ready' | { inBlock: HexString } | { finalized: HexString };

interface Waiting {
  /** The transaction, its signature already checked when the pool accepted it (or raw, to check). */
  tx: HexString | VerifiedExtrinsic;
  onStatus: (s: TxStatus) => void;
  resolve: (r: { hash: HexString; block: Block }) => void;
  reject: (e: unknown) => void;
}

/** Transactions held for a nonce gap, at most this many (then refused). */
const MAX_FUTURE = 1024;

export class TxPool {
  private readonly builder: BlockBuilder;
  private queue: Promise<unknown> = Promise.resolve();
  private future: Waiting[] = [];

  constructor(private readonly chain: Blockchain) {
    this.builder = new BlockBuilder(chain);
  }

  /** Validates against the current head: signature, era, nonce, and that the fee can be paid. */
  validate(hex: HexString): VerifiedExtrinsic {
    return this.checkAtHead(checkSignature(this.chain, hex));
  }

  /** The checks that depend on the head (era, nonce, fee) of a transaction whose signature was checked. */
  private checkAtHead(xt: VerifiedExtrinsic): VerifiedExtrinsic {
    const account = readAccount({ runtime: this.chain.runtime, storage: this.chain.head.storage }, xt.signer);
    checkState(this.chain, xt, () => account.nonce);
    const fee = FIXED_FEE + BigInt(xt.extrinsic.tip.toString());
    if (account.data.free < fee) throw new InvalidTransaction('Inability to pay some fees (e.g. account balance too low)');
    return xt;
  }

  /**
   * Like validate, but a nonce ahead of the account's is fine (the pool will hold it). Returns
   * the checked transaction for `submit`, so that its signature is not verified twice.
   */
  validateForPool(hex: HexString): VerifiedExtrinsic {
    const xt = checkSignature(this.chain, hex);
    try {
      this.checkAtHead(xt);
    } catch (err) {
      if (!(err instanceof InvalidTransaction && err.future)) throw err;
    }
    return xt;
  }

  /**
   * Validates and seals a block with the transaction; `onStatus` hears future (held for a
   * nonce gap, as a Substrate pool does), ready, inBlock and finalized. Submissions are handled
   * one at a time, in arrival order.
   */
  submit(tx: HexString | VerifiedExtrinsic, onStatus: (s: TxStatus) => void = () => undefined): Promise<{ hash: HexString; block: Block }> {
    return new Promise((resolve, reject) => {
      const w: Waiting = { tx, onStatus, resolve, reject };
      const run = () => this.process(w);
      this.queue = this.queue.then(run, run);
    });
  }

  private async process(w: Waiting): Promise<void> {
    let xt: VerifiedExtrinsic;
    try {
      // Its state may have changed since it was accepted (another transaction of the same
      // account, a balance spent): the head-dependent checks run again on the head it joins.
      xt = typeof w.tx === 'string' ? this.validate(w.tx) : this.checkAtHead(w.tx);
    } catch (err) {
      if (err instanceof InvalidTransaction && err.future && this.future.length < MAX_FUTURE) {
        this.future.push(w);
        w.onStatus('future');
        return;
      }
      w.reject(err);
      return;
    }
    w.onStatus('ready');
    await new Promise((r) => setImmediate(r)); // let the caller see 'ready' first
    const block = this.builder.build([xt]);
    w.onStatus({ inBlock: block.hash });
    w.onStatus({ finalized: block.hash });
    w.resolve({ hash: xt.hash, block });
    // A new block may have closed a nonce gap: held transactions that are now valid go next.
    const held = this.future;
    this.future = [];
    for (const h of held) await this.process(h);
  }

  /** Seals an empty block (dev_newBlock). */
  sealEmpty(): Block {
    return this.builder.build([]);
  }
}
