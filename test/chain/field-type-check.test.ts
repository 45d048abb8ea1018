// Tangle's Field ↔ FieldType check, case by case (rules in chain/NOTES-services-pallet.md §8).
import { describe, expect, it } from 'vitest';
import { Runtime } from '../../chain/src/index.js';
import { typeCheck } from '../../chain/src/pallets/field-type-check.js';

const runtime = new Runtime();
const fields = (v: unknown[]) => runtime.registry.createType('Vec<TanglePrimitivesServicesField>', v);
const types = (v: unknown[]) => runtime.registry.createType('Vec<TanglePrimitivesServicesFieldFieldType>', v);
const check = (args: unknown[], params: unknown[]) => typeCheck(fields(args), types(params));

describe('field type check', () => {
  it('accepts matching scalars and refuses widening', () => {
    expect(check([{ Uint8: 1 }, { String: 'x' }, { Bool: true }], ['Uint8', 'String', 'Bool'])).toBeNull();
    expect(check([{ Uint8: 1 }], ['Uint16'])).toMatchObject({ ArgumentTypeMismatch: { index: 0, actual: 'Uint8' } });
  });

  it('counts arguments (too many is NotEnoughArguments too)', () => {
    expect(check([{ Uint8: 1 }], ['Uint8', 'Uint8'])).toEqual({ NotEnoughArguments: { expected: 2, actual: 1 } });
    expect(check([{ Uint8: 1 }, { Uint8: 2 }], ['Uint8'])).toEqual({ NotEnoughArguments: { expected: 1, actual: 2 } });
  });

  it('checks lists by their tag and every item; bytes are List(Uint8)', () => {
    const bytes = { List: ['Uint8', [{ Uint8: 1 }, { Uint8: 2 }]] };
    expect(check([bytes], [{ List: 'Uint8' }])).toBeNull();
    expect(check([{ List: ['Uint8', []] }], [{ List: 'Uint8' }])).toBeNull();
    expect(check([{ List: ['Uint8', []] }], [{ List: 'Uint16' }])).not.toBeNull();
    expect(check([{ List: ['Uint8', [{ Uint16: 1 }]] }], [{ List: 'Uint8' }])).not.toBeNull();
  });

  it('checks arrays by length', () => {
    const two = { Array: ['Uint8', [{ Uint8: 1 }, { Uint8: 2 }]] };
    expect(check([two], [{ Array: [2, 'Uint8'] }])).toBeNull();
    expect(check([two], [{ Array: [3, 'Uint8'] }])).not.toBeNull();
  });

  it('checks optionals: tag must equal the declared type; None matches', () => {
    expect(check([{ Optional: ['Uint8', null] }], [{ Optional: 'Uint8' }])).toBeNull();
    expect(check([{ Optional: ['Uint8', { Uint8: 3 }] }], [{ Optional: 'Uint8' }])).toBeNull();
    expect(check([{ Optional: ['Uint8', { String: 'no' }] }], [{ Optional: 'Uint8' }])).not.toBeNull();
    expect(check([{ Uint8: 3 }], [{ Optional: 'Uint8' }])).not.toBeNull();
  });

  it('checks structs by position, ignoring names', () => {
    const s = { Struct: ['Any', [['a', { Uint8: 1 }], ['b', { String: 'x' }]]] };
    expect(check([s], [{ Struct: ['Uint8', 'String'] }])).toBeNull();
    expect(check([s], [{ Struct: ['String', 'Uint8'] }])).not.toBeNull();
  });
});
