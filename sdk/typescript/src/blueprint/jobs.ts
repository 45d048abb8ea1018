// The FaaS blueprint as registered on Tangle: its jobs with their argument and result field
// types. One Field per job argument, each a plain String/Uint8/Bool, so a user can type a job
// call by hand in polkadot.js apps (Developer → Extrinsics → services → call).

/** Tangle's bound on one String field (BoundedString in the runtime). */
export const MAX_FIELD_BYTES = 1024;
/** How much of stdout / stderr goes on-chain; the full output is kept by the operator's API. */
export const ONCHAIN_OUTPUT_BYTES = 256;

export const JOB_EXECUTE = 0;

/** Job 0 `execute`: argument order and meaning. */
export const EXECUTE_PARAMS = [
  { name: 'code', type: 'String', doc: 'the program (at most 1024 bytes on-chain)' },
  { name: 'language', type: 'String', doc: 'python | javascript | typescript | bash | go' },
  { name: 'mode', type: 'String', doc: 'ephemeral | cached (empty: ephemeral)' },
  { name: 'resources', type: 'String', doc: 'JSON, e.g. {"memoryMb":256,"timeoutMs":5000}; empty: defaults' },
  { name: 'envVars', type: 'String', doc: 'JSON object of strings; empty: none' },
  { name: 'stdin', type: 'String', doc: 'text written to the program’s stdin' },
] as const;

/** Job 0 `execute`: result order and meaning (the codec is `encodeResult` / `decodeResult`). */
export const EXECUTE_RESULT = [
  { name: 'exitCode', type: 'Uint8', doc: 'the program’s exit code (137: killed)' },
  { name: 'stdout', type: 'String', doc: `first ${ONCHAIN_OUTPUT_BYTES} bytes of stdout` },
  { name: 'stderr', type: 'String', doc: `first ${ONCHAIN_OUTPUT_BYTES} bytes of stderr` },
  { name: 'complete', type: 'Bool', doc: 'false when the on-chain copy of the output is cut (fetch it by hash)' },
  { name: 'outputHash', type: 'String', doc: '0x blake2-256 of the canonical encoding of the whole output' },
  { name: 'imageHash', type: 'String', doc: '0x the content hash (Docker image id) of the runtime image it ran in' },
  { name: 'signature', type: 'String', doc: '0x the operator’s ECDSA signature of the statement (see blueprint/statement.ts)' },
] as const;

/** The blueprint as `services.createBlueprint` takes it (field names as @polkadot/api wants them). */
export function faasBlueprint(opts: { manager?: string } = {}) {
  return {
    metadata: {
      name: 'tangle-faas',
      description: 'Verifiable function-as-a-service: code runs in a Docker sandbox; the operator signs the result.',
      author: 'tangle-faas',
      category: 'compute',
      codeRepository: null,
      logo: null,
      website: null,
      license: 'MIT',
    },
    jobs: [
      {
        metadata: { name: 'execute', description: 'Run code in a sandbox and return its output, hashed and signed.' },
        params: EXECUTE_PARAMS.map((p) => p.type),
        result: EXECUTE_RESULT.map((r) => r.type),
        pricingModel: { PayOnce: { amount: 0 } },
      },
    ],
    registrationParams: [],
    requestParams: [],
    manager: { Evm: opts.manager ?? '0x0000000000000000000000000000000000000000' },
    masterManagerRevision: 'Latest',
    sources: [],
    supportedMembershipModels: ['Fixed', 'Dynamic'],
  };
}
