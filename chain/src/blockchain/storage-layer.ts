// Storage as layers: each block's layer holds what that block changed and falls back to
// its parent's, so every block's state stays readable without copying the whole state.
import { blake2AsHex } from '@polkadot/util-crypto';
import { u8aConcat, hexToU8a } from '@polkadot/util';

export type HexString = `0x${string}`;

export class StorageLayer {
  private readonly changes = new Map<HexString, HexString | null>();

  constructor(private readonly parent: StorageLayer | null = null) {}

  get(key: HexString): HexString | null {
    if (this.changes.has(key)) return this.changes.get(key)!;
    return this.parent ? this.parent.get(key) : null;
  }

  set(key: HexString, value: HexString | null): void {
    this.changes.set(key, value);
  }

  /** Writes this layer's changes into its parent (a call that succeeded). */
  mergeIntoParent(): void {
    if (!this.parent) throw new Error('the root layer has no parent');
    for (const [k, v] of this.changes) this.parent.set(k, v);
    this.changes.clear();
  }

  /** A child layer for the next block. */
  child(): StorageLayer {
    return new StorageLayer(this);
  }

  /** The keys changed in this layer only (what a block changed). */
  changedKeys(): HexString[] {
    return [...this.changes.keys()];
  }

  /** Every key with a value, in order, with its value (parents merged in). */
  entries(): Array<[HexString, HexString]> {
    const merged = new Map<HexString, HexString | null>();
    const chain: StorageLayer[] = [this];
    while (chain[0]!.parent) chain.unshift(chain[0]!.parent);
    for (const l of chain) for (const [k, v] of l.changes) merged.set(k, v);
    return [...merged.entries()].filter((e): e is [HexString, HexString] => e[1] !== null).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  keysWithPrefix(prefix: HexString): HexString[] {
    return this.entries()
      .map(([k]) => k)
      .filter((k) => k.startsWith(prefix));
  }

  /**
   * A commitment to the whole state: blake2-256 over the sorted (key, value) pairs. It is
   * not Substrate's trie root (this node keeps no trie), but it changes exactly when state does.
   */
  root(): HexString {
    const parts = this.entries().flatMap(([k, v]) => [hexToU8a(k), hexToU8a(v)]);
    return blake2AsHex(u8aConcat(...parts), 256) as HexString;
  }
}
