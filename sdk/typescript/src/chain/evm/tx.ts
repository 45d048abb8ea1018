// Sending EVM transactions from one account: each takes the next locally reserved nonce at
// once (concurrent results never clash, no sleeps; a refused nonce makes the next send re-read
// it from the node), is signed here — so its raw bytes can be journaled before they leave — and
// resolves once its receipt is in a block the client follows (latest or finalized).
import { BaseError, ContractFunctionRevertedError, decodeErrorResult, encodeFunctionData, getContractAddress } from 'viem';
import type { Abi, Address, Hex, PublicClient, TransactionReceipt } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { NonceManager } from '../nonce.js';
import { ChainTxError } from '../tx.js';
import type { Included, SendOptions } from '../tx.js';

const NONCE_REFUSED = /nonce too low|nonce too high|invalid nonce|replacement transaction underpriced/i;
const ALREADY_KNOWN = /already known|already imported|known transaction/i;

/** SendOptions, and how long `send` waits: until the transaction's block is at or below the
 *  followed head (default), or only until it is in a block (for what need not be final, such
 *  as a heartbeat). */
export type EvmSendOptions = SendOptions & { until?: 'followed' | 'included' };

export interface EvmCall {
  to: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
  value?: bigint;
}

export class EvmTxSender {
  private readonly nonces: NonceManager;
  private fees: { at: number; fee: Promise<bigint> } | null = null;

  constructor(
    private readonly pub: PublicClient,
    readonly account: PrivateKeyAccount,
    private readonly chainId: number,
    private readonly follow: 'latest' | 'finalized' = 'latest',
  ) {
    this.nonces = new NonceManager(() => pub.getTransactionCount({ address: account.address, blockTag: 'pending' }));
  }

  private maxFee(): Promise<bigint> {
    if (!this.fees || Date.now() - this.fees.at > 2000) {
      const fee = this.pub.getGasPrice().then((p) => p * 2n + 1_000_000_000n);
      this.fees = { at: Date.now(), fee };
      fee.catch(() => (this.fees = null));
    }
    return this.fees.fee;
  }

  /** Simulates (for the contract's revert reason and the gas), signs with the next nonce, sends,
   *  and waits for the receipt; retries once with a re-read nonce when the node refused ours. */
  async send(c: EvmCall, opts: EvmSendOptions = {}, retried = false): Promise<Included> {
    const data = encodeFunctionData({ abi: c.abi, functionName: c.functionName, args: c.args });
    let gas: bigint;
    try {
      gas = await this.pub.estimateGas({ account: this.account.address, to: c.to, data, value: c.value });
    } catch (err) {
      throw new ChainTxError(`${c.functionName}: ${revertReason(err, c.abi)}`, true);
    }
    const nonce = await this.nonces.take();
    const raw = await this.account.signTransaction({ to: c.to, data, value: c.value, nonce, gas: (gas * 13n) / 10n + 20_000n, chainId: this.chainId, maxFeePerGas: await this.maxFee(), maxPriorityFeePerGas: 0n, type: 'eip1559' });
    opts.onSigned?.(raw);
    try {
      return await this.resend(raw, opts.until);
    } catch (err) {
      if (err instanceof ChainTxError && err.refused) this.nonces.reset();
      if (err instanceof ChainTxError && err.outdatedNonce && !retried) return this.send(c, opts, true);
      throw err;
    }
  }

  /** Deploys a contract (`data`: creation code and constructor arguments) with the next nonce;
   *  resolves with its address once the deployment is in a followed block. */
  async deploy(data: Hex): Promise<Address> {
    let gas: bigint;
    try {
      gas = await this.pub.estimateGas({ account: this.account.address, data });
    } catch (err) {
      throw new ChainTxError(`deploy: ${revertReason(err)}`, true);
    }
    const nonce = await this.nonces.take();
    const raw = await this.account.signTransaction({ data, nonce, gas: (gas * 13n) / 10n + 20_000n, chainId: this.chainId, maxFeePerGas: await this.maxFee(), maxPriorityFeePerGas: 0n, type: 'eip1559' });
    try {
      await this.resend(raw);
    } catch (err) {
      if (err instanceof ChainTxError && err.refused) this.nonces.reset();
      throw err;
    }
    return getContractAddress({ from: this.account.address, nonce: BigInt(nonce) });
  }

  /** Sends signed bytes (again): resolves with the inclusion; the nonce is theirs. */
  async resend(raw: Hex, until: EvmSendOptions['until'] = 'followed'): Promise<Included> {
    let hash: Hex;
    try {
      hash = await this.pub.sendRawTransaction({ serializedTransaction: raw });
    } catch (err) {
      const m = (err as Error).message;
      throw new ChainTxError(m.split('\n')[0]!, true, NONCE_REFUSED.test(m), ALREADY_KNOWN.test(m));
    }
    const receipt = await this.receipt(hash, until);
    if (receipt.status !== 'success') throw new ChainTxError(`transaction ${hash} reverted in block ${receipt.blockNumber}`);
    return { blockHash: receipt.blockHash, blockNumber: Number(receipt.blockNumber), events: receipt.logs.map((l) => l.topics[0] ?? ''), records: [], fee: receipt.gasUsed * receipt.effectiveGasPrice, txHash: hash };
  }

  /** The receipt, once its block is at or below the followed head. Anvil mines on arrival, so
   *  the first read usually has it. */
  private async receipt(hash: Hex, until: EvmSendOptions['until']): Promise<TransactionReceipt> {
    for (let wait = 5; ; wait = Math.min(wait * 2, 500)) {
      const r = await this.pub.getTransactionReceipt({ hash }).catch(() => null);
      if (r && (this.follow === 'latest' || until === 'included' || (await this.pub.getBlock({ blockTag: 'finalized' })).number >= r.blockNumber)) return r;
      await new Promise((res) => setTimeout(res, wait));
    }
  }
}

/** The contract's words for a failed call: its custom error by name (when `abi` declares it)
 *  with its arguments, else the node's message. */
export function revertReason(err: unknown, abi?: Abi): string {
  if (err instanceof BaseError) {
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
    if (revert instanceof ContractFunctionRevertedError) return revert.data?.errorName ?? revert.reason ?? revert.shortMessage;
    const withData = err.walk((e) => typeof (e as { data?: unknown }).data === 'string') as { data?: Hex } | null;
    if (abi && withData?.data && withData.data.length >= 10) {
      try {
        const e = decodeErrorResult({ abi, data: withData.data });
        return `${e.errorName}(${(e.args ?? []).map(String).join(', ')})`;
      } catch {
        /* not one of ours */
      }
    }
    return err.shortMessage;
  }
  return (err as Error).message;
}
