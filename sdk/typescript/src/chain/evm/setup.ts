// The protocol steps around the operator on tnt-core, for the operator CLI, npm start and the
// tests: stake as an operator, register for the FaaS blueprint with the statement key and API
// address, request a service and approve it, call job 0.
import { createPublicClient, decodeEventLog, http, parseEther, zeroAddress } from 'viem';
import type { Address, Hex, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import type { Included } from '../tx.js';
import { stakingAbi, tangleAbi } from './abi.js';
import { EvmTxSender } from './tx.js';

/** One account on one EVM node: sends with reserved nonces, reads logs of its receipts. */
export class EvmAccount {
  readonly address: Address;
  readonly sender: EvmTxSender;
  constructor(
    readonly pub: PublicClient,
    readonly privateKey: Hex,
    chainId: number,
  ) {
    const account = privateKeyToAccount(privateKey);
    this.address = account.address;
    this.sender = new EvmTxSender(pub, account, chainId);
  }

  static async connect(rpcUrl: string, privateKey: Hex): Promise<EvmAccount> {
    const pub = createPublicClient({ transport: http(rpcUrl) });
    return new EvmAccount(pub, privateKey, await pub.getChainId());
  }
}

/** The first log of `eventName` the Tangle contract emitted in a transaction, decoded. */
/** The named Tangle event of an included transaction — only a log the Tangle contract itself
 *  emitted (a contract it calls, such as a blueprint's manager, could emit one of the same shape). */
export async function receiptEvent(pub: PublicClient, included: Included, eventName: 'JobSubmitted' | 'ServiceRequested' | 'ServiceActivated' | 'BlueprintCreated', tangle: Address): Promise<Record<string, unknown>> {
  const logs = await pub.getLogs({ blockHash: included.blockHash as Hex });
  for (const log of logs) {
    if (included.txHash && log.transactionHash !== included.txHash) continue;
    if (log.address.toLowerCase() !== tangle.toLowerCase()) continue;
    try {
      const e = decodeEventLog({ abi: tangleAbi, data: log.data, topics: log.topics });
      if (e.eventName === eventName) return e.args as unknown as Record<string, unknown>;
    } catch {
      /* another event */
    }
  }
  throw new Error(`no ${eventName} event in block ${included.blockNumber}`);
}

/** An operator's registration for a blueprint: its key as the contract holds it, and its API
 *  address — which this protocol version keeps only in the OperatorRegistered /
 *  OperatorPreferencesUpdated logs (its `getOperatorPreferences` answers an empty rpcAddress). */
/** `fromBlock`: where the Tangle contract's logs begin (its deployment block; 0 reads the whole chain). */
export async function readEvmRegistration(pub: PublicClient, tangle: Address, blueprintId: bigint, operator: Address, fromBlock = 0n): Promise<{ key: Hex; rpcAddress: string } | null> {
  const prefs = await pub.readContract({ address: tangle, abi: tangleAbi, functionName: 'getOperatorPreferences', args: [blueprintId, operator] });
  if (prefs.ecdsaPublicKey === '0x') return null;
  let rpcAddress = prefs.rpcAddress;
  if (!rpcAddress) {
    const read = (name: 'OperatorRegistered' | 'OperatorPreferencesUpdated') =>
      pub.getLogs({ address: tangle, event: tangleAbi.find((x): x is Extract<(typeof tangleAbi)[number], { name: 'OperatorRegistered' }> => x.type === 'event' && x.name === name)!, args: { blueprintId, operator }, fromBlock });
    const logs = [...(await read('OperatorRegistered')), ...(await read('OperatorPreferencesUpdated'))].sort((a, b) => Number(a.blockNumber - b.blockNumber) || a.logIndex - b.logIndex);
    const last = logs[logs.length - 1] as unknown as { args: { rpcAddress: string } } | undefined;
    rpcAddress = last?.args.rpcAddress ?? '';
  }
  return { key: prefs.ecdsaPublicKey, rpcAddress };
}

/** Stakes (if not yet an operator) and registers for the blueprint (if not yet). Says what it did. */
export async function registerEvmOperator(a: EvmAccount, o: { tangle: Address; staking: Address; blueprintId: bigint; key: Hex; rpcAddress: string; stake?: bigint }): Promise<string[]> {
  const done: string[] = [];
  if (!(await a.pub.readContract({ address: o.staking, abi: stakingAbi, functionName: 'isOperator', args: [a.address] }))) {
    const stake = o.stake ?? parseEther('10');
    await a.sender.send({ to: o.staking, abi: stakingAbi, functionName: 'registerOperator', args: [], value: stake });
    done.push(`staked ${stake} wei as an operator`);
  }
  if (await a.pub.readContract({ address: o.tangle, abi: tangleAbi, functionName: 'isOperatorRegistered', args: [o.blueprintId, a.address] })) {
    done.push(`already registered for blueprint ${o.blueprintId}`);
    return done;
  }
  await a.sender.send({ to: o.tangle, abi: tangleAbi, functionName: 'registerOperator', args: [o.blueprintId, o.key, o.rpcAddress] });
  done.push(`registered for blueprint ${o.blueprintId} with API ${o.rpcAddress}`);
  return done;
}

/** Requests a service of these operators; resolves with the request id. */
export async function requestEvmService(owner: EvmAccount, tangle: Address, blueprintId: bigint, operators: Address[], permittedCallers: Address[] = []): Promise<bigint> {
  const r = await owner.sender.send({ to: tangle, abi: tangleAbi, functionName: 'requestService', args: [blueprintId, operators, '0x', permittedCallers, 0n, zeroAddress, 0n, 0] });
  return (await receiptEvent(owner.pub, r, 'ServiceRequested', tangle)).requestId as bigint;
}

/** An operator approves a request (no extra security commitments, no BLS, no TEE); resolves with
 *  the service id once the last approval activated it, else null. */
export async function approveEvmService(operator: EvmAccount, tangle: Address, requestId: bigint): Promise<bigint | null> {
  const r = await operator.sender.send({ to: tangle, abi: tangleAbi, functionName: 'approveService', args: [{ requestId, securityCommitments: [], blsPubkey: [0n, 0n, 0n, 0n], blsPopSignature: [0n, 0n], teeCommitments: [] }] });
  return receiptEvent(operator.pub, r, 'ServiceActivated', tangle).then((e) => e.serviceId as bigint, () => null);
}

/** `submitJob(serviceId, job, inputs)`; resolves with the call id. */
export async function submitEvmJob(caller: EvmAccount, tangle: Address, serviceId: bigint, inputs: Hex, job = 0): Promise<bigint> {
  return (await submitEvmJobAt(caller, tangle, serviceId, inputs, job)).callId;
}

/** `submitJob`, with the block that included it (where the call's JobSubmitted log is). */
export async function submitEvmJobAt(caller: EvmAccount, tangle: Address, serviceId: bigint, inputs: Hex, job = 0): Promise<{ callId: bigint; blockNumber: bigint }> {
  const r = await caller.sender.send({ to: tangle, abi: tangleAbi, functionName: 'submitJob', args: [serviceId, job, inputs] });
  const callId = (await receiptEvent(caller.pub, r, 'JobSubmitted', tangle)).callId as bigint;
  return { callId, blockNumber: BigInt(r.blockNumber) };
}
