// The FaaS blueprint on a tnt-core deployment, and a whole local setup for tests, `npm start --
// --chain evm` and the bench: anvil, the protocol, the blueprint with its own service manager
// (contracts/FaaSServiceManager.sol: a call stays open until every operator of the service has
// answered), operators staked and registered, a service requested and approved by all of them.
import { keccak256, parseEther, toHex, zeroAddress } from 'viem';
import type { AbiParameter, Address, Hex } from 'viem';
import { EXECUTE_PARAMS, EXECUTE_RESULT } from '@faas/sdk/blueprint';
import { EvmAccount, approveEvmService, receiptEvent, registerEvmOperator, requestEvmService } from '../../src/tangle/evm/index.js';
import { startAnvil, ANVIL_KEYS } from './anvil.js';
import type { Anvil, AnvilOptions } from './anvil.js';
import { artifact } from './artifacts.js';
import { deployProtocol } from './deploy.js';
import type { ProtocolAddresses } from './deploy.js';
import { deployServiceManager, managerAbi } from './manager.js';

/** A value of an ABI type with every field not given set to zero (the encoder wants them all). */
function complete(p: AbiParameter, v: unknown): unknown {
  if (p.type.endsWith('[]')) return ((v as unknown[] | undefined) ?? []).map((x) => complete({ ...p, type: p.type.slice(0, -2) } as AbiParameter, x));
  if (p.type === 'tuple') {
    const given = (v ?? {}) as Record<string, unknown>;
    return Object.fromEntries((p as { components: readonly AbiParameter[] }).components.map((c) => [c.name!, complete(c, given[c.name!])]));
  }
  if (v !== undefined) return v;
  if (/^u?int/.test(p.type)) return 0;
  if (p.type === 'bool') return false;
  if (p.type === 'address') return zeroAddress;
  if (p.type === 'string') return '';
  if (p.type === 'bytes') return '0x';
  const fixed = /^bytes(\d+)$/.exec(p.type);
  if (fixed) return `0x${'00'.repeat(Number(fixed[1]))}`;
  throw new Error(`no zero value for ${p.type}`);
}

/** The FaaS blueprint's definition: one job, `execute`, with ABI inputs and result (blueprint/evm.ts). */
export function faasEvmBlueprint(manager: Address, metadataUri = 'https://github.com/tangle-network/tangle-faas') {
  return {
    metadataUri,
    metadataHash: keccak256(toHex(metadataUri)),
    manager,
    hasConfig: true,
    config: { membership: 1 /* Dynamic */, pricing: 0 /* PayOnce */, minOperators: 1 },
    metadata: { name: 'tangle-faas', description: 'Verifiable function-as-a-service: code runs in a Docker sandbox; the operator signs the result.', author: 'tangle-faas', category: 'compute', license: 'MIT' },
    jobs: [{ name: 'execute', description: `inputs (${EXECUTE_PARAMS.map((p) => `string ${p.name}`).join(', ')}) → (${EXECUTE_RESULT.map((r) => r.name).join(', ')})` }],
    sources: [{ kind: 0 /* Container */, container: { registry: 'ghcr.io', image: 'tangle-network/tangle-faas', tag: 'latest' }, binaries: [{ arch: 5 /* Amd64 */, os: 1 /* Linux */, name: 'tangle-faas', sha256: keccak256(toHex('tangle-faas container image (digest published with the release)')) }] }],
    supportedMemberships: [0, 1],
  };
}

/** `createBlueprint(faasEvmBlueprint(manager))` by `owner`, with a FaaSServiceManager deployed
 *  for it (a manager serves one blueprint); resolves with the blueprint id and its manager. */
export async function createFaasBlueprint(owner: EvmAccount, tangle: Address): Promise<{ blueprintId: bigint; manager: Address }> {
  const abi = artifact('TangleBlueprintsFacet').abi;
  const fn = abi.find((x) => x.type === 'function' && x.name === 'createBlueprint');
  if (!fn || fn.type !== 'function') throw new Error('createBlueprint is not in the artifacts');
  const manager = await deployServiceManager(owner, tangle);
  const r = await owner.sender.send({ to: tangle, abi, functionName: 'createBlueprint', args: [complete(fn.inputs[0]!, faasEvmBlueprint(manager))] });
  return { blueprintId: (await receiptEvent(owner.pub, r, 'BlueprintCreated', tangle)).blueprintId as bigint, manager };
}

/** The service owner sets how many results complete a call (0: every operator, the default). */
export async function setRequiredResults(owner: EvmAccount, manager: Address, serviceId: bigint, required: number): Promise<void> {
  await owner.sender.send({ to: manager, abi: managerAbi, functionName: 'setRequiredResults', args: [serviceId, required] });
}

export interface LocalEvmFaas {
  anvil: Anvil;
  rpcUrl: string;
  addresses: ProtocolAddresses;
  blueprintId: bigint;
  /** The blueprint's FaaSServiceManager. */
  manager: Address;
  serviceId: bigint;
  /** anvil's dev accounts by role: 0 deploys and owns, 1.. operate, the last one calls. */
  deployer: EvmAccount;
  caller: EvmAccount;
  operatorKeys: Hex[];
}

/** anvil + protocol + blueprint + `operators` operators (anvil accounts 1..n) staked, registered
 *  with `rpcAddresses[i]`, and one service of all of them, owned by the deployer. */
export async function startLocalEvmFaas(o: { operators?: number; rpcAddresses?: string[]; anvil?: AnvilOptions; /** More accounts that may call the service. */ permittedCallers?: Address[] } = {}): Promise<LocalEvmFaas> {
  const n = o.operators ?? 1;
  if (n < 1 || n > ANVIL_KEYS.length - 2) throw new Error(`1..${ANVIL_KEYS.length - 2} operators`);
  const anvil = await startAnvil(o.anvil);
  try {
    const addresses = await deployProtocol(anvil.url, ANVIL_KEYS[0]);
    const deployer = await EvmAccount.connect(anvil.url, ANVIL_KEYS[0]);
    const caller = await EvmAccount.connect(anvil.url, ANVIL_KEYS[ANVIL_KEYS.length - 1]!);
    const { blueprintId, manager } = await createFaasBlueprint(deployer, addresses.tangle);
    const operatorKeys = ANVIL_KEYS.slice(1, 1 + n) as Hex[];
    const ops = await Promise.all(operatorKeys.map((k) => EvmAccount.connect(anvil.url, k)));
    await Promise.all(ops.map((a, i) => registerEvmOperator(a, { ...addresses, blueprintId, key: a.sender.account.publicKey, rpcAddress: o.rpcAddresses?.[i] ?? 'http://127.0.0.1:0', stake: parseEther('10') })));
    const requestId = await requestEvmService(deployer, addresses.tangle, blueprintId, ops.map((a) => a.address), [caller.address, ...(o.permittedCallers ?? [])]);
    let serviceId: bigint | null = null;
    for (const a of ops) serviceId = (await approveEvmService(a, addresses.tangle, requestId)) ?? serviceId;
    if (serviceId === null) throw new Error('the service was not activated');
    return { anvil, rpcUrl: anvil.url, addresses, blueprintId, manager, serviceId, deployer, caller, operatorKeys };
  } catch (err) {
    await anvil.stop();
    throw err;
  }
}
