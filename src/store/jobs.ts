// The operator's embedded job store (SQLite through better-sqlite3). A job call is written
// before it runs and marked submitted after its result is on-chain, so a crash or restart
// neither loses a job nor submits one twice.
import { openDatabase } from './database.js';
import type { Db } from './database.js';

export type JobStatus = 'received' | 'executed' | 'submitted';

export interface StoredJob {
  serviceId: bigint;
  callId: bigint;
  job: number;
  caller: string;
  args: string[];
  status: JobStatus;
  /** The result fields (JSON) once executed. */
  result: unknown[] | null;
  blockNumber: number;
  /** blake2-256 of the call's arguments as on-chain (bound into the signed statement). */
  argsHash: string;
  /** The signed result transaction, kept before it went to the node, and the block the chain
   *  was at then: after a crash the operator looks for its own result from that block on, and
   *  sends these very bytes (same nonce) again if it finds none — never a second result. */
  submission: { signedHex: string; fromBlock: number } | null;
}

/** An execution's whole output, keyed by its output hash. */
export interface FullOutput {
  hash: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}

interface Row {
  service_id: string;
  call_id: string;
  job: number;
  caller: string;
  args: string;
  status: JobStatus;
  result: string | null;
  block_number: number;
  args_hash: string | null;
  submission: string | null;
  submitted_from: number | null;
}

export class JobStore {
  private readonly db: Db;
  private readonly owned: boolean;

  /** A path opens its own database; a Db shares one with the other stores. */
  constructor(pathOrDb: string | Db = ':memory:') {
    this.owned = typeof pathOrDb === 'string';
    this.db = typeof pathOrDb === 'string' ? openDatabase(pathOrDb) : pathOrDb;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS jobs (
        service_id TEXT NOT NULL, call_id TEXT NOT NULL, job INTEGER NOT NULL, caller TEXT NOT NULL,
        args TEXT NOT NULL, status TEXT NOT NULL, result TEXT, block_number INTEGER NOT NULL,
        updated_at INTEGER NOT NULL, PRIMARY KEY (service_id, call_id));
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS outputs (
        hash TEXT PRIMARY KEY, exit_code INTEGER NOT NULL, stdout TEXT NOT NULL, stderr TEXT NOT NULL,
        created_at INTEGER NOT NULL);`);
    // Columns added after the first release: a database from before gets them here.
    const columns = new Set((this.db.prepare('PRAGMA table_info(jobs)').all() as Array<{ name: string }>).map((c) => c.name));
    for (const [name, type] of [['args_hash', 'TEXT'], ['submission', 'TEXT'], ['submitted_from', 'INTEGER']] as const) {
      if (!columns.has(name)) this.db.exec(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`);
    }
  }

  /** Records a job call; false when it was already known (seen twice after a catch-up). */
  insert(j: Omit<StoredJob, 'status' | 'result' | 'submission'>, status: JobStatus = 'received'): boolean {
    const r = this.db
      .prepare('INSERT OR IGNORE INTO jobs (service_id, call_id, job, caller, args, status, result, block_number, updated_at, args_hash) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)')
      .run(String(j.serviceId), String(j.callId), j.job, j.caller, JSON.stringify(j.args), status, j.blockNumber, Date.now(), j.argsHash);
    return r.changes === 1;
  }

  /** Journals the signed result transaction before it is sent (see StoredJob.submission). */
  setSubmission(serviceId: bigint, callId: bigint, signedHex: string, fromBlock: number): void {
    this.db.prepare('UPDATE jobs SET submission = ?, submitted_from = ?, updated_at = ? WHERE service_id = ? AND call_id = ?').run(signedHex, fromBlock, Date.now(), String(serviceId), String(callId));
  }

  /** Stores the result fields and the full output behind its hash (the chain may hold a cut copy). */
  setResult(serviceId: bigint, callId: bigint, result: unknown[], output: FullOutput): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR IGNORE INTO outputs (hash, exit_code, stdout, stderr, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(output.hash, output.exitCode, output.stdout, output.stderr, Date.now());
      this.db.prepare("UPDATE jobs SET status = 'executed', result = ?, updated_at = ? WHERE service_id = ? AND call_id = ?").run(JSON.stringify(result), Date.now(), String(serviceId), String(callId));
    })();
  }

  /** A full output by its hash, or null. */
  output(hash: string): FullOutput | null {
    const r = this.db.prepare('SELECT hash, exit_code, stdout, stderr FROM outputs WHERE hash = ?').get(hash) as { hash: string; exit_code: number; stdout: string; stderr: string } | undefined;
    return r ? { hash: r.hash, exitCode: r.exit_code, stdout: r.stdout, stderr: r.stderr } : null;
  }

  markSubmitted(serviceId: bigint, callId: bigint): void {
    this.db.prepare("UPDATE jobs SET status = 'submitted', updated_at = ? WHERE service_id = ? AND call_id = ?").run(Date.now(), String(serviceId), String(callId));
  }

  get(serviceId: bigint, callId: bigint): StoredJob | null {
    const row = this.db.prepare('SELECT * FROM jobs WHERE service_id = ? AND call_id = ?').get(String(serviceId), String(callId)) as Row | undefined;
    return row ? toJob(row) : null;
  }

  /** Jobs not yet submitted, oldest first: what a restart must finish. */
  unfinished(): StoredJob[] {
    return (this.db.prepare("SELECT * FROM jobs WHERE status != 'submitted' ORDER BY block_number, CAST(call_id AS INTEGER)").all() as Row[]).map(toJob);
  }

  /** How many jobs are in each state. */
  counts(): Record<JobStatus, number> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM jobs GROUP BY status').all() as Array<{ status: JobStatus; n: number }>;
    const out: Record<JobStatus, number> = { received: 0, executed: 0, submitted: 0 };
    for (const r of rows) out[r.status] = r.n;
    return out;
  }

  /** The last block whose job calls are all recorded (catch-up starts after it). */
  get lastBlock(): number | null {
    const r = this.db.prepare("SELECT value FROM meta WHERE key = 'last_block'").get() as { value: string } | undefined;
    return r ? Number(r.value) : null;
  }

  set lastBlock(n: number | null) {
    this.db.prepare("INSERT INTO meta (key, value) VALUES ('last_block', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(n));
  }

  close(): void {
    if (this.owned) this.db.close();
  }
}

function toJob(r: Row): StoredJob {
  return {
    serviceId: BigInt(r.service_id),
    callId: BigInt(r.call_id),
    job: r.job,
    caller: r.caller,
    args: JSON.parse(r.args) as string[],
    status: r.status,
    result: r.result ? (JSON.parse(r.result) as unknown[]) : null,
    blockNumber: r.block_number,
    argsHash: r.args_hash ?? '',
    submission: r.submission ? { signedHex: r.submission, fromBlock: r.submitted_from ?? 0 } : null,
  };
}
