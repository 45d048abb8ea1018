// The local node's chain: blocks by hash and number, the head (finalized at once: a single
// development authority), and listeners for new blocks.
import { blake2AsHex } from '@polkadot/util-crypto';
import type { Runtime } from '../runtime.js';
import { Block } from './block.js';
import { genesisStorage } from './genesis.js';
import { StateHistory } from './storage-layer.js';
import type { HexString, StorageLayer } from './storage-layer.js';

export { Block } from './block.js';
export { StateHistory, StorageLayer } from './storage-layer.js';
export type { HexString } from './storage-layer.js';
export { DEV_ACCOUNTS, DEV_BALANCE, devAddresses } from './genesis.js';

const EMPTY_ROOT = blake2AsHex(new Uint8Array(), 256) as HexString;

export class Blockchain {
  private readonly byHash = new Map<HexString, Block>();
  private readonly byNumber: Block[] = [];
  private readonly listeners = new Set<(block: Block) => void>();
  /** Every block's state, by number: what sealed blocks' storage layers read through. */
  private readonly history = new StateHistory();

  private constructor(readonly runtime: Runtime) {}

  static async create(runtime: Runtime): Promise<Blockchain> {
    const chain = new Blockchain(runtime);
    const storage = await genesisStorage(runtime);
    const stateRoot = storage.seal(chain.history, 0, null);
    const genesis = Block.create(runtime, { parentHash: `0x${'00'.repeat(32)}`, number: 0, stateRoot, extrinsicsRoot: EMPTY_ROOT }, [], storage);
    chain.add(genesis);
    return chain;
  }

  get head(): Block {
    return this.byNumber[this.byNumber.length - 1]!;
  }

  get genesis(): Block {
    return this.byNumber[0]!;
  }

  /** Blocks are final as soon as they are made (one development authority). */
  get finalized(): Block {
    return this.head;
  }

  block(hashOrNumber?: HexString | number | null): Block | undefined {
    if (hashOrNumber === undefined || hashOrNumber === null) return this.head;
    if (typeof hashOrNumber === 'number') return this.byNumber[hashOrNumber];
    return this.byHash.get(hashOrNumber.toLowerCase() as HexString);
  }

  /** Builds the next block from `extrinsics` applied by `apply` to a fresh storage layer. */
  buildBlock(extrinsics: HexString[], apply: (storage: StorageLayer, number: number) => void = () => undefined): Block {
    const parent = this.head;
    const number = parent.number + 1;
    const storage = parent.storage.child();
    storage.set(this.runtime.key('system', 'number'), this.runtime.encodeValue('system', 'number', number));
    storage.set(this.runtime.key('system', 'parentHash'), this.runtime.encodeValue('system', 'parentHash', parent.hash));
    storage.set(this.runtime.key('system', 'blockHash', parent.number), this.runtime.encodeValue('system', 'blockHash', parent.hash));
    apply(storage, number);
    const extrinsicsRoot = extrinsics.length ? (blake2AsHex(extrinsics.join(''), 256) as HexString) : EMPTY_ROOT;
    const stateRoot = storage.seal(this.history, number, parent.header.stateRoot.toHex() as HexString);
    const block = Block.create(this.runtime, { parentHash: parent.hash, number, stateRoot, extrinsicsRoot }, extrinsics, storage);
    this.add(block);
    return block;
  }

  onBlock(listener: (block: Block) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private add(block: Block): void {
    this.byHash.set(block.hash, block);
    this.byNumber[block.number] = block;
    for (const l of this.listeners) l(block);
  }
}
