// Events as the runtime emits them: each one encoded from its metadata definition, collected
// per block into System.Events (Vec<EventRecord>) so clients decode them as on a live chain.
import { compactToU8a, stringCamelCase, u8aConcat, u8aToHex } from '@polkadot/util';
import type { Runtime } from '../runtime.js';
import type { StorageLayer } from './storage-layer.js';

export type Phase = { ApplyExtrinsic: number } | 'Finalization' | 'Initialization';

export interface EmittedEvent {
  phase: Phase;
  pallet: string;
  name: string;
  bytes: Uint8Array;
}

interface EventShape {
  /** The pallet's index and the event's variant index: the first two bytes of the event. */
  prefix: Uint8Array;
  fields: Array<{ key: string; type: string }>;
}

/** Event shapes by runtime and `Pallet.Name`: looked up in the metadata once, not at every emit. */
const shapes = new WeakMap<Runtime, Map<string, EventShape>>();

function eventShape(runtime: Runtime, pallet: string, name: string): EventShape {
  let byName = shapes.get(runtime);
  if (!byName) shapes.set(runtime, (byName = new Map()));
  const known = byName.get(`${pallet}.${name}`);
  if (known) return known;
  const { registry } = runtime;
  const p = runtime.metadata.asLatest.pallets.find((x) => x.name.toString() === pallet);
  if (!p || p.events.isNone) throw new Error(`no events for pallet ${pallet}`);
  const variants = registry.lookup.getSiType(p.events.unwrap().type).def.asVariant.variants;
  const v = variants.find((x) => x.name.toString() === name);
  if (!v) throw new Error(`no event ${pallet}.${name}`);
  const shape: EventShape = {
    prefix: new Uint8Array([p.index.toNumber(), v.index.toNumber()]),
    fields: v.fields.map((f, i) => {
      const def = registry.lookup.getTypeDef(f.type);
      // Metadata names fields in snake_case; callers use the camelCase that @polkadot/api shows.
      return { key: f.name.isSome ? stringCamelCase(f.name.unwrap().toString()) : String(i), type: def.lookupName ?? def.type };
    }),
  };
  byName.set(`${pallet}.${name}`, shape);
  return shape;
}

/** Encodes `Pallet.Name(fields)`; `fields` is keyed by field name (or positional for unnamed). */
export function encodeEvent(runtime: Runtime, pallet: string, name: string, fields: Record<string, unknown> | unknown[]): Uint8Array {
  const shape = eventShape(runtime, pallet, name);
  const parts = shape.fields.map(({ key, type }, i) => {
    const value = Array.isArray(fields) ? fields[i] : fields[key];
    if (value === undefined) throw new Error(`event ${pallet}.${name} needs field ${key}`);
    return runtime.registry.createType(type, value).toU8a();
  });
  return u8aConcat(shape.prefix, ...parts);
}

const NO_TOPICS = compactToU8a(0);

export class EventLog {
  readonly events: EmittedEvent[] = [];

  constructor(private readonly runtime: Runtime) {}

  emit(phase: Phase, pallet: string, name: string, fields: Record<string, unknown> | unknown[]): void {
    this.events.push({ phase, pallet, name, bytes: encodeEvent(this.runtime, pallet, name, fields) });
  }

  /** Writes the block's events to System.Events (and the count to System.EventCount). */
  store(storage: StorageLayer): void {
    const { registry } = this.runtime;
    // Vec<EventRecord> in SCALE: the count, then each record's fields in order — phase, the
    // event (already encoded from its metadata definition), topics (none: an empty Vec).
    // Concatenated here rather than built as EventRecord codecs, which decoded every event's
    // bytes back into an Event only to encode it again.
    const parts = this.events.flatMap((e) => [registry.createType('Phase', e.phase).toU8a(), e.bytes, NO_TOPICS]);
    storage.set(this.runtime.key('system', 'events'), u8aToHex(u8aConcat(compactToU8a(this.events.length), ...parts)));
    storage.set(this.runtime.key('system', 'eventCount'), this.runtime.encodeValue('system', 'eventCount', this.events.length));
  }
}
