// Storage as layers: each block's layer holds what that block changed and falls back to
// its parent's, so every block's state stays readable without copying the whole state.
//
// Once a block is sealed its layer is detached from the parent and reads below it go to a
// StateHistory (every value each key has had, by block number). Without that, a read of a
// key no recent block touched walked the layers of every block back to genesis (O(chain
// length) per read, and recursion deep enough to overflow the stack on a long-lived chain),
// and the state root, key listings and prefix scans merged every layer each time.
import { blake2AsHex } from '@polkadot/util-crypto';
import { compactToU8a, u8aConcat, hexToU8a } from '@polkadot/util';

export type HexString = `0x${string}`;

/** First index in the sorted `xs` whose element is >= `x`. */
function lowerBound<T>(xs: readonly T[], x: T): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The sealed chain's state: every value each key has had, by block number (null: removed). */
export class StateHistory {
  private readonly versions = new Map<HexString, { at: number[]; values: Array<HexString | null> }>();
  /** Every key ever written, sorted: prefix scans find their range by binary search. */
  private readonly keys: HexString[] = [];
  private top = -1;

  /** Records the changes of block `number`; blocks are committed in order. */
  commit(number: number, changes: ReadonlyMap<HexString, HexString | null>): void {
    if (number !== this.top + 1) throw new Error(`state of block ${number} committed after block ${this.top}`);
    this.top = number;
    for (const [k, v] of changes) {
      let h = this.versions.get(k);
      if (!h) {
        h = { at: [], values: [] };
        this.versions.set(k, h);
        this.keys.splice(lowerBound(this.keys, k), 0, k);
      }
      h.at.push(number);
      h.values.push(v);
    }
  }

  /** The value of `key` after block `number`: O(log n) in the key's own changes. */
  get(key: HexString, number: number): HexString | null {
    const h = this.versions.get(key);
    if (!h) return null;
    // The last change at or before `number`.
    const i = lowerBound(h.at, number + 1) - 1;
    return i < 0 ? null : h.values[i]!;
  }

  /** Keys that were ever written and start with `prefix` (whether they have a value at a given block or not). */
  keysWithPrefix(prefix: HexString): HexString[] {
    const out: HexString[] = [];
    for (let i = lowerBound(this.keys, prefix); i < this.keys.length && this.keys[i]!.startsWith(prefix); i++) out.push(this.keys[i]!);
    return out;
  }
}

export class StorageLayer {
  private readonly changes = new Map<HexString, HexString | null>();
  /** Set when sealed as a block: reads this layer's changes miss go to the history. */
  private sealed: { history: StateHistory; number: number } | null = null;

  constructor(private parent: StorageLayer | null = null) {}

  get(key: HexString): HexString | null {
    return StorageLayer.read(this, key);
  }

  // A loop, not recursion: an unsealed layer sits on at most a few others (a call's layer on
  // its block's, on the sealed parent block's), and a sealed one answers from the history.
  private static read(top: StorageLayer, key: HexString): HexString | null {
    for (let l: StorageLayer | null = top; l; l = l.parent) {
      const v = l.changes.get(key);
      if (v !== undefined || l.changes.has(key)) return v ?? null;
      if (l.sealed) return l.sealed.history.get(key, l.sealed.number);
    }
    return null;
  }

  set(key: HexString, value: HexString | null): void {
    if (this.sealed) throw new Error(`the state of block ${this.sealed.number} is sealed`);
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

  /** Whether this layer itself changed `key` (a block's storage subscription check, O(1)). */
  changed(key: HexString): boolean {
    return this.changes.has(key);
  }

  /** The keys with a value that start with `prefix`, sorted. */
  keysWithPrefix(prefix: HexString): HexString[] {
    return StorageLayer.keys(this, prefix);
  }

  private static keys(top: StorageLayer, prefix: HexString): HexString[] {
    const candidates = new Set<HexString>();
    for (let l: StorageLayer | null = top; l; l = l.parent) {
      for (const k of l.changes.keys()) if (k.startsWith(prefix)) candidates.add(k);
      if (l.sealed) {
        for (const k of l.sealed.history.keysWithPrefix(prefix)) candidates.add(k);
        break;
      }
    }
    return [...candidates].filter((k) => top.get(k) !== null).sort();
  }

  /**
   * Seals this layer as block `number`'s state: its changes go into `history`, it stops
   * falling back to its parent's layer, and it returns the block's state root.
   *
   * The root is not Substrate's trie root (this node keeps no trie). Genesis commits to its
   * whole state (blake2-256 over the sorted key/value pairs); each later block's root is
   * blake2-256 over its parent's root and the keys the block changed with their new values,
   * sorted, so it changes whenever state does and costs O(changes), not O(state): hashing the
   * whole state every block made each block slower than the last.
   */
  seal(history: StateHistory, number: number, parentRoot: HexString | null): HexString {
    if (this.sealed) throw new Error('this layer is already sealed');
    if (this.parent && this.parent.sealed?.number !== number - 1) throw new Error(`block ${number} must be sealed on the state of block ${number - 1}`);
    history.commit(number, this.changes);
    this.sealed = { history, number };
    this.parent = null;
    const sorted = [...this.changes.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (parentRoot === null) {
      const parts = sorted.filter(([, v]) => v !== null).flatMap(([k, v]) => [hexToU8a(k), hexToU8a(v)]);
      return blake2AsHex(u8aConcat(...parts), 256) as HexString;
    }
    // Length-prefixed, with removals marked, so that no two change sets encode alike.
    const parts = sorted.flatMap(([k, v]) => {
      const key = hexToU8a(k);
      if (v === null) return [compactToU8a(key.length), key, new Uint8Array([0])];
      const value = hexToU8a(v);
      return [compactToU8a(key.length), key, new Uint8Array([1]), compactToU8a(value.length), value];
    });
    return blake2AsHex(u8aConcat(hexToU8a(parentRoot), ...parts), 256) as HexString;
  }
}
