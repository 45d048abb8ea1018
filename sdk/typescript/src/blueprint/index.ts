// The job contract of the FaaS blueprint — the one place both sides read it from: the job
// definitions registered on-chain, the argument and result codecs, and the signed statement
// that binds each output to its job. The operator and TangleFaaSClient import it from here.
export { MAX_FIELD_BYTES, ONCHAIN_OUTPUT_BYTES, JOB_EXECUTE, EXECUTE_PARAMS, EXECUTE_RESULT, faasBlueprint } from './jobs.js';
export { ExecuteArgsSchema, BadJobArgs, decodeExecuteArgs, stringField, fieldText, encodeExecuteArgs, argsHash } from './args.js';
export type { ExecuteArgs, FieldCodec } from './args.js';
export { outputHash, capBytes, encodeResult, decodeResult, MalformedResult } from './result.js';
export type { OutputToSign, ExecuteResultFields } from './result.js';
export { STATEMENT_DOMAIN, encodeStatement, operatorSigningKey, signStatement, verifyStatement } from './statement.js';
export type { Statement } from './statement.js';
export { EVM_STATEMENT_DOMAIN, EVM_INPUT_TYPES, EVM_RESULT_TYPES, encodeEvmExecuteArgs, decodeEvmExecuteArgs, evmArgsHash, encodeEvmResult, decodeEvmResult, encodeEvmStatement, signEvmStatement, verifyEvmStatement, evmRegisteredKey } from './evm.js';
export type { EvmStatement, EvmChainIdentity } from './evm.js';
