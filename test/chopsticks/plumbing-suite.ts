// The chain plumbing's checks against a real Tangle runtime under chopsticks, as a describe
// factory: the genesis-mode test (npm test) and the fork-mode test (npm run test:fork) run
// the same bodies. Everything goes through src/tangle: TxSender, followChainEvents.
import type { ApiPromise } from '@polkadot/api';
import type { KeyringPair } from '@polkadot/keyring/types';
import { findUnknownExtensions } from '@polkadot/types/extrinsic/signedExtensions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fundAccounts } from '../../chain/chopsticks/index.js';
import type { Chopsticks } from '../../chain/chopsticks/index.js';
import { TxSender, accountFromUri, connectApi, followChainEvents } from '../../src/tangle/index.js';
import type { ChainEvent, Included } from '../../src/tangle/index.js';

const UNIT = 10n ** 18n; // Tangle: 18 decimals

interface Seen {
  block: number;
  hash: string;
  event: ChainEvent;
}

/** Alice's transfers to Bob among events, as amounts, in the order given. */
const transfersIn = (events: ChainEvent[], from: string, to: string): bigint[] =>
  events
    .filter((e) => e.section === 'balances' && e.method === 'Transfer' && e.data[0]!.toString() === from && e.data[1]!.toString() === to)
    .map((e) => BigInt(e.data[2]!.toString()));

/** Consecutive block numbers, each once. */
const expectConsecutive = (blocks: number[]) => expect(blocks).toEqual(blocks.map((_, i) => blocks[0]! + i));

