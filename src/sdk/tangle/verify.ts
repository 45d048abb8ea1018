// Checking one operator's result, and agreement between operators. A result counts only when
// its submitter is one of the service's operators (from the service's on-chain record), its
// Fields are the blueprint's result layout, the whole output hashes to the signed output hash,
// and the signature over the statement — which names the chain, blueprint, service, call, job,
// arguments, image, exit code and output — checks against the key that operator registered.
import { decodeResult, outputHash, verifyStatement } from '../../../blueprint/index.js';
import type { ExecuteResultFields, FieldCodec, Statement } from '../../../blueprint/index.js';

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
  const trusted = d.operators.includes(operator);
  let r: ExecuteResultFields;
  try {
    r = decodeResult(fields);
  } catch (err) {
    return blank(operator, trusted, `malformed result: ${(err as Error).message}`);
  }
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
  if (!verifyStatement({ ...job, imageHash: r.imageHash, exitCode: r.exitCode, outputHash: r.outputHash }, r.signature, reg.key)) {
    return { ...out, verificationError: 'the signature does not check against the operator’s registered key for this job’s statement' };
  }
  return { ...out, verified: true };
}

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
  return { agreed: sorted[0] ?? [], dissent: sorted.slice(1).flat(), rejected };
}
