// The transaction pool. This node builds a block as soon as a valid transaction arrives
// (instant sealing), so the pool validates, seals, and tells watchers how each one fared.
import { readAccount } from '../pallets/index.js';
import { BlockBuilder, FIXED_FEE } from './block-builder.js';
import { InvalidTransaction, verifyExtrinsic } from './extrinsic.js';
import type { VerifiedExtrinsic } from './extrinsic.js';
import type { Block, Blockchain } from './index.js';
import type { HexString } from './storage-layer.js';

export type TxStatus = 'future' | 'ready' | { inBlock: HexString } | { finalized: HexString };

interface Waiting {
  hex: HexString;
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
    const ctx = { runtime: this.chain.runtime, storage: this.chain.head.storage };
    const xt = verifyExtrinsic(this.chain, hex, (who) => readAccount(ctx, who).nonce);
    const fee = FIXED_FEE + BigInt(xt.extrinsic.tip.toString());
    if (readAccount(ctx, xt.signer).data.free < fee) throw new InvalidTransaction('Inability to pay some fees (e.g. account balance too low)');
    return xt;
  }

  /** Like validate, but a nonce ahead of the account's is fine (the pool will hold it). */
  validateForPool(hex: HexString): void {
    try {
      this.validate(hex);
    } catch (err) {
      if (!(err instanceof InvalidTransaction && err.future)) throw err;
    }
  }

  /**
   * Validates and seals a block with the transaction; `onStatus` hears future (held for a
   * nonce gap, as a Substrate pool does), ready, inBlock and finalized. Submissions are handled
   * one at a time, in arrival order.
   */
  submit(hex: HexString, onStatus: (s: TxStatus) => void = () => undefined): Promise<{ hash: HexString; block: Block }> {
    return new Promise((resolve, reject) => {
      const w: Waiting = { hex, onStatus, resolve, reject };
      const run = () => this.process(w);
      this.queue = this.queue.then(run, run);
    });
  }

  private async process(w: Waiting): Promise<void> {
    let xt: VerifiedExtrinsic;
    try {
      xt = this.validate(w.hex);
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
