// The FaaS blueprint: it is accepted on-chain as defined, and its argument codec round-trips
// and names the argument at fault.
import type { ApiPromise } from '@polkadot/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadJobArgs, EXECUTE_PARAMS, EXECUTE_RESULT, decodeExecuteArgs, encodeExecuteArgs, faasBlueprint, stringField } from '@faas/sdk/blueprint';
import { send, startChain } from '../chain/fixtures.js';

let chain: Awaited<ReturnType<typeof startChain>>;
let api: ApiPromise;

beforeAll(async () => {
  chain = await startChain();
  ({ api } = chain);
});

afterAll(async () => {
  await chain?.stop();
});

describe('FaaS blueprint', () => {
  it('is created on-chain with its jobs and field types as defined', async () => {
    await send(api.tx.services!.createBlueprint!(faasBlueprint()), chain.keys.alice);
    const stored = (await api.query.services!.blueprints!(0)) as unknown as { unwrap(): [unknown, { jobs: Array<{ params: { toJSON(): unknown }; result: { toJSON(): unknown }; metadata: { name: { toUtf8(): string } } }> }] };
    const [, bp] = stored.unwrap();
    expect(bp.jobs[0]!.metadata.name.toUtf8()).toBe('execute');
    const lower = (xs: readonly { type: string }[]) => xs.map((x) => ({ [x.type.toLowerCase()]: null }));
    expect(bp.jobs[0]!.params.toJSON()).toEqual(lower(EXECUTE_PARAMS));
    expect(bp.jobs[0]!.result.toJSON()).toEqual(lower(EXECUTE_RESULT));
  });

  it('encodes and decodes execute arguments', () => {
    const fields = encodeExecuteArgs({ code: 'print(1)', language: 'python', mode: 'cached', resources: { memoryMb: 128 }, envVars: { A: 'b' }, stdin: 'hi' });
    expect(fields).toHaveLength(EXECUTE_PARAMS.length);
    const back = decodeExecuteArgs(fields.map((f) => Buffer.from(f.String.slice(2), 'hex').toString()));
    expect(back).toEqual({ code: 'print(1)', language: 'python', mode: 'cached', resources: { memoryMb: 128 }, envVars: { A: 'b' }, stdin: 'hi' });
    expect(decodeExecuteArgs(['echo 1', 'bash', '', '', '', '']).mode).toBe('ephemeral');
    // Text that looks like hex stays text on-chain.
    expect(stringField('0x12')).toEqual({ String: '0x30783132' });
  });

  it('names the argument at fault', () => {
    const bad = (values: string[]) => {
      try {
        decodeExecuteArgs(values);
      } catch (e) {
        return e instanceof BadJobArgs ? e.field : 'other';
      }
      return 'none';
    };
    expect(bad(['print(1)', 'python', '', '{not json', '', ''])).toBe('resources');
    expect(bad(['print(1)', 'python', '', '', '{"A": 1}', ''])).toBe('envVars');
    expect(bad(['', 'python', '', '', '', ''])).toBe('code');
    expect(bad(['print(1)'])).toBe('args');
    expect(bad(['print(1)', 'python', 'checkpointed', '', '', ''])).toBe('mode'); // stateful modes are the API's
    expect(decodeExecuteArgs(['print(1)', 'python', 'cached', '', '', '']).mode).toBe('cached');
    expect(() => encodeExecuteArgs({ code: 'x'.repeat(2000), language: 'python' })).toThrow(/code: is 2000 bytes/);
  });
});
