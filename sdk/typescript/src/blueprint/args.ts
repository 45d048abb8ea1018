// Job 0 `execute`: its arguments between the engine's request and the chain's String Fields,
// and the hash of the arguments as the chain holds them (bound into the signed statement).
import { compactToU8a, u8aConcat } from '@polkadot/util';
import { blake2AsHex } from '@polkadot/util-crypto';
import { z } from 'zod';
import { EXECUTE_PARAMS, MAX_FIELD_BYTES } from './jobs.js';

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
  /** The Field's own SCALE encoding (variant index, then the value). */
  toU8a(): Uint8Array;
}

/** A Field read back as text: a String's UTF-8 content, any other value as its string form. */
export function fieldText(f: Pick<FieldCodec, 'type' | 'value'>): string {
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

/**
 * blake2-256 of the call's arguments as the chain holds them: the SCALE encoding of
 * `Vec<Field>` (compact count, then each Field's own encoding). Operator and client compute it
 * from the same on-chain codecs, so neither depends on how the caller built them.
 */
export function argsHash(args: ReadonlyArray<{ toU8a(): Uint8Array }>): `0x${string}` {
  return blake2AsHex(u8aConcat(compactToU8a(args.length), ...args.map((a) => a.toU8a())), 256);
}
