// Builds a block from verified extrinsics: for each one, the nonce and fee (signed
// extensions), then the call, then System.ExtrinsicSuccess / ExtrinsicFailed — the events a
// real runtime emits, in the same order.
import type { Codec } from '@polkadot/types/types';
import { DispatchError, PALLETS, readAccount, writeAccount } from '../pallets/index.js';
import type { DispatchContext, Origin, Pallet } from '../pallets/index.js';
import type { Runtime } from '../runtime.js';
import { EventLog } from './events.js';
import type { VerifiedExtrinsic } from './extrinsic.js';
import type { Block, Blockchain } from './index.js';
import type { StorageLayer } from './storage-layer.js';

/** The fee every signed extrinsic pays here: 0.001 TNT, plus its tip. Fixed, not weight-based. */
export const FIXED_FEE = 10n ** 15n;

type Call = Codec & { section: string; method: string; args: Codec[] };

const DISPATCH_INFO = { weight: { refTime: 100_000_000, proofSize: 0 }, class: 'Normal', paysFee: 'Yes' };

export class BlockBuilder {
  private readonly pallets = new Map<string, Pallet>(PALLETS.map((p) => [p.section, p]));

  constructor(private readonly chain: Blockchain) {}

  private get runtime(): Runtime {
    return this.chain.runtime;
  }

  build(extrinsics: VerifiedExtrinsic[]): Block {
    return this.chain.buildBlock(
      extrinsics.map((x) => x.hex),
      (storage, number) => {
        const events = new EventLog(this.runtime);
        extrinsics.forEach((xt, i) => this.apply(xt, i, storage, events, number));
        events.store(storage);
      },
    );
  }

  private apply(xt: VerifiedExtrinsic, index: number, storage: StorageLayer, events: EventLog, blockNumber: number): void {
    const phase = { ApplyExtrinsic: index };
    const ctx0 = { runtime: this.runtime, storage };
    // Signed extensions: the nonce goes up and the fee is paid whatever the call does.
    const tip = BigInt(xt.extrinsic.tip.toString());
    const fee = FIXED_FEE + tip;
    const account = readAccount(ctx0, xt.signer);
    writeAccount(ctx0, xt.signer, account.nonce + 1, { ...account.data, free: account.data.free - fee });
    events.emit(phase, 'Balances', 'Withdraw', { who: xt.signer, amount: fee });
    // The call runs on a layer of its own, so a failed call leaves no half-done writes.
    const callLayer = storage.child();
    const ctx: DispatchContext = {
      runtime: this.runtime,
      storage: callLayer,
      events,
      phase,
      origin: { signed: xt.signer },
      blockNumber,
      dispatch: (call, origin) => this.dispatch({ ...ctx, origin }, call),
    };
    const mark = events.events.length;
    try {
      this.dispatch(ctx, xt.extrinsic.method as unknown as Call);
      callLayer.mergeIntoParent();
      events.emit(phase, 'TransactionPayment', 'TransactionFeePaid', { who: xt.signer, actualFee: fee, tip });
      events.emit(phase, 'System', 'ExtrinsicSuccess', { dispatchInfo: DISPATCH_INFO });
    } catch (err) {
      if (!(err instanceof DispatchError)) throw err;
      events.events.splice(mark); // a failed call's own events are rolled back with its writes
      events.emit(phase, 'TransactionPayment', 'TransactionFeePaid', { who: xt.signer, actualFee: fee, tip });
      events.emit(phase, 'System', 'ExtrinsicFailed', { dispatchError: err.value, dispatchInfo: DISPATCH_INFO });
    }
  }

  private dispatch(ctx: DispatchContext & { origin: Origin }, call: Call): void {
    const handler = this.pallets.get(call.section)?.calls[call.method];
    if (!handler) throw new DispatchError('Other', `${call.section}.${call.method} is not implemented on this node`);
    handler(ctx, call.args);
  }
}
