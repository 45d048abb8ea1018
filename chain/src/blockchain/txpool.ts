// The transaction pool. This node builds a block as soon as a valid transaction arrives
// (instant sealing), so the pool validates, seals, and tells watchers how each one fared.
import { readAccount } from '../pallets/index.js';
import { BlockBuilder, FIXED_FEE } from './block-builder.js';
import { InvalidTransaction, verifyExtrinsic } from './extrinsic.js';
import type { VerifiedExtrinsic } from './extrinsic.js';
import type { Block, Blockchain } from './index.js';
import type { HexString } from './storage-layer.js';

export type TxStatus = 'ready' | { inBlock: HexString } | { finalized: HexString };

export class TxPool {
  private readonly builder: BlockBuilder;
  private queue: Promise<unknown> = Promise.resolve();

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

  /**
   * Validates and seals a block with the transaction; `onStatus` hears ready, inBlock and
   * finalized. Submissions are sealed one at a time, in arrival order, so nonces line up.
   */
  submit(hex: HexString, onStatus: (s: TxStatus) => void = () => undefined): Promise<{ hash: HexString; block: Block }> {
    const run = async () => {
      const xt = this.validate(hex);
      onStatus('ready');
      await new Promise((r) => setImmediate(r)); // let the caller see 'ready' first
      const block = this.builder.build([xt]);
      onStatus({ inBlock: block.hash });
      onStatus({ finalized: block.hash });
      return { hash: xt.hash, block };
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Seals an empty block (dev_newBlock). */
  sealEmpty(): Block {
    return this.builder.build([]);
  }
}
