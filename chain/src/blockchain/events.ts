// Events as the runtime emits them: each one encoded from its metadata definition, collected
// per block into System.Events (Vec<EventRecord>) so clients decode them as on a live chain.
import { stringCamelCase, u8aConcat, u8aToHex } from '@polkadot/util';
import type { Runtime } from '../runtime.js';
import type { StorageLayer } from './storage-layer.js';

export type Phase = { ApplyExtrinsic: number } | 'Finalization' | 'Initialization';

export interface EmittedEvent {
  phase: Phase;
  pallet: string;
  name: string;
  bytes: Uint8Array;
}

/** Encodes `Pallet.Name(fields)`; `fields` is keyed by field name (or positional for unnamed). */
export function encodeEvent(runtime: Runtime, pallet: string, name: string, fields: Record<string, unknown> | unknown[]): Uint8Array {
  const { registry } = runtime;
  const p = runtime.metadata.asLatest.pallets.find((x) => x.name.toString() === pallet);
  if (!p || p.events.isNone) throw new Error(`no events for pallet ${pallet}`);
  const variants = registry.lookup.getSiType(p.events.unwrap().type).def.asVariant.variants;
  const v = variants.find((x) => x.name.toString() === name);
  if (!v) throw new Error(`no event ${pallet}.${name}`);
  const parts = v.fields.map((f, i) => {
    // Metadata names fields in snake_case; callers use the camelCase that @polkadot/api shows.
    const key = f.name.isSome ? stringCamelCase(f.name.unwrap().toString()) : String(i);
    const value = Array.isArray(fields) ? fields[i] : fields[key];
    if (value === undefined) throw new Error(`event ${pallet}.${name} needs field ${key}`);
    const def = registry.lookup.getTypeDef(f.type);
    return registry.createType(def.lookupName ?? def.type, value).toU8a();
  });
  return u8aConcat(new Uint8Array([p.index.toNumber(), v.index.toNumber()]), ...parts);
}

export class EventLog {
  readonly events: EmittedEvent[] = [];

  constructor(private readonly runtime: Runtime) {}

  emit(phase: Phase, pallet: string, name: string, fields: Record<string, unknown> | unknown[]): void {
    this.events.push({ phase, pallet, name, bytes: encodeEvent(this.runtime, pallet, name, fields) });
  }

  /** Writes the block's events to System.Events (and the count to System.EventCount). */
  store(storage: StorageLayer): void {
    const { registry } = this.runtime;
    const records = this.events.map((e) =>
      registry.createType('EventRecord', { phase: e.phase, event: registry.createType('Event', e.bytes), topics: [] }),
    );
    storage.set(this.runtime.key('system', 'events'), u8aToHex(registry.createType('Vec<EventRecord>', records).toU8a()));
    storage.set(this.runtime.key('system', 'eventCount'), this.runtime.encodeValue('system', 'eventCount', records.length));
  }
}
