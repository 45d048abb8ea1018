// Tangle's job argument type check (tangle-primitives services field.rs, described in
// chain/NOTES-services-pallet.md §8): arguments (Field values) against declared FieldTypes.
import type { Codec } from '@polkadot/types/types';

// An enum codec as @polkadot/types gives it: the variant name and its (possibly tuple) value.
interface EnumCodec extends Codec {
  type: string;
  value: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- shape depends on the variant
}

const SCALARS = new Set(['Bool', 'Uint8', 'Int8', 'Uint16', 'Int16', 'Uint32', 'Int32', 'Uint64', 'Int64', 'String', 'AccountId']);

const same = (a: Codec, b: Codec) => a.toHex() === b.toHex(); // equal encodings: equal type trees

function items(v: Codec): Codec[] {
  return [...(v as unknown as Iterable<Codec>)];
}

function matches(field: EnumCodec, type: EnumCodec): boolean {
  if (SCALARS.has(field.type)) return field.type === type.type;
  const [tag, inner] = field.value as unknown as [EnumCodec, Codec & { isSome?: boolean; unwrap?: () => EnumCodec }];
  switch (field.type) {
    case 'Optional': {
      if (type.type !== 'Optional' || !same(tag, type.value)) return false;
      return !inner.isSome || matches(inner.unwrap!(), type.value);
    }
    case 'Array': {
      if (type.type !== 'Array') return false;
      const [n, u] = type.value as unknown as [Codec, EnumCodec];
      const list = items(inner);
      return same(tag, u) && list.length === Number(n.toString()) && list.every((x) => matches(x as EnumCodec, u));
    }
    case 'List': {
      if (type.type !== 'List' || !same(tag, type.value)) return false;
      return items(inner).every((x) => matches(x as EnumCodec, type.value));
    }
    case 'Struct': {
      if (type.type !== 'Struct') return false;
      const fields = items(inner).map((pair) => (pair as unknown as [Codec, EnumCodec])[1]);
      const types = items(type.value) as EnumCodec[];
      return fields.length === types.length && fields.every((f, i) => matches(f, types[i]!));
    }
    default:
      return false;
  }
}

/** The FieldType an argument "is", as the pallet reports it in ArgumentTypeMismatch. */
function actualType(field: EnumCodec): unknown {
  if (SCALARS.has(field.type)) return field.type;
  const [tag, inner] = field.value as unknown as [EnumCodec, Codec];
  switch (field.type) {
    case 'Optional':
      return tag;
    case 'Array': {
      const list = items(inner) as EnumCodec[];
      return { Array: [list.length, list[0] ? actualType(list[0]) : 'Void'] };
    }
    case 'List': {
      const list = items(inner) as EnumCodec[];
      return { List: list[0] ? actualType(list[0]) : 'Void' };
    }
    case 'Struct':
      return { Struct: items(inner).map((pair) => actualType((pair as unknown as [Codec, EnumCodec])[1])) };
    default:
      return 'Void';
  }
}

/** null when `args` match `params`; otherwise the TypeCheckError value. */
export function typeCheck(args: Codec, params: Codec): unknown {
  const a = items(args) as EnumCodec[];
  const p = items(params) as EnumCodec[];
  if (a.length !== p.length) return { NotEnoughArguments: { expected: p.length & 0xff, actual: a.length & 0xff } };
  for (let i = 0; i < a.length; i++) {
    if (!matches(a[i]!, p[i]!)) return { ArgumentTypeMismatch: { index: i & 0xff, expected: p[i], actual: actualType(a[i]!) } };
  }
  return null;
}
