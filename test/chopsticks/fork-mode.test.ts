// chopsticks' fork mode, proven without network: a fork of a genesis-mode chopsticks (which
// serves the state RPCs as a live node does) is the same chain — genesis, runtime, state set
// on the source — and builds its own blocks on top, leaving the source as it was.
import type { ApiPromise } from '@polkadot/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fundAccounts, startChopsticks } from '../../chain/chopsticks/index.js';
import type { Chopsticks } from '../../chain/chopsticks/index.js';
import { TxSender, accountFromUri, connectApi } from '../../src/tangle/index.js';

const UNIT = 10n ** 18n;
let source: Chopsticks;
let fork: Chopsticks;
let sourceApi: ApiPromise;
let forkApi: ApiPromise;

beforeAll(async () => {
  source = await startChopsticks();
  sourceApi = await connectApi(source.url);
});

afterAll(async () => {
  await forkApi?.disconnect();
  await fork?.stop();
  await sourceApi?.disconnect();
  await source?.stop();
});

const free = async (api: ApiPromise, who: string) =>
  ((await api.query.system!.account!(who)) as unknown as { data: { free: { toBigInt(): bigint } } }).data.free.toBigInt();

describe('chopsticks fork mode', () => {
  it('forks another chopsticks: same genesis, runtime and state, then its own blocks', async () => {
    const alice = accountFromUri(sourceApi, '//Alice');
    const dave = accountFromUri(sourceApi, '//Dave');
    // A balance no genesis has, set on the source only; a block so the fork point carries it.
    await fundAccounts(source, sourceApi, { [alice.address]: 1_000n * UNIT, [dave.address]: 4_242n * UNIT });
    await source.rpc('dev_newBlock');
    const forkPoint = (await sourceApi.rpc.chain.getHeader()).number.toNumber();

    fork = await startChopsticks({ endpoint: source.url, block: forkPoint });
    forkApi = await connectApi(fork.url);
    expect(forkApi.genesisHash.toHex()).toBe(sourceApi.genesisHash.toHex());
    expect([forkApi.runtimeVersion.specName.toString(), forkApi.runtimeVersion.specVersion.toNumber()]).toEqual(['tangle-testnet', 601]);
    expect(forkApi.runtimeVersion.toHex()).toBe(sourceApi.runtimeVersion.toHex());
    const forkHead = await forkApi.rpc.chain.getHeader();
    expect(forkHead.number.toNumber()).toBe(forkPoint);
    expect(forkHead.hash.toHex()).toBe((await sourceApi.rpc.chain.getBlockHash(forkPoint)).toHex());
    expect(await free(forkApi, dave.address)).toBe(4_242n * UNIT);

    // The fork builds its own block; the source does not see it.
    const r = await new TxSender(forkApi, accountFromUri(forkApi, '//Alice')).send(forkApi.tx.balances!.transferKeepAlive!(dave.address, UNIT), 'inBlock');
    expect(r.events).toContain('system.ExtrinsicSuccess');
    expect((await forkApi.rpc.chain.getHeader(r.blockHash)).number.toNumber()).toBe(forkPoint + 1);
    expect(await free(forkApi, dave.address)).toBe(4_243n * UNIT);
    expect((await sourceApi.rpc.chain.getHeader()).number.toNumber()).toBe(forkPoint);
    expect(await free(sourceApi, dave.address)).toBe(4_242n * UNIT);
    expect(await source.rpc('chain_getBlockHash', [forkPoint + 1])).toBeNull();
  });
});
