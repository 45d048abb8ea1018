// Checking one operator's result, and agreement between operators. A result counts only when
// its submitter is one of the service's operators (from the service's on-chain record), its
// Fields are the blueprint's result layout, the whole output hashes to the signed output hash,
// and the signature over the statement — which names the chain, blueprint, service, call, job,
// arguments, image, exit code and output — checks against the key that operator registered.
import { decodeResult, outputHash, verifyStatement } from '../../blueprint/index.js';
import type { ExecuteResultFields, FieldCodec, Statement } from '../../blueprint/index.js';

/** The job a result must be about: everything of the statement but what the result says. */
export type JobContext = Omit<Statement, 'imageHash' | 'exitCode' | 'outputHash'>;

/** One operator's submitted result, as checked. */
export interface OperatorResult {
  operator: string;
  exitCode: number;
  /** The whole output (fetched from the operator's API when the on-chain copy was cut). */
  stdout: string;
  stderr: string;
  /** False when the on-chain copy of the output was cut. */
  complete: boolean;
  outputHash: string;
  imageHash: string;
  signature: string;
  /** Whether the submitter is an operator of the service. */
  trusted: boolean;
  verified: boolean;
  /** Why `verified` is false, when it is. */
  verificationError?: string;
}

export interface VerifyDeps {
  /** The service's operators, from its on-chain record. */
  operators: readonly string[];
  /** An operator's registration for the blueprint (its 65-byte key and API address), or null. */
  registration(operator: string): Promise<{ key: string; rpcAddress: string } | null>;
  /** The whole output behind an output hash, from an operator's API. */
  fetchOutput(rpcAddress: string, hash: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
}

const blank = (operator: string, trusted: boolean, error: string): OperatorResult => ({
  operator,
  exitCode: 0,
  stdout: '',
  stderr: '',
  complete: false,
  outputHash: '',
  imageHash: '',
  signature: '',
  trusted,
  verified: false,
  verificationError: error,
});

export async function verifyOperatorResult(job: JobContext, operator: string, fields: ReadonlyArray<Pick<FieldCodec, 'type' | 'value'>>, d: VerifyDeps): Promise<OperatorResult> {
  let r: ExecuteResultFields;
  try {
    r = decodeResult(fields);
  } catch (err) {
    return blank(operator, d.operators.includes(operator), `malformed result: ${(err as Error).message}`);
  }
  return checkResult({ serviceId: job.serviceId, blueprintId: job.blueprintId }, operator, r, d, (key) => verifyStatement({ ...job, imageHash: r.imageHash, exitCode: r.exitCode, outputHash: r.outputHash }, r.signature, key));
}

/** The checks every backend shares, on a decoded result: a service operator, registered, the
 *  whole output hashing to the signed hash, and `signatureChecks` against its registered key. */
export async function checkResult(job: { serviceId: bigint | number; blueprintId: bigint | number }, operator: string, r: ExecuteResultFields, d: VerifyDeps, signatureChecks: (registeredKey: string) => boolean | Promise<boolean>): Promise<OperatorResult> {
  // Whatever an operator (or its API) sent, a check ends in a verdict, never a throw.
  try {
    return await checkResultUnguarded(job, operator, r, d, signatureChecks);
  } catch (err) {
    return { ...blank(operator, d.operators.includes(operator), `the result could not be checked: ${(err as Error).message}`) };
  }
}

async function checkResultUnguarded(job: { serviceId: bigint | number; blueprintId: bigint | number }, operator: string, r: ExecuteResultFields, d: VerifyDeps, signatureChecks: (registeredKey: string) => boolean | Promise<boolean>): Promise<OperatorResult> {
  const trusted = d.operators.includes(operator);
  const out: OperatorResult = { operator, ...r, trusted, verified: false };
  if (!trusted) return { ...out, verificationError: `${operator} is not an operator of service ${job.serviceId}; its result is not trusted` };
  const reg = await d.registration(operator);
  if (!reg) return { ...out, verificationError: `${operator} is not registered for blueprint ${job.blueprintId}` };
  if (!r.complete) {
    // The chain holds a cut copy: fetch the whole output and check it against the signed hash.
    try {
      const full = await d.fetchOutput(reg.rpcAddress, r.outputHash);
      Object.assign(out, { stdout: full.stdout, stderr: full.stderr });
      if (full.exitCode !== r.exitCode) return { ...out, verificationError: `the full output's exit code ${full.exitCode} is not the result's ${r.exitCode}` };
    } catch (err) {
      return { ...out, verificationError: `the on-chain output is cut and the full output could not be fetched from ${reg.rpcAddress}: ${(err as Error).message}` };
    }
  }
  const expected = outputHash(out);
  if (expected !== r.outputHash) return { ...out, verificationError: `output hash mismatch: the output hashes to ${expected}` };
  if (!(await signatureChecks(reg.key))) {
    return { ...out, verificationError: 'the signature does not check against the operator’s registered key for this job’s statement' };
  }
  return { ...out, verified: true };
}

/** A result that could not be decoded, as checked. */
export const malformedResult = (operator: string, trusted: boolean, error: string): OperatorResult => blank(operator, trusted, `malformed result: ${error}`);

/** Default agreement: the one operator of a one-operator service, a majority otherwise. */
export function defaultQuorum(operators: number): number {
  return operators <= 1 ? 1 : Math.floor(operators / 2) + 1;
}

/** What the verified results say about one statement. */
const statementKey = (r: OperatorResult) => `${r.exitCode}/${r.outputHash}/${r.imageHash}`;

export interface Agreement {
  /** Verified results of service operators that agree with each other, largest group first. */
  agreed: OperatorResult[];
  /** Verified results of service operators that signed a different statement. */
  dissent: OperatorResult[];
  /** Results that did not verify or came from outside the service. */
  rejected: OperatorResult[];
  /** The size of the largest group that signed another statement than `agreed` (with a quorum
   *  at or below half the operators, two groups could each reach it: then neither is believed). */
  rivalSize: number;
}

/** Groups results by the statement they signed (first result per operator counts). */
export function agreement(results: readonly OperatorResult[]): Agreement {
  const seen = new Set<string>();
  const groups = new Map<string, OperatorResult[]>();
  const rejected: OperatorResult[] = [];
  for (const r of results) {
    if (!r.verified || !r.trusted) {
      rejected.push(r);
      continue;
    }
    if (seen.has(r.operator)) continue;
    seen.add(r.operator);
    const k = statementKey(r);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const sorted = [...groups.values()].sort((a, b) => b.length - a.length);
  return { agreed: sorted[0] ?? [], dissent: sorted.slice(1).flat(), rejected, rivalSize: sorted[1]?.length ?? 0 };
}

/** A job's outcome as `waitForResult` gives it (both chain backends). */
export interface JobResult {
  jobId: bigint;
  exitCode: number;
  /** The whole output: fetched from the operator's API when the on-chain copy was cut. */
  stdout: string;
  stderr: string;
  /** False when the on-chain output was cut (the full output is then fetched from the operator). */
  complete: boolean;
  outputHash: string;
  imageHash: string;
  /** The first agreeing operator's signature, and that operator. */
  signature: string;
  operator: string;
  /** True only when `quorum` operators of the service signed this same statement, each verified. */
  verified: boolean;
  /** Why `verified` is false, when it is. */
  verificationError?: string;
  /** The operators whose verified results agree (at least `quorum` when verified). */
  operators: string[];
  quorum: number;
  /** Operators of the service whose verified, signed result differs: evidence of misbehaviour. */
  dissent: OperatorResult[];
  /** Results that did not verify, or from accounts that do not operate the service. */
  rejected: OperatorResult[];
}

/**
 * The job's outcome once it is decided, else null: decided when `quorum` operators signed one
 * statement and no other group reached the quorum too (possible only for a quorum at or below
 * half), or when every operator of the service has answered (an operator whose result did not
 * verify has answered too, wrongly) — then `verified` is false and says why.
 */
export function decide(jobId: bigint, checked: readonly OperatorResult[], quorum: number, operatorCount: number): JobResult | null {
  const a = agreement(checked);
  const answered = new Set(checked.filter((r) => r.trusted).map((r) => r.operator));
  if (a.agreed.length < quorum && answered.size < operatorCount) return null;
  const first = a.agreed[0] ?? checked[0];
  if (!first) return null;
  const verified = a.agreed.length >= quorum && a.rivalSize < quorum;
  let why = '';
  if (!verified) {
    const failing = a.rejected.filter((r) => r.trusted).map((r) => `${r.operator}: ${r.verificationError}`);
    why =
      a.rivalSize >= quorum
        ? `two groups of operators each reached the quorum of ${quorum} with different results`
        : `no quorum: ${a.agreed.length} of the ${quorum} needed operators agree (${a.dissent.length} dissent)${failing.length ? `; ${failing.join('; ')}` : ''}`;
  }
  return {
    jobId,
    exitCode: first.exitCode,
    stdout: first.stdout,
    stderr: first.stderr,
    complete: first.complete,
    outputHash: first.outputHash,
    imageHash: first.imageHash,
    signature: first.signature,
    operator: first.operator,
    verified,
    ...(verified ? {} : { verificationError: why }),
    operators: a.agreed.map((r) => r.operator),
    quorum,
    dissent: a.dissent,
    rejected: a.rejected,
  };
}
