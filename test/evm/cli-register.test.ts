// `faas-operator register --chain evm` as a user runs it (a child process against anvil with
// tnt-core deployed): the bond is given in TNT (18 decimals) and is what leaves the account,
// it is shown back in TNT, the registration is on-chain; run again, nothing changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANVIL_KEYS } from '../../chain/evm/anvil.js';
import { startLocalEvmFaas } from '../../chain/evm/faas.js';
import type { LocalEvmFaas } from '../../chain/evm/faas.js';
import { EvmAccount, readEvmRegistration } from '../../src/tangle/evm/index.js';
import { runOperatorCli } from '../helpers.js';

let f: LocalEvmFaas;
let account: EvmAccount;
// An anvil account the fixture leaves alone (0 deploys, 1 operates, the last calls).
const key = ANVIL_KEYS[4]! as `0x${string}`;

beforeAll(async () => {
  f = await startLocalEvmFaas({ operators: 1 });
  account = await EvmAccount.connect(f.rpcUrl, key);
});

afterAll(async () => {
  await f?.anvil.stop();
});

describe('faas-operator register --chain evm', () => {
  it('stakes a bond given in TNT, registers with its key and API address; again: nothing to do', async () => {
    const args = ['register', '--chain', 'evm', '--rpc', f.rpcUrl, '--tangle', f.addresses.tangle, '--staking', f.addresses.staking, '--blueprint', String(f.blueprintId)];
    const env = { FAAS_EVM_PRIVATE_KEY: key, FAAS_CHAIN: '', FAAS_BOND: '', FAAS_RPC_URL: '' };
    const before = await account.pub.getBalance({ address: account.address });
    const first = await runOperatorCli([...args, '--bond', '10.5', '--api-url', 'http://127.0.0.1:18081'], env);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('staked 10.5 TNT as an operator');
    expect(first.out).toContain(`registered for blueprint ${f.blueprintId} with API http://127.0.0.1:18081`);
    expect(first.out).not.toContain(key.slice(2, 20)); // the secret is never printed
    const spent = before - (await account.pub.getBalance({ address: account.address }));
    expect(spent).toBeGreaterThanOrEqual(10_500_000_000_000_000_000n); // the stake, and gas
    expect(spent).toBeLessThan(10_600_000_000_000_000_000n);
    expect(await readEvmRegistration(account.pub, f.addresses.tangle, f.blueprintId, account.address)).toEqual({ key: account.sender.account.publicKey, rpcAddress: 'http://127.0.0.1:18081' });

    const again = await runOperatorCli([...args, '--bond', '1500000000000000000raw'], env);
    expect(again.code, again.out).toBe(0);
    expect(again.out).toContain(`already registered for blueprint ${f.blueprintId}`);
    expect(again.out).not.toContain('staked');
  });
});
