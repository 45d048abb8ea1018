// pallet_balances: transfers between accounts, with the existential deposit enforced.
import type { Codec } from '@polkadot/types/types';
import type { DispatchContext, Pallet } from './types.js';
import { DispatchError, signerOf } from './types.js';

interface AccountData {
  free: bigint;
  reserved: bigint;
  frozen: bigint;
}

export function readAccount(ctx: Pick<DispatchContext, 'runtime' | 'storage'>, who: string): { nonce: number; providers: number; data: AccountData } {
  const raw = ctx.storage.get(ctx.runtime.key('system', 'account', who));
  const info = ctx.runtime.decodeValue('system', 'account', raw).toJSON() as {
    nonce: number;
    providers: number;
    data: { free: string | number; reserved: string | number; frozen: string | number };
  };
  return {
    nonce: info.nonce,
    providers: info.providers,
    data: { free: BigInt(info.data.free), reserved: BigInt(info.data.reserved), frozen: BigInt(info.data.frozen) },
  };
}

export function writeAccount(ctx: Pick<DispatchContext, 'runtime' | 'storage'>, who: string, nonce: number, data: AccountData): void {
  const empty = data.free === 0n && data.reserved === 0n && nonce === 0;
  ctx.storage.set(
    ctx.runtime.key('system', 'account', who),
    empty
      ? null
      : ctx.runtime.encodeValue('system', 'account', { nonce, consumers: 0, providers: 1, sufficients: 0, data: { ...data, flags: 0 } }),
  );
}

function existentialDeposit(ctx: DispatchContext): bigint {
  return BigInt(ctx.runtime.constant('Balances', 'ExistentialDeposit').toString());
}

/** Moves `amount` from `from` to `to`; `keepAlive` refuses to leave `from` below the deposit. */
export function transfer(ctx: DispatchContext, from: string, to: string, amount: bigint, keepAlive: boolean): void {
  const ed = existentialDeposit(ctx);
  const src = readAccount(ctx, from);
  if (src.data.free < amount) throw DispatchError.module(ctx.runtime, 'Balances', 'InsufficientBalance');
  const left = src.data.free - amount;
  if (keepAlive && left < ed) throw new DispatchError({ Token: 'NotExpendable' }, 'Token.NotExpendable');
  const dst = readAccount(ctx, to);
  if (dst.data.free + amount < ed && dst.nonce === 0 && dst.data.free === 0n) {
    throw DispatchError.module(ctx.runtime, 'Balances', 'ExistentialDeposit');
  }
  if (from !== to) {
    writeAccount(ctx, from, src.nonce, { ...src.data, free: left });
    writeAccount(ctx, to, dst.nonce, { ...dst.data, free: dst.data.free + amount });
  }
  ctx.events.emit(ctx.phase, 'Balances', 'Transfer', { from, to, amount });
}

const dest = (ctx: DispatchContext, a: Codec): string => ctx.runtime.registry.createType('AccountId', (a as unknown as { value: Codec }).value ?? a).toString();
const amount = (a: Codec): bigint => BigInt(a.toString());

export const balances: Pallet = {
  section: 'balances',
  calls: {
    transferKeepAlive: (ctx, [to, value]) => transfer(ctx, signerOf(ctx), dest(ctx, to!), amount(value!), true),
    transferAllowDeath: (ctx, [to, value]) => transfer(ctx, signerOf(ctx), dest(ctx, to!), amount(value!), false),
    forceSetBalance: (ctx, [who, value]) => {
      if (ctx.origin !== 'root') throw DispatchError.badOrigin;
      const account = dest(ctx, who!);
      const a = readAccount(ctx, account);
      writeAccount(ctx, account, a.nonce, { ...a.data, free: amount(value!) });
      ctx.events.emit(ctx.phase, 'Balances', 'BalanceSet', { who: account, free: amount(value!) });
    },
  },
};
