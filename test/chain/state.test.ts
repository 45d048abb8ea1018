// The local node's state machinery, in-process: sealed blocks read through the state history
// (any block's state, prefix scans, removals), the state root follows state, and System.Events
// is the SCALE Vec<EventRecord> the runtime's own types encode.
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { Blockchain, Runtime } from '../../chain/src/index.js';
import { EventLog } from '../../chain/src/blockchain/events.js';
import { StateHistory, StorageLayer } from '../../chain/src/blockchain/storage-layer.js';
import type { HexString } from '../../chain/src/blockchain/storage-layer.js';

let runtime: Runtime;

beforeAll(async () => {
  await cryptoWaitReady();
  runtime = new Runtime();
});

describe('storage layers over the state history', () => {
  it('reads every block as it was, with removals, and lists keys by prefix', () => {
    const history = new StateHistory();
    const genesis = new StorageLayer();
    genesis.set('0xaa01', '0x01');
    genesis.set('0xaa02', '0x02');
    genesis.set('0xbb01', '0x03');
    const root0 = genesis.seal(history, 0, null);
    const layers = [genesis];
    const roots = [root0];
    for (let n = 1; n <= 50; n++) {
      const l = layers[n - 1]!.child();
      l.set('0xcc', `0x${n.toString(16).padStart(2, '0')}`);
      if (n === 10) l.set('0xaa02', null);
      if (n === 20) l.set('0xaa03', '0x33');
      if (n === 30) {
        // A call's own layer, merged into the block's.
        const call = l.child();
        call.set('0xaa01', '0x11');
        expect(l.get('0xaa01')).toBe('0x01');
        expect(call.get('0xaa01')).toBe('0x11');
        call.mergeIntoParent();
      }
      roots.push(l.seal(history, n, roots[n - 1]!));
      layers.push(l);
    }
    expect(layers[5]!.get('0xaa02')).toBe('0x02');
    expect(layers[10]!.get('0xaa02')).toBeNull();
    expect(layers[50]!.get('0xaa02')).toBeNull();
    expect(layers[19]!.get('0xaa03')).toBeNull();
    expect(layers[25]!.get('0xaa03')).toBe('0x33');
    expect(layers[29]!.get('0xaa01')).toBe('0x01');
    expect(layers[30]!.get('0xaa01')).toBe('0x11');
    expect(layers[7]!.get('0xcc')).toBe('0x07');
    expect(layers[0]!.get('0xcc')).toBeNull();
    expect(layers[50]!.get('0xbb01')).toBe('0x03');
    expect(layers[5]!.keysWithPrefix('0xaa')).toEqual(['0xaa01', '0xaa02']);
    expect(layers[15]!.keysWithPrefix('0xaa')).toEqual(['0xaa01']);
    expect(layers[50]!.keysWithPrefix('0xaa')).toEqual(['0xaa01', '0xaa03']);
    // An unsealed layer on the head sees its own writes and removals in a prefix scan.
    const next = layers[50]!.child();
    next.set('0xaa01', null);
    next.set('0xaa04', '0x44');
    expect(next.keysWithPrefix('0xaa')).toEqual(['0xaa03', '0xaa04']);
    expect(layers[30]!.changedKeys().sort()).toEqual(['0xaa01', '0xcc']);
    expect(layers[30]!.changed('0xaa01')).toBe(true);
    expect(layers[31]!.changed('0xaa01')).toBe(false);
    expect(new Set(roots).size).toBe(roots.length);
    expect(() => layers[3]!.set('0xcc', '0x00')).toThrow(/sealed/);
  });

  it('roots commit to the values written: same changes, same root; another value, another root', () => {
    const rootOf = (v: HexString) => {
      const history = new StateHistory();
      const g = new StorageLayer();
      g.set('0x01', '0x01');
      const r0 = g.seal(history, 0, null);
      const b = g.child();
      b.set('0x02', v);
      return [r0, b.seal(history, 1, r0)];
    };
    const [g1, a] = rootOf('0xab');
    const [g2, b] = rootOf('0xab');
    const [, c] = rootOf('0xac');
    expect(g1).toBe(g2);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it('keeps old state readable on a long chain, and blocks do not get slower as it grows', async () => {
    const chain = await Blockchain.create(runtime);
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) chain.buildBlock([]);
    const first = performance.now() - t0;
    for (let i = 0; i < 3000; i++) chain.buildBlock([]);
    const t1 = performance.now();
    for (let i = 0; i < 200; i++) chain.buildBlock([]);
    const last = performance.now() - t1;
    expect(last).toBeLessThan(first * 3 + 50);
    const numberKey = runtime.key('system', 'number');
    expect(chain.block(7)!.storage.get(numberKey)).toBe(runtime.encodeValue('system', 'number', 7));
    expect(chain.head.storage.get(runtime.key('system', 'blockHash', 3))).toBe(runtime.encodeValue('system', 'blockHash', chain.block(3)!.hash));
    expect(chain.block(2)!.storage.get(runtime.key('system', 'blockHash', 3))).toBeNull();
    expect(chain.head.header.stateRoot.toHex()).not.toBe(chain.block(chain.head.number - 1)!.header.stateRoot.toHex());
  });
});

describe('System.Events', () => {
  it('is the Vec<EventRecord> the runtime types encode', () => {
    const storage = new StorageLayer();
    const events = new EventLog(runtime);
    const who = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
    events.emit({ ApplyExtrinsic: 0 }, 'Balances', 'Withdraw', { who, amount: 10n ** 15n });
    events.emit({ ApplyExtrinsic: 0 }, 'System', 'ExtrinsicSuccess', { dispatchInfo: { weight: { refTime: 1, proofSize: 0 }, class: 'Normal', paysFee: 'Yes' } });
    events.emit({ ApplyExtrinsic: 1 }, 'System', 'Remarked', { sender: who, hash: `0x${'12'.repeat(32)}` });
    events.emit('Finalization', 'Balances', 'Transfer', { from: who, to: who, amount: 7 });
    events.store(storage);
    const { registry } = runtime;
    const expected = registry
      .createType(
        'Vec<EventRecord>',
        events.events.map((e) => ({ phase: e.phase, event: registry.createType('Event', e.bytes), topics: [] })),
      )
      .toHex();
    expect(storage.get(runtime.key('system', 'events'))).toBe(expected);
    const decoded = runtime.decodeValue('system', 'events', expected).toHuman() as Array<{ phase: unknown; event: { section: string; method: string } }>;
    expect(decoded.map((r) => `${r.event.section}.${r.event.method}`)).toEqual(['balances.Withdraw', 'system.ExtrinsicSuccess', 'system.Remarked', 'balances.Transfer']);
    expect(storage.get(runtime.key('system', 'eventCount'))).toBe(runtime.encodeValue('system', 'eventCount', 4));
  });
});