export function describePlumbing(title: string, start: () => Promise<Chopsticks>): void {
  describe(title, () => {
    let node: Chopsticks;
    let api: ApiPromise;
    let alice: KeyringPair;
    let bob: KeyringPair;
    let sender: TxSender;
    // What the follower started in beforeAll delivered.
    const seen: Seen[] = [];
    const scanned: number[] = [];
    const followErrors: string[] = [];
    let stopFollowing: (() => void) | null = null;
    // Every transfer from Alice to Bob this suite made, with where it was included.
    const sent: Array<{ amount: bigint; block: number; included: Included }> = [];

    const blockNumber = async (hash: string) => (await api.rpc.chain.getHeader(hash)).number.toNumber();
    const free = async (who: string, at: string) =>
      ((await (await api.at(at)).query.system!.account!(who)) as unknown as { data: { free: { toBigInt(): bigint } } }).data.free.toBigInt();
    const transfer = async (amount: bigint, via = sender) => {
      const included = await via.send(api.tx.balances!.transferKeepAlive!(bob.address, amount), 'inBlock');
      if (via.pair.address === alice.address) sent.push({ amount, block: await blockNumber(included.blockHash), included });
      return included;
    };
    /** The signed extrinsic of `who` in a block. */
    const extrinsicOf = async (blockHash: string, who: string) =>
      (await api.rpc.chain.getBlock(blockHash)).block.extrinsics.find((x) => x.isSigned && x.signer.toString() === who)!;
    const nextNonce = async (who: string) => (await api.rpc.system.accountNextIndex(who)).toNumber();

    beforeAll(async () => {
      node = await start();
      api = await connectApi(node.url);
      alice = accountFromUri(api, '//Alice');
      bob = accountFromUri(api, '//Bob');
      await fundAccounts(node, api, { [alice.address]: 1_000_000n * UNIT, [bob.address]: 1_000n * UNIT });
      sender = new TxSender(api, alice);
      const head = (await api.rpc.chain.getHeader(await api.rpc.chain.getFinalizedHead())).number.toNumber();
      stopFollowing = await followChainEvents(
        api,
        { fromBlock: head + 1, onBlockScanned: (n) => scanned.push(n), onError: (err) => followErrors.push(err.message) },
        (event, block) => seen.push({ block: block.number, hash: block.hash, event }),
      );
    });

    afterAll(async () => {
      stopFollowing?.();
      await api?.disconnect();
      await node?.stop();
    });

    it('signs with the runtime signed extensions: //Alice’s transferKeepAlive is included and succeeds', async () => {
      // The API signs with exactly the extensions the runtime lists, in its order. Any that
      // polkadot.js does not know (Tangle's own, such as CheckNominatedRestaked in later
      // runtimes) it signs as carrying no data, which is right only if the runtime says so.
      const declared = api.runtimeMetadata.asLatest.extrinsic.transactionExtensions;
      expect(api.registry.signedExtensions).toEqual(declared.map((e) => e.identifier.toString()));
      expect(api.registry.signedExtensions).toEqual(expect.arrayContaining(['CheckSpecVersion', 'CheckGenesis', 'CheckMortality', 'CheckNonce', 'ChargeTransactionPayment']));
      const empty = (id: number) => {
        const def = api.registry.lookup.getSiType(id).def;
        return def.isTuple && def.asTuple.length === 0;
      };
      for (const e of declared.filter((d) => findUnknownExtensions(api.registry.signedExtensions).includes(d.identifier.toString()))) {
        expect({ extension: e.identifier.toString(), noData: empty(e.type.toNumber()) && empty(e.implicit.toNumber()) }).toEqual({ extension: e.identifier.toString(), noData: true });
      }

      const nonce = await nextNonce(alice.address);
      const r = await transfer(12n * UNIT);
      expect(r.events).toEqual(expect.arrayContaining(['balances.Transfer', 'transactionPayment.TransactionFeePaid', 'system.ExtrinsicSuccess']));
      expect(transfersIn(r.records, alice.address, bob.address)).toEqual([12n * UNIT]);
      const x = await extrinsicOf(r.blockHash, alice.address);
      expect([x.method.section, x.method.method, x.nonce.toNumber(), x.era.isMortalEra]).toEqual(['balances', 'transferKeepAlive', nonce, true]);

      // The extensions' implicit data is signed and checked: the same call signed for another
      // genesis hash (CheckGenesis) is refused as a bad signature. (Raw polkadot.js here:
      // TxSender always signs right.)
      const forged = api.tx.balances!.transferKeepAlive!(bob.address, 1n);
      const otherChain = { nonce: await nextNonce(alice.address), era: 0, genesisHash: `0x${'11'.repeat(32)}` };
      await forged.signAsync(alice, otherChain);
      await expect(api.rpc.author.submitExtrinsic(forged)).rejects.toThrow(/badProof|bad signature/i);
    });

    it('pays the fee: the free balance drops by exactly amount + fee, and the fee matches paymentInfo', async () => {
      const amount = 3n * UNIT;
      const tx = api.tx.balances!.transferKeepAlive!(bob.address, amount);
      const estimate = (await tx.paymentInfo(alice)).partialFee.toBigInt();
      const head = (await api.rpc.chain.getHeader()).hash.toHex();
      const before = { alice: await free(alice.address, head), bob: await free(bob.address, head) };
      const included = await sender.send(tx, 'inBlock');
      sent.push({ amount, block: await blockNumber(included.blockHash), included });
      const fee = included.fee!;
      expect(fee).toBeGreaterThan(0n);
      // The estimate is made before dispatch; the actual fee can only be lower (weight refunds)
      // or drift with the fee multiplier by a block.
      expect(Number(fee) / Number(estimate)).toBeGreaterThan(0.9);
      expect(Number(fee) / Number(estimate)).toBeLessThan(1.01);
      expect(await free(alice.address, included.blockHash)).toBe(before.alice - amount - fee);
      expect(await free(bob.address, included.blockHash)).toBe(before.bob + amount);
    });

    it('sends 10 transfers at once from one TxSender: all included, the nonce advances by exactly 10', async () => {
      const nonce = await nextNonce(alice.address);
      const amounts = Array.from({ length: 10 }, (_, i) => BigInt(i + 1) * UNIT);
      const included = await Promise.all(amounts.map((a) => transfer(a)));
      for (const r of included) expect(r.events).toContain('system.ExtrinsicSuccess');
      expect(included.flatMap((r) => transfersIn(r.records, alice.address, bob.address)).sort((a, b) => Number(a - b))).toEqual(amounts);
      expect(await nextNonce(alice.address)).toBe(nonce + 10);
      const nonces = await Promise.all(included.map(async (r) => (await extrinsicOf(r.blockHash, alice.address)).nonce.toNumber()));
      expect(nonces.sort((a, b) => a - b)).toEqual(amounts.map((_, i) => nonce + i));
    });

    it('recovers when another sender used the account behind its back (stale nonce)', async () => {
      const stale = await nextNonce(alice.address); // what `sender` will try next
      await transfer(1n, new TxSender(api, alice)); // another sender, same account
      // The node really refuses the nonce `sender` holds...
      const probe = api.tx.system!.remark!('0x00');
      await expect(probe.signAndSend(alice, { nonce: stale })).rejects.toThrow(/stale|outdated/i);
      // ...and `sender` re-reads it and sends once more.
      const r = await transfer(2n);
      expect(r.events).toContain('system.ExtrinsicSuccess');
      expect((await extrinsicOf(r.blockHash, alice.address)).nonce.toNumber()).toBe(stale + 1);
      expect(await nextNonce(alice.address)).toBe(stale + 2);
    });

    it('followChainEvents delivered the transfers’ events in block order, each block once', async () => {
      const last = Math.max(...sent.map((s) => s.block));
      await expect.poll(() => scanned.at(-1) ?? 0, { timeout: 15_000 }).toBeGreaterThanOrEqual(last);
      expectConsecutive(scanned);
      expect(seen.map((s) => s.block)).toEqual([...seen.map((s) => s.block)].sort((a, b) => a - b));
      const byBlock = [...sent].sort((a, b) => a.block - b.block);
      expect(transfersIn(seen.filter((s) => s.block <= last).map((s) => s.event), alice.address, bob.address)).toEqual(byBlock.map((s) => s.amount));
      // Each block's events under the hash TxSender reported for it.
      for (const s of sent) expect(seen.some((x) => x.hash === s.included.blockHash && x.block === s.block)).toBe(true);
      expect(followErrors).toEqual([]);
    });

    it('after the node restarts, the same API and TxSender send again and the follower goes on without duplicates', async () => {
      const scannedBefore = scanned.length;
      const headBefore = (await api.rpc.chain.getHeader()).number.toNumber();
      await node.restart();
      await expect.poll(() => api.isConnected, { timeout: 15_000 }).toBe(true);
      expect((await api.rpc.chain.getHeader()).number.toNumber()).toBeGreaterThanOrEqual(headBefore);
      const r = await transfer(777n);
      expect(r.events).toContain('system.ExtrinsicSuccess');
      const block = await blockNumber(r.blockHash);
      await expect.poll(() => scanned.at(-1) ?? 0, { timeout: 15_000 }).toBeGreaterThanOrEqual(block);
      expect(scanned.length).toBeGreaterThan(scannedBefore);
      expectConsecutive(scanned);
      expect(transfersIn(seen.filter((s) => s.block === block).map((s) => s.event), alice.address, bob.address)).toEqual([777n]);
    });

    it('a new follower from the last scanned block + 1 catches up on blocks made while none was following', async () => {
      stopFollowing!();
      stopFollowing = null;
      const lastSeen = scanned.at(-1)!;
      const missed = [await transfer(801n), await transfer(802n)];
      const missedBlocks = await Promise.all(missed.map((r) => blockNumber(r.blockHash)));
      expect(scanned.at(-1)).toBe(lastSeen); // the stopped follower saw none of them

      const caught: Seen[] = [];
      const caughtScanned: number[] = [];
      const stop = await followChainEvents(api, { fromBlock: lastSeen + 1, onBlockScanned: (n) => caughtScanned.push(n) }, (event, b) =>
        caught.push({ block: b.number, hash: b.hash, event }),
      );
      try {
        await expect.poll(() => caughtScanned.at(-1) ?? 0, { timeout: 15_000 }).toBeGreaterThanOrEqual(missedBlocks[1]!);
      } finally {
        stop();
      }
      expect(caughtScanned[0]).toBe(lastSeen + 1);
      expectConsecutive(caughtScanned);
      expect(transfersIn(caught.map((s) => s.event), alice.address, bob.address)).toEqual([801n, 802n]);
      expect(caught.filter((s) => transfersIn([s.event], alice.address, bob.address).length).map((s) => s.block)).toEqual(missedBlocks);
    });
  });
}
