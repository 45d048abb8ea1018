// pallet_multi_asset_delegation, the part an operator needs: joining the operator set with a
// bond. The bond is reserved from the operator's free balance.
import { readAccount, writeAccount } from './balances.js';
import { DispatchError, signerOf } from './types.js';
import type { DispatchContext, Pallet } from './types.js';

export function isOperator(ctx: Pick<DispatchContext, 'runtime' | 'storage'>, who: string): boolean {
  return ctx.storage.get(ctx.runtime.key('multiAssetDelegation', 'operators', who)) !== null;
}

/** The operator's status variant ('Active', 'Inactive' or 'Leaving'), or null for a non-operator. */
export function operatorStatus(ctx: Pick<DispatchContext, 'runtime' | 'storage'>, who: string): string | null {
  const raw = ctx.storage.get(ctx.runtime.key('multiAssetDelegation', 'operators', who));
  if (raw === null) return null;
  const meta = ctx.runtime.decodeValue('multiAssetDelegation', 'operators', raw) as unknown as { status: { type: string } };
  return meta.status.type;
}

export const multiAssetDelegation: Pallet = {
  section: 'multiAssetDelegation',
  calls: {
    joinOperators: (ctx, [bondAmount]) => {
      const who = signerOf(ctx);
      const bond = BigInt(bondAmount!.toString());
      if (isOperator(ctx, who)) throw DispatchError.module(ctx.runtime, 'MultiAssetDelegation', 'AlreadyOperator');
      const min = BigInt(ctx.runtime.constant('MultiAssetDelegation', 'MinOperatorBondAmount').toString());
      if (bond < min) throw DispatchError.module(ctx.runtime, 'MultiAssetDelegation', 'BondTooLow');
      const account = readAccount(ctx, who);
      // The bond is reserved through Balances, which refuses with its own error.
      if (account.data.free < bond) throw DispatchError.module(ctx.runtime, 'Balances', 'InsufficientBalance');
      writeAccount(ctx, who, account.nonce, { ...account.data, free: account.data.free - bond, reserved: account.data.reserved + bond });
      ctx.storage.set(
        ctx.runtime.key('multiAssetDelegation', 'operators', who),
        ctx.runtime.encodeValue('multiAssetDelegation', 'operators', {
          stake: bond,
          delegationCount: 0,
          request: null,
          delegations: [],
          status: 'Active',
          blueprintIds: [],
        }),
      );
      ctx.events.emit(ctx.phase, 'MultiAssetDelegation', 'OperatorJoined', { who });
    },
  },
};
