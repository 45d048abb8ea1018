// The FaaS blueprint: what is registered on Tangle (jobs with their argument and result field
// types), and the codecs between those fields and the engine's request/result types. One
// Field per job argument, each a plain String/Uint8/Bool, so a user can type a job call by hand
// in polkadot.js apps (Developer → Extrinsics → services → call).
import { z } from 'zod';

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

/** Job 0 `execute`: result order and meaning. */
export const EXECUTE_RESULT = [
  { name: 'exitCode', type: 'Uint8', doc: 'the program’s exit code (137: killed)' },
  { name: 'stdout', type: 'String', doc: `first ${ONCHAIN_OUTPUT_BYTES} bytes of stdout` },
  { name: 'stderr', type: 'String', doc: `first ${ONCHAIN_OUTPUT_BYTES} bytes of stderr` },
  { name: 'complete', type: 'Bool', doc: 'false when the on-chain copy of the output is cut (fetch it by hash)' },
  { name: 'outputHash', type: 'String', doc: '0x blake2-256 of the canonical encoding of the whole result' },
  { name: 'signature', type: 'String', doc: '0x the operator’s signature of outputHash' },
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

/** A decoded `execute` job call: what the operator hands the engine. */
export const ExecuteArgsSchema = z.object({
  code: z.string().min(1),
  language: z.string().min(1),
  // Stateful modes are served by the operator API: a job's result names no context a later job
  // could run in, so on-chain they would only leave contexts behind.
  mode: z
    .string()
    .transform((m) => m || 'ephemeral')
    .refine((m) => m === 'ephemeral' || m === 'cached', 'on-chain jobs run in ephemeral or cached mode; checkpointed, branched and persistent are served by the operator API'),
  resources: z.record(z.string(), z.unknown()).optional(),
  envVars: z.record(z.string(), z.string()).optional(),
  stdin: z.string(),
});
export type ExecuteArgs = z.infer<typeof ExecuteArgsSchema>;

/** Thrown when job arguments cannot be turned into a request; `field` names the argument. */
export class BadJobArgs extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

function json(field: string, text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadJobArgs(field, 'is not valid JSON (leave it empty for the default)');
  }
}

/** Decodes the job's String arguments (already read off-chain as JS strings). */
export function decodeExecuteArgs(values: string[]): ExecuteArgs {
  if (values.length !== EXECUTE_PARAMS.length) throw new BadJobArgs('args', `expected ${EXECUTE_PARAMS.length} arguments, got ${values.length}`);
  const [code, language, mode, resources, envVars, stdin] = values as [string, string, string, string, string, string];
  const parsed = ExecuteArgsSchema.safeParse({ code, language, mode, resources: json('resources', resources), envVars: json('envVars', envVars), stdin });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new BadJobArgs(String(issue.path[0] ?? 'args'), issue.message);
  }
  return parsed.data;
}

/**
 * A String Field holding `text`. Given as the hex of its UTF-8 bytes: @polkadot/api reads a
 * hex string as raw bytes, so a text that happens to look like hex ("0x12") must not be passed
 * as it is.
 */
export function stringField(text: string): { String: `0x${string}` } {
  return { String: `0x${Buffer.from(text, 'utf8').toString('hex')}` };
}

/** A decoded Field (a tangle-primitives `Field` enum codec): its variant and value. */
export interface FieldCodec {
  type: string;
  value: { toU8a(bare: boolean): Uint8Array; toString(): string };
}

/** A Field read back as text: a String's UTF-8 content, any other value as its string form. */
export function fieldText(f: FieldCodec): string {
  return f.type === 'String' ? Buffer.from(f.value.toU8a(true)).toString('utf8') : f.value.toString();
}

/** The job call's arguments as Fields, for `services.call(serviceId, 0, args)`. */
export function encodeExecuteArgs(a: { code: string; language: string; mode?: string; resources?: object; envVars?: Record<string, string>; stdin?: string }): Array<{ String: `0x${string}` }> {
  const values = [a.code, a.language, a.mode ?? '', a.resources ? JSON.stringify(a.resources) : '', a.envVars ? JSON.stringify(a.envVars) : '', a.stdin ?? ''];
  values.forEach((v, i) => {
    if (Buffer.byteLength(v) > MAX_FIELD_BYTES) {
      throw new BadJobArgs(EXECUTE_PARAMS[i]!.name, `is ${Buffer.byteLength(v)} bytes; on-chain arguments are at most ${MAX_FIELD_BYTES} (use the operator API for larger ones)`);
    }
  });
  return values.map(stringField);
}
