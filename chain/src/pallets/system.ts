// frame_system calls this node supports.
import type { Pallet } from './types.js';
import { signerOf } from './types.js';

export const system: Pallet = {
  section: 'system',
  calls: {
    remark: () => undefined,
    remarkWithEvent: (ctx, [remark]) => {
      const sender = signerOf(ctx);
      const hash = ctx.runtime.registry.hash(remark!.toU8a(true));
      ctx.events.emit(ctx.phase, 'System', 'Remarked', { sender, hash });
    },
  },
};
