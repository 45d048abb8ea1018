// A block of the local node: its header (encoded with the runtime's `Header` type), the
// extrinsics it holds, and the storage layer with its state after execution.
import type { Header } from '@polkadot/types/interfaces';
import type { Runtime } from '../runtime.js';
import type { HexString, StorageLayer } from './storage-layer.js';

export class Block {
  readonly hash: HexString;
  private json: Readonly<Record<string, unknown>> | null = null;

  constructor(
    readonly header: Header,
    readonly extrinsics: HexString[],
    readonly storage: StorageLayer,
  ) {
    this.hash = header.hash.toHex() as HexString;
  }

  get number(): number {
    return this.header.number.toNumber();
  }

  get parentHash(): HexString {
    return this.header.parentHash.toHex() as HexString;
  }

  /**
   * The header as the JSON-RPC API gives it (block number as hex, like a Substrate node).
   * Made once per block: a header never changes, and every head subscriber and getHeader /
   * getBlock call asks for it.
   */
  headerJson(): Readonly<Record<string, unknown>> {
    this.json ??= Object.freeze({ ...(this.header.toJSON() as Record<string, unknown>), number: `0x${this.number.toString(16)}` });
    return this.json;
  }

  static create(runtime: Runtime, fields: { parentHash: HexString; number: number; stateRoot: HexString; extrinsicsRoot: HexString }, extrinsics: HexString[], storage: StorageLayer): Block {
    const header = runtime.registry.createType<Header>('Header', { ...fields, digest: { logs: [] } });
    return new Block(header, extrinsics, storage);
  }
}
