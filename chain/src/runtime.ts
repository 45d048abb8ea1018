// The runtime the local node speaks: Tangle's real v1.4.3 metadata, loaded with
// @polkadot/types, so every encoding (calls, events, storage keys and values) comes from it.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Metadata, TypeRegistry } from '@polkadot/types';
import { decorateStorage } from '@polkadot/types/metadata/decorate';
import type { Storage } from '@polkadot/types/metadata/decorate/types';
import { compactAddLength, compactStripLength, hexToU8a, u8aToHex } from '@polkadot/util';
import type { Codec } from '@polkadot/types/types';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the metadata lives: FAAS_CHAIN_METADATA, else ../shared/chain/ beside the repository. */
export function defaultMetadataPath(): string {
  if (process.env.FAAS_CHAIN_METADATA) return process.env.FAAS_CHAIN_METADATA;
  const candidates = [
    resolve(here, '../../../shared/chain/tangle-testnet-v1.4.3-metadata.scale'),
    resolve(process.cwd(), '../shared/chain/tangle-testnet-v1.4.3-metadata.scale'),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `Tangle runtime metadata not found (looked at ${candidates.join(', ')}); set FAAS_CHAIN_METADATA to a tangle-testnet v1.4.3 metadata .scale file`,
    );
  }
  return found;
}

export interface RuntimeVersionJson {
  specName: string;
  implName: string;
  authoringVersion: number;
  specVersion: number;
  implVersion: number;
  apis: [string, number][];
  transactionVersion: number;
  stateVersion: number;
}

export class Runtime {
  readonly registry = new TypeRegistry();
  readonly metadata: Metadata;
  readonly metadataHex: string;
  readonly version: RuntimeVersionJson;
  readonly ss58Prefix: number;
  /** Storage entries by pallet and item (camelCase), each computing its key with the real hashers. */
  readonly storage: Storage;

  constructor(path = defaultMetadataPath()) {
    const bytes = readFileSync(path);
    this.metadata = new Metadata(this.registry, bytes);
    this.registry.setMetadata(this.metadata);
    this.metadataHex = this.metadata.toHex();
    // The runtime states its own version and address format as System constants.
    const version = this.constant('System', 'Version').toJSON() as unknown as RuntimeVersionJson;
    this.version = { ...version, apis: version.apis.map(([id, v]) => [String(id), Number(v)]) };
    this.ss58Prefix = Number(this.constant('System', 'SS58Prefix').toString());
    this.storage = decorateStorage(this.registry, this.metadata.asLatest, this.metadata.version);
  }

  /** The storage key of `pallet.item(...args)`, e.g. key('system', 'account', address). */
  key(pallet: string, item: string, ...args: unknown[]): `0x${string}` {
    const entry = this.storage[pallet]?.[item];
    if (!entry) throw new Error(`no storage item ${pallet}.${item} in the metadata`);
    // The decorated entry returns the key length-prefixed (as a StorageKey encodes); the
    // key itself is what follows.
    return u8aToHex(compactStripLength(entry(...(args as [])))[1]);
  }

  private opaqueMetadata: `0x${string}` | null = null;

  /**
   * The metadata as the Metadata_* runtime APIs return it (OpaqueMetadata: length-prefixed
   * bytes). Encoded once: it is a few hundred kilobytes, and every client asks at connect.
   */
  get opaqueMetadataHex(): `0x${string}` {
    this.opaqueMetadata ??= u8aToHex(compactAddLength(this.metadata.toU8a()));
    return this.opaqueMetadata;
  }

  /** The type name of `pallet.item`'s values. */
  valueType(pallet: string, item: string): string {
    const entry = this.storage[pallet]?.[item];
    if (!entry) throw new Error(`no storage item ${pallet}.${item} in the metadata`);
    const type = this.registry.lookup.getTypeDef(entry.meta.type.isPlain ? entry.meta.type.asPlain : entry.meta.type.asMap.value);
    return type.lookupName ?? type.type;
  }

  /** SCALE-encodes `value` as the declared type of `pallet.item`'s values. */
  encodeValue(pallet: string, item: string, value: unknown): `0x${string}` {
    // toU8a is the SCALE encoding (toHex of an integer is its big-endian value, not SCALE).
    return u8aToHex(this.registry.createType(this.valueType(pallet, item), value).toU8a());
  }

  /** Decodes a stored value of `pallet.item` (its default when absent). */
  decodeValue<T extends Codec = Codec>(pallet: string, item: string, raw: `0x${string}` | null): T {
    const type = this.valueType(pallet, item);
    return this.registry.createType(type, raw === null ? undefined : hexToU8a(raw)) as unknown as T;
  }

  /**
   * A pallet error as a DispatchError::Module value. FRAME encodes the error enum (variant
   * index, then any payload such as TypeCheck's) and pads or cuts it to 4 bytes.
   */
  moduleError(pallet: string, name: string, payload?: unknown): { Module: { index: number; error: Uint8Array } } {
    const p = this.metadata.asLatest.pallets.find((x) => x.name.toString() === pallet);
    if (!p || p.errors.isNone) throw new Error(`no errors for pallet ${pallet}`);
    const v = this.registry.lookup.getSiType(p.errors.unwrap().type).def.asVariant.variants.find((x) => x.name.toString() === name);
    if (!v) throw new Error(`no error ${pallet}.${name}`);
    const bytes = new Uint8Array(4);
    bytes[0] = v.index.toNumber();
    if (payload !== undefined && v.fields.length === 1) {
      const def = this.registry.lookup.getTypeDef(v.fields[0]!.type);
      bytes.set(this.registry.createType(def.lookupName ?? def.type, payload).toU8a().subarray(0, 3), 1);
    }
    return { Module: { index: p.index.toNumber(), error: bytes } };
  }

  /** A pallet constant, decoded with its declared type. */
  constant(pallet: string, name: string): Codec {
    const p = this.metadata.asLatest.pallets.find((x) => x.name.toString() === pallet);
    const c = p?.constants.find((x) => x.name.toString() === name);
    if (!p || !c) throw new Error(`no constant ${pallet}.${name} in the metadata`);
    const typeName = this.registry.lookup.getTypeDef(c.type).lookupName ?? this.registry.lookup.getTypeDef(c.type).type;
    return this.registry.createType(typeName, c.value);
  }
}
