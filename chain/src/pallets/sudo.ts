// pallet_sudo: the sudo key dispatches a call as root.
import type { Codec } from '@polkadot/types/types';
import { DispatchError, signerOf } from './types.js';
import type { DispatchContext, Pallet } from './types.js';

type Call = Codec & { section: string; method: string; args: Codec[] };

function requireSudo(ctx: DispatchContext): void {
  const key = ctx.runtime.decodeValue('sudo', 'key', ctx.storage.get(ctx.runtime.key('sudo', 'key'))).toString();
  if (signerOf(ctx) !== key) throw DispatchError.module(ctx.runtime, 'Sudo', 'RequireSudo');
}

export const sudo: Pallet = {
  section: 'sudo',
  calls: {
    sudo: (ctx, [call]) => {
      requireSudo(ctx);
      let result: unknown = { Ok: null };
      try {
        ctx.dispatch(call as Call, 'root');
      } catch (err) {
        if (!(err instanceof DispatchError)) throw err;
        result = { Err: err.value };
      }
      ctx.events.emit(ctx.phase, 'Sudo', 'Sudid', { sudoResult: result });
    },
  },
};
