// The FaaS blueprint on Tangle's EVM protocol (tnt-core): job 0 `execute` takes and returns
// ABI-encoded bytes, and the operator signs an EVM flavour of the statement.
//
//   inputs  abi.encode(string code, string language, string mode, string resources, string envVars, string stdin)
//   result  abi.encode(uint8 exitCode, string stdout, string stderr, bool complete, bytes32 outputHash, bytes32 imageHash, bytes signature)
//
// Meanings are those of EXECUTE_PARAMS / EXECUTE_RESULT (jobs.ts). argsHash is keccak256 of the
// input bytes as the JobSubmitted event carries them; outputHash is the same blake2-256 as on
// Substrate (result.ts), so the operator API serves full outputs by the one hash.
//
// The statement (domain "tangle-faas/evm/v1") is
//   abi.encode(string "tangle-faas/evm/v1", uint256 chainId, address tangle, uint64 blueprintId,
//              uint64 serviceId, uint64 callId, uint8 job, bytes32 argsHash, bytes32 imageHash,
//              uint8 exitCode, bytes32 outputHash)
// signed as secp256k1 over its keccak256 (65 bytes r ‖ s ‖ v, v = 27/28 — `ecrecover` checks it
// on-chain), against the 65-byte uncompressed key the operator registered with
// `registerOperator(blueprintId, ecdsaPublicKey, rpcAddress)`.
import { decodeAbiParameters, encodeAbiParameters, keccak256, parseAbiParameters, recoverPublicKey } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount, sign, serializeSignature } from 'viem/accounts';
import { BadJobArgs } from './args.js';
import { EXECUTE_PARAMS, MAX_FIELD_BYTES } from './jobs.js';
import { MalformedResult, capBytes } from './result.js';
import type { ExecuteResultFields, OutputToSign } from './result.js';
import type { Statement } from './statement.js';

export const EVM_STATEMENT_DOMAIN = 'tangle-faas/evm/v1';
/** The job's inputs and result: ABI parameter lists (encoded as top-level parameters, like `abi.encode(a, b, …)`). */
export const EVM_INPUT_TYPES = 'string code, string language, string mode, string resources, string envVars, string stdin';
export const EVM_RESULT_TYPES = 'uint8 exitCode, string stdout, string stderr, bool complete, bytes32 outputHash, bytes32 imageHash, bytes signature';

const inputParams = parseAbiParameters(EVM_INPUT_TYPES);
const resultParams = parseAbiParameters(EVM_RESULT_TYPES);
const statementParams = parseAbiParameters('string domain, uint256 chainId, address tangle, uint64 blueprintId, uint64 serviceId, uint64 callId, uint8 job, bytes32 argsHash, bytes32 imageHash, uint8 exitCode, bytes32 outputHash');

/** An EVM chain's identity in the statement: its chain id and the Tangle contract. */
export interface EvmChainIdentity {
  chainId: bigint | number;
  tangle: Hex;
}

/** The statement on an EVM chain: the Substrate one with chain id and Tangle contract for the genesis hash. */
export type EvmStatement = Omit<Statement, 'genesisHash'> & EvmChainIdentity;

/** The job's inputs as `submitJob(serviceId, 0, inputs)` takes them. */
export function encodeEvmExecuteArgs(a: { code: string; language: string; mode?: string; resources?: object; envVars?: Record<string, string>; stdin?: string }): Hex {
  const values = [a.code, a.language, a.mode ?? '', a.resources ? JSON.stringify(a.resources) : '', a.envVars ? JSON.stringify(a.envVars) : '', a.stdin ?? ''] as const;
  values.forEach((v, i) => {
    if (Buffer.byteLength(v) > MAX_FIELD_BYTES) throw new BadJobArgs(EXECUTE_PARAMS[i]!.name, `is ${Buffer.byteLength(v)} bytes; on-chain arguments are at most ${MAX_FIELD_BYTES}`);
  });
  return encodeAbiParameters(inputParams, values);
}

/** The input bytes read back as the six argument texts; BadJobArgs when they are not that layout. */
export function decodeEvmExecuteArgs(inputs: Hex): string[] {
  try {
    return [...decodeAbiParameters(inputParams, inputs)];
  } catch {
    throw new BadJobArgs('inputs', `are not ABI-encoded (${EVM_INPUT_TYPES})`);
  }
}

export const evmArgsHash = (inputs: Hex): Hex => keccak256(inputs);

export function encodeEvmResult(o: OutputToSign & { outputHash: string; imageHash: string; signature: string }): Hex {
  const out = capBytes(o.stdout);
  const err = capBytes(o.stderr);
  return encodeAbiParameters(resultParams, [o.exitCode & 0xff, out.text, err.text, !out.cut && !err.cut, o.outputHash as Hex, o.imageHash as Hex, o.signature as Hex]);
}

export function decodeEvmResult(bytes: Hex): ExecuteResultFields {
  let v: readonly [number, string, string, boolean, Hex, Hex, Hex];
  try {
    v = decodeAbiParameters(resultParams, bytes);
  } catch {
    throw new MalformedResult(`a result is ABI-encoded (${EVM_RESULT_TYPES})`);
  }
  if (!/^0x[0-9a-f]{130}$/.test(v[6])) throw new MalformedResult('result field signature is not a 65-byte signature');
  return { exitCode: v[0], stdout: v[1], stderr: v[2], complete: v[3], outputHash: v[4], imageHash: v[5], signature: v[6] };
}

export function encodeEvmStatement(s: EvmStatement): Hex {
  return encodeAbiParameters(statementParams, [EVM_STATEMENT_DOMAIN, BigInt(s.chainId), s.tangle, BigInt(s.blueprintId), BigInt(s.serviceId), BigInt(s.callId), s.job & 0xff, s.argsHash as Hex, s.imageHash as Hex, s.exitCode & 0xff, s.outputHash as Hex]);
}

export async function signEvmStatement(privateKey: Hex, s: EvmStatement): Promise<Hex> {
  return serializeSignature(await sign({ hash: keccak256(encodeEvmStatement(s)), privateKey }));
}

/** The 65-byte uncompressed key (0x04 ‖ x ‖ y) an EVM operator registers. */
export const evmRegisteredKey = (privateKey: Hex): Hex => privateKeyToAccount(privateKey).publicKey;

export async function verifyEvmStatement(s: EvmStatement, signature: string, registeredKey: string): Promise<boolean> {
  try {
    const key = await recoverPublicKey({ hash: keccak256(encodeEvmStatement(s)), signature: signature as Hex });
    return key.toLowerCase() === registeredKey.toLowerCase();
  } catch {
    return false;
  }
}
