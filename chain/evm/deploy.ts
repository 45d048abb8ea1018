// Deploys tnt-core's protocol core onto an EVM node from the compiled artifacts: the libraries
// (linked into the facets that use them), MultiAssetDelegation (staking) and Tangle behind
// ERC1967 proxies with their facets registered, OperatorStatusRegistry, TangleToken, the master
// blueprint service manager and its registry, and the wiring between them. Transactions are
// signed here with locally counted nonces and handed over one after another (anvil mines each on
// arrival); receipts are checked once at the end. ~75 transactions, ~2 s on anvil.
import { createPublicClient, encodeFunctionData, getContractAddress, http, keccak256, parseEther, toHex } from 'viem';
import type { Abi, Address, Hex, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { PrivateKeyAccount } from 'viem/accounts';
import { artifact, linkedBytecode } from './artifacts.js';

export const STAKING_FACETS = [
  'StakingOperatorsFacet', 'StakingDepositsFacet', 'StakingDelegationsFacet', 'StakingUnstakeWithdrawFacet',
  'StakingSlashingFacet', 'StakingAssetsFacet', 'StakingViewsFacet', 'StakingAdminFacet',
] as const;
export const TANGLE_FACETS = [
  'TangleBlueprintsFacet', 'TangleBlueprintsManagementFacet', 'TangleOperatorsFacet', 'TangleServicesRequestsFacet',
  'TangleServicesFacet', 'TangleServicesViewsFacet', 'TangleServicesLifecycleFacet', 'TangleJobsFacet',
  'TangleJobsAggregationFacet', 'TangleJobsRFQFacet', 'TangleQuotesFacet', 'TangleQuotesExtensionFacet',
  'TanglePaymentsFacet', 'TanglePaymentsRewardsFacet', 'TanglePaymentsDistributionFacet', 'TangleSlashingFacet',
] as const;

export interface ProtocolAddresses {
  tangle: Address;
  staking: Address;
  statusRegistry: Address;
  tnt: Address;
  masterManager: Address;
  mbsmRegistry: Address;
}

/** A deployer: signs locally with the next nonce and hands over at once (no per-tx round trips). */
class Deployer {
  private nonce = 0;
  readonly hashes: Array<{ label: string; hash: Hex }> = [];
  constructor(
    readonly pub: PublicClient,
    readonly account: PrivateKeyAccount,
    private readonly chainId: number,
    private readonly gasPrice: bigint,
  ) {}

  async init(): Promise<void> {
    this.nonce = await this.pub.getTransactionCount({ address: this.account.address, blockTag: 'pending' });
  }

  private async send(label: string, tx: { to?: Address; data: Hex; value?: bigint }): Promise<{ nonce: number; hash: Hex }> {
    const nonce = this.nonce++;
    const raw = await this.account.signTransaction({ ...tx, nonce, chainId: this.chainId, gas: 29_000_000n, maxFeePerGas: this.gasPrice, maxPriorityFeePerGas: 0n, type: 'eip1559' });
    const hash = await this.pub.sendRawTransaction({ serializedTransaction: raw });
    this.hashes.push({ label, hash });
    return { nonce, hash };
  }

  async deploy(name: string, data: Hex = '0x', libraries: Record<string, Hex> = {}): Promise<Address> {
    const { nonce } = await this.send(`deploy ${name}`, { data: `${linkedBytecode(artifact(name), libraries)}${data.slice(2)}` as Hex });
    return getContractAddress({ from: this.account.address, nonce: BigInt(nonce) });
  }

  async call(label: string, to: Address, abi: Abi, functionName: string, args: unknown[]): Promise<void> {
    await this.send(label, { to, data: encodeFunctionData({ abi, functionName, args }) });
  }

  /** Every transaction succeeded (else names the first that did not). */
  async check(): Promise<void> {
    const last = this.hashes[this.hashes.length - 1];
    if (last) await this.pub.waitForTransactionReceipt({ hash: last.hash, pollingInterval: 20 });
    for (const { label, hash } of this.hashes) {
      const r = await this.pub.getTransactionReceipt({ hash });
      if (r.status !== 'success') throw new Error(`tnt-core deployment: ${label} reverted`);
    }
  }
}

function constructorArgs(name: string, args: unknown[]): Hex {
  const ctor = artifact(name).abi.find((x) => x.type === 'constructor');
  if (!ctor || ctor.type !== 'constructor') return '0x';
  // encodeDeployData wants the bytecode; the arguments are what follows it.
  return encodeFunctionData({ abi: [{ type: 'function', name: 'c', inputs: ctor.inputs, outputs: [], stateMutability: 'nonpayable' }], functionName: 'c', args }).replace(/^0x.{8}/, '0x') as Hex;
}

/** Deploys the protocol with `deployerKey` as admin and treasury; resolves with the addresses. */
export async function deployProtocol(rpcUrl: string, deployerKey: Hex): Promise<ProtocolAddresses> {
  const pub = createPublicClient({ transport: http(rpcUrl) });
  const account = privateKeyToAccount(deployerKey);
  const chainId = await pub.getChainId();
  const gasPrice = ((await pub.getGasPrice()) * 3n) / 2n + 1_000_000_000n;
  const d = new Deployer(pub, account, chainId, gasPrice);
  await d.init();
  const admin = account.address;
  const proxy = async (impl: string, init: unknown[]) => {
    const at = await d.deploy(impl);
    const data = encodeFunctionData({ abi: artifact(impl).abi, functionName: 'initialize', args: init });
    return d.deploy('ERC1967Proxy', constructorArgs('ERC1967Proxy', [at, data]));
  };
  const stakingImplAbi = artifact('MultiAssetDelegation').abi;
  const tangleImplAbi = artifact('Tangle').abi;
  const staking = await proxy('MultiAssetDelegation', [admin, parseEther('1'), parseEther('0.1'), 1000]);
  const tangle = await proxy('Tangle', [admin, staking, admin]);
  for (const f of STAKING_FACETS) await d.call(`staking.registerFacet(${f})`, staking, stakingImplAbi, 'registerFacet', [await d.deploy(f)]);
  const libraries = { ServiceValidationLib: await d.deploy('ServiceValidationLib') };
  for (const f of TANGLE_FACETS) await d.call(`tangle.registerFacet(${f})`, tangle, tangleImplAbi, 'registerFacet', [await d.deploy(f, '0x', libraries)]);
  const statusRegistry = await d.deploy('OperatorStatusRegistry', constructorArgs('OperatorStatusRegistry', [tangle, admin]));
  const tnt = await proxy('TangleToken', [admin, parseEther('1000000')]);
  const adminAbi = artifact('StakingAdminFacet').abi;
  await d.call('staking.addSlasher', staking, adminAbi, 'addSlasher', [tangle]);
  await d.call('staking.setTangle', staking, adminAbi, 'setTangle', [tangle]);
  await d.call('tangle.setOperatorStatusRegistry', tangle, tangleImplAbi, 'setOperatorStatusRegistry', [statusRegistry]);
  await d.call('tangle.setTntToken', tangle, tangleImplAbi, 'setTntToken', [tnt]);
  const masterManager = await d.deploy('MasterBlueprintServiceManager', constructorArgs('MasterBlueprintServiceManager', [admin, tangle]));
  const mbsmRegistry = await proxy('MBSMRegistry', [admin]);
  const registryAbi = artifact('MBSMRegistry').abi;
  await d.call('mbsm.grantRole(MANAGER_ROLE, tangle)', mbsmRegistry, registryAbi, 'grantRole', [keccak256(toHex('MANAGER_ROLE')), tangle]);
  await d.call('mbsm.addVersion', mbsmRegistry, registryAbi, 'addVersion', [masterManager]);
  await d.call('tangle.setMBSMRegistry', tangle, tangleImplAbi, 'setMBSMRegistry', [mbsmRegistry]);
  await d.check();
  return { tangle, staking, statusRegistry, tnt, masterManager, mbsmRegistry };
}
