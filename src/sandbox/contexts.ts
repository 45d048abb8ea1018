// Stateful contexts (checkpointed, branched and persistent modes), their snapshots, branches
// and merges, on family containers run by the family agent (agent/family.py: the design is
// described there and in the README). This side keeps the records (ContextStore), keeps each
// snapshot's files on disk once per content hash (snapshot-files.ts), and finds family containers again after an
// operator restart. A snapshot whose family container is gone is loaded from its files into a
// new one: its files come back, its memory does not (the record then says hasMemory: false).
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { MergeConflictError, NotFoundError, QuotaExceededError, ValidationError } from '@faas/sdk/errors';
import type { ContextStore, SnapshotRecord } from '../store/index.js';
import { SandboxContainer } from './container.js';
import { MANAGED_LABEL, ROLE_LABEL } from './labels.js';
import { allocateSandboxUid, containerOptions } from './policy.js';
import type { ContainerSpec } from './policy.js';
import { SNAPSHOT_CHUNK_BYTES } from './protocol.js';
import type { ExecMessage } from './protocol.js';
import { SnapshotFileStore } from './snapshot-files.js';
import type { TarSlice } from './snapshot-files.js';
import { snapshotInfo } from './snapshot-info.js';
import type { BranchInfo, MergeInfo, RestoreInfo, SnapshotInfo } from './snapshot-info.js';
import type { ExecuteRequest, ExecuteResult, Isolation, Language, Owner } from './types.js';

export const FAMILY_ROLE = 'family';

interface ContextReply {
  hasMemory: boolean;
  sizeBytes: number;
  contentHash: string;
  [k: string]: unknown;
}

export interface ContextManagerOptions {
  docker: Docker;
  log: Logger;
  store: ContextStore;
  /** Where snapshot files are kept, one tar per content hash (asked for when first needed). */
  dir: () => string;
  /** The container spec of a family container for a language, resources and tier (default: the operator's). */
  spec: (language: Language, resources: ExecuteRequest['resources'], isolation?: Isolation) => ContainerSpec;
  maxOutputBytes: number;
  /** Per-owner quotas (absent: none): family containers, live contexts, bytes of snapshot files on disk. */
  quotas?: { familyContainers: number; contexts: number; snapshotBytes: number };
  /** Largest frame accepted from a family agent (FAAS_MAX_FRAME_BYTES). */
  maxFrameBytes?: number;
}

export class ContextManager {
  private readonly families = new Map<string, SandboxContainer>();
  /** When each context last ran something (contexts not seen since this process started count from its start). */
  private readonly lastUsed = new Map<string, number>();
  private readonly startedAt = Date.now();
  private readonly chains = new Map<string, Promise<unknown>>();
  private endingIdle = false;
  private readonly adopting = new Map<string, Promise<SandboxContainer | null>>();
  /** Family containers being started per owner (not in the records yet). */
  private readonly startingFamilies = new Map<Owner, number>();

  /** Snapshot files on disk, once per owner and content hash. */
  private readonly files: SnapshotFileStore;

  constructor(private readonly o: ContextManagerOptions) {
    this.files = new SnapshotFileStore(o.dir);
  }

  /**
   * Family containers of operator processes that are gone and that no record refers to any
   * more (a lost database, a crash mid-create). Those a record names are kept: their contexts
   * and snapshots live on.
   */
  async removeStrays(ownerPidLabel: string): Promise<void> {
    const list = await this.o.docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`, `${ROLE_LABEL}=${FAMILY_ROLE}`] } });
    const stray = list.filter((c) => {
      if (this.o.store.contextsOf(c.Id).length > 0 || this.o.store.snapshotsIn(c.Id).length > 0) return false;
      const pid = Number(c.Labels[ownerPidLabel]);
      if (!pid) return false;
      try {
        process.kill(pid, 0);
        return false; // another live operator's
      } catch {
        return true;
      }
    });
    await Promise.all(stray.map((c) => this.o.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    if (stray.length) this.o.log.info({ removed: stray.length }, 'removed family containers nothing refers to');
  }

  /**
   * Throws QUOTA_EXCEEDED when the owner may not have one more context (FAAS_KEY_MAX_CONTEXTS)
   * or, with `newFamily`, one more family container (FAAS_KEY_MAX_FAMILY_CONTAINERS).
   */
  admitContext(owner: Owner, newFamily: boolean): void {
    const q = this.o.quotas;
    if (!q) return;
    const contexts = this.o.store.contextCount(owner);
    if (contexts >= q.contexts) {
      throw new QuotaExceededError('contexts', `this key has ${contexts} live stateful contexts (at most ${q.contexts}); contexts idle for FAAS_CONTEXT_IDLE_MS end by themselves`);
    }
    if (newFamily) this.admitFamily(owner);
  }

  private admitFamily(owner: Owner): void {
    const q = this.o.quotas;
    if (!q) return;
    const families = this.o.store.familiesOf(owner).length + (this.startingFamilies.get(owner) ?? 0);
    if (families >= q.familyContainers) {
      throw new QuotaExceededError('familyContainers', `this key has ${families} family containers (stateful contexts made by an execute, at most ${q.familyContainers}); delete snapshots and let idle contexts end, or run more code in an existing context (executionId)`);
    }
  }

  /** Throws QUOTA_EXCEEDED when `more` bytes of snapshot files would take the owner over FAAS_KEY_MAX_SNAPSHOT_BYTES. */
  private admitSnapshotBytes(owner: Owner, more: number): void {
    const q = this.o.quotas;
    if (!q) return;
    const used = this.files.bytesOf(owner);
    if (used + more > q.snapshotBytes || used >= q.snapshotBytes) {
      throw new QuotaExceededError('snapshotBytes', `this key's snapshot files take ${used} bytes${more ? `, this snapshot ${more} more` : ''} (at most ${q.snapshotBytes}); delete snapshots first`);
    }
  }

  /** Starts a family container for an owner within its quota (counted while it starts). */
  private async startFamilyFor(owner: Owner, language: Language, resources?: ExecuteRequest['resources'], isolation?: Isolation): Promise<SandboxContainer> {
    this.admitFamily(owner);
    this.startingFamilies.set(owner, (this.startingFamilies.get(owner) ?? 0) + 1);
    try {
      return await this.startFamily(language, resources, isolation);
    } finally {
      const n = (this.startingFamilies.get(owner) ?? 1) - 1;
      if (n > 0) this.startingFamilies.set(owner, n);
      else this.startingFamilies.delete(owner);
    }
  }

  /** The language of an owner's context; undefined when it has none by that id. */
  languageOf(owner: Owner, executionId: string): Language | undefined {
    const rec = this.o.store.context(executionId);
    return rec && rec.owner === owner ? (rec.language as Language) : undefined;
  }

  /** Runs a request in a stateful context: the one `executionId` names, or a new one. */
  async execute(req: ExecuteRequest, owner: Owner, runId: string, base: Omit<ExecMessage, 'context'>): Promise<ExecuteResult> {
    let family: SandboxContainer;
    let context: ExecMessage['context'];
    if (req.executionId !== undefined) {
      const rec = this.o.store.context(req.executionId);
      if (!rec || rec.owner !== owner) throw new NotFoundError('execution context', req.executionId);
      if (rec.language !== req.language) {
        throw new ValidationError('language', `execution context ${req.executionId} runs ${rec.language}, not ${req.language}`);
      }
      family = await this.mustFamily(rec.family, `execution context ${req.executionId}`);
      context = { id: rec.id };
      this.o.store.addAlias(runId, rec.id);
    } else {
      this.admitContext(owner, true);
      family = await this.startFamilyFor(owner, req.language, req.resources, req.isolation);
      this.o.store.addContext({
        id: runId,
        owner,
        family: family.container.id,
        language: req.language,
        // The tier goes with the resources: a lineage loaded into a new family keeps it.
        resources: JSON.stringify(req.isolation ? { ...req.resources, isolation: req.isolation } : req.resources),
        snapshotId: null,
        createdAt: Date.now(),
      });
      context = { id: runId, create: true, diskMb: req.resources.diskMb };
    }
    const ctxId = context.id;
    this.lastUsed.set(ctxId, Date.now());
    // One thing at a time per context, queued here: the agent's time limit then starts when
    // the program does, and a family container is never removed for a queued request.
    const { r, ms } = await this.serial(ctxId, async () => {
      const t0 = performance.now();
      const res = await family.exec({ ...base, id: runId, context }, undefined, { removeOnTimeout: false });
      return { r: res, ms: performance.now() - t0 };
    }).finally(() => this.lastUsed.set(ctxId, Date.now()));
    return {
      executionId: runId,
      stdout: Buffer.from(r.stdout, 'base64').toString('utf8'),
      stderr: Buffer.from(r.stderr, 'base64').toString('utf8'),
      exitCode: r.exitCode,
      durationMs: Math.round(ms * 1000) / 1000,
      truncated: r.truncated,
      timedOut: r.timedOut,
      oomKilled: r.oomKilled,
      compileError: r.compileError === true,
      // The family's cgroup is shared by its contexts: the context's own rusage is its bill.
      usage: { cpuSeconds: Math.round(r.cpuSeconds * 1e6) / 1e6, memoryPeakMb: r.memoryPeakMb },
    };
  }

  /** Runs `fn` after everything queued on this context before it. */
  private serial<T>(contextId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.chains.get(contextId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(contextId, tail);
    void tail.then(() => {
      if (this.chains.get(contextId) === tail) this.chains.delete(contextId);
    });
    return run;
  }

  async createSnapshot(owner: Owner, executionId: string): Promise<SnapshotInfo> {
    const rec = this.o.store.context(executionId);
    if (!rec || rec.owner !== owner) throw new NotFoundError('execution context', executionId);
    this.admitSnapshotBytes(owner, 0);
    const family = await this.mustFamily(rec.family, `execution context ${executionId}`);
    const id = `snap_${randomUUID()}`;
    const diskMb = (JSON.parse(rec.resources) as { diskMb: number }).diskMb;
    const r = await this.serial(rec.id, () => family.request<ContextReply>({ op: 'snapshot', context: rec.id, snapshot: id, diskMb }, 120_000));
    await this.keepFiles(family, owner, id, r.contentHash);
    const snap: SnapshotRecord = {
      id,
      owner,
      executionId: rec.id,
      family: rec.family,
      language: rec.language,
      createdAt: Date.now(),
      sizeBytes: r.sizeBytes,
      hasMemory: r.hasMemory,
      contentHash: r.contentHash,
      baseSnapshotId: null,
    };
    this.o.store.addSnapshot(snap);
    return snapshotInfo(snap);
  }

  /**
   * Writes a snapshot's files to the store once per owner and content hash (equal trees of one
   * owner share a file). Per owner: the hash is reported from inside the sandbox, where code
   * of that owner runs, so a tree stored under it is trusted only by that owner.
   */
  private async keepFiles(family: SandboxContainer, owner: Owner, snapshotId: string, contentHash: string): Promise<void> {
    try {
      await this.files.write(
        owner,
        contentHash,
        (offset) => family.request<TarSlice>({ op: 'files', snapshot: snapshotId, offset, limit: SNAPSHOT_CHUNK_BYTES }, 300_000),
        (size) => this.admitSnapshotBytes(owner, size), // over the quota: not kept (dropped below)
      );
    } catch (err) {
      // Not kept, so not recorded: the agent lets go of the snapshot too (no holder without a record).
      await family.request({ op: 'drop_snapshot', snapshot: snapshotId }).catch(() => undefined);
      throw err;
    }
  }

  /** A snapshot's files as the tar kept on disk (for an instance started from it). */
  snapshotFiles(owner: Owner, snapshotId: string): Buffer {
    const snap = this.ownSnapshot(owner, snapshotId);
    try {
      return this.files.read(owner, snap.contentHash);
    } catch {
      throw new NotFoundError('snapshot files', snapshotId);
    }
  }

  /** Bytes the snapshot's files take in the store. */
  storedBytes(owner: Owner, contentHash: string): number {
    return this.files.size(owner, contentHash);
  }

  getSnapshot(owner: Owner, snapshotId: string): SnapshotInfo {
    return snapshotInfo(this.ownSnapshot(owner, snapshotId));
  }

  listSnapshots(owner: Owner): SnapshotInfo[] {
    return this.o.store.snapshotsOf(owner).map(snapshotInfo);
  }

  private ownSnapshot(owner: Owner, snapshotId: string): SnapshotRecord {
    const snap = typeof snapshotId === 'string' ? this.o.store.snapshot(snapshotId) : null;
    if (!snap || snap.owner !== owner) throw new NotFoundError('snapshot', String(snapshotId));
    return snap;
  }

  async restoreSnapshot(owner: Owner, snapshotId: string): Promise<RestoreInfo> {
    const snap = this.ownSnapshot(owner, snapshotId);
    return this.contextFrom(snap, `ctx_${randomUUID()}`);
  }

  async createBranch(owner: Owner, snapshotId: string): Promise<BranchInfo> {
    const snap = this.ownSnapshot(owner, snapshotId);
    const restored = await this.contextFrom(snap, `ctx_${randomUUID()}`);
    const id = `br_${randomUUID()}`;
    this.o.store.addBranch({ id, owner, snapshotId: snap.id, executionId: restored.executionId, createdAt: Date.now() });
    return { id, ...restored };
  }

  private async contextFrom(snap: SnapshotRecord, contextId: string): Promise<RestoreInfo> {
    this.admitContext(snap.owner, false);
    const family = await this.familyOf(snap);
    const resources = this.o.store.context(snap.executionId)?.resources ?? JSON.stringify({ diskMb: 256, memoryMb: 256, cpuCores: 1, timeoutMs: 30_000, gpuCount: 0 });
    const diskMb = (JSON.parse(resources) as { diskMb: number }).diskMb;
    const r = await family.request<{ hasMemory: boolean }>({ op: 'branch', snapshot: snap.id, context: contextId, language: snap.language, diskMb }, 60_000);
    this.o.store.addContext({
      id: contextId,
      owner: snap.owner,
      family: family.container.id,
      language: snap.language,
      resources,
      snapshotId: snap.id,
      createdAt: Date.now(),
    });
    return { executionId: contextId, snapshotId: snap.id, hasMemory: r.hasMemory };
  }

  async mergeBranches(owner: Owner, branchIds: unknown, strategyIn: unknown = 'fail'): Promise<MergeInfo> {
    if (!Array.isArray(branchIds) || branchIds.length < 2 || !branchIds.every((b) => typeof b === 'string')) {
      throw new ValidationError('branchIds', 'give the ids of two or more branches of one snapshot');
    }
    const strategy = strategyIn ?? 'fail';
    if (strategy !== 'fail' && strategy !== 'ours' && strategy !== 'theirs') {
      throw new ValidationError('strategy', "must be 'fail' (the default), 'ours' or 'theirs'");
    }
    const branches = (branchIds as string[]).map((id) => {
      const b = this.o.store.branch(id);
      if (!b || b.owner !== owner) throw new NotFoundError('branch', id);
      return b;
    });
    const bases = [...new Set(branches.map((b) => b.snapshotId))];
    if (bases.length > 1) {
      throw new ValidationError('branchIds', `branches of different snapshots (${bases.join(', ')}) cannot be merged: a merge needs their common snapshot`);
    }
    const base = this.ownSnapshot(owner, bases[0]!);
    const contexts = branches.map((b) => this.o.store.context(b.executionId));
    if (contexts.some((c) => !c || c.family !== base.family)) {
      throw new ValidationError('branchIds', 'a branch was lost (its sandbox is gone); only live branches can be merged');
    }
    this.admitSnapshotBytes(owner, 0);
    const family = await this.mustFamily(base.family, `snapshot ${base.id}`);
    const id = `snap_${randomUUID()}`;
    const r = await family.request<ContextReply & { created: boolean; conflicts: string[]; summary: MergeInfo['summary'] }>(
      { op: 'merge', base: base.id, contexts: contexts.map((c) => c!.id), snapshot: id, strategy },
      300_000,
    );
    if (!r.created) throw new MergeConflictError(r.conflicts);
    await this.keepFiles(family, owner, id, r.contentHash);
    const snap: SnapshotRecord = {
      id,
      owner,
      executionId: base.executionId,
      family: base.family,
      language: base.language,
      createdAt: Date.now(),
      sizeBytes: r.sizeBytes,
      hasMemory: base.hasMemory,
      contentHash: r.contentHash,
      baseSnapshotId: base.id,
    };
    this.o.store.addSnapshot(snap);
    return { ...snapshotInfo(snap), memoryFrom: 'base', strategy, conflicts: r.conflicts, summary: r.summary, branchIds: branchIds as string[] };
  }

  async deleteSnapshot(owner: Owner, snapshotId: string): Promise<void> {
    const snap = this.ownSnapshot(owner, snapshotId);
    const family = await this.family(snap.family);
    if (family) await family.request({ op: 'drop_snapshot', snapshot: snap.id }).catch(() => undefined);
    this.o.store.removeSnapshot(snap.id);
    if (this.o.store.countByHash(owner, snap.contentHash) === 0) this.files.remove(owner, snap.contentHash);
    await this.dropFamilyIfUnused(snap.family);
  }

  /** Ends contexts that ran nothing for `idleMs` (their snapshots stay). */
  async endIdle(idleMs: number): Promise<number> {
    if (this.endingIdle) return 0; // the last sweep is still at work
    this.endingIdle = true;
    try {
      return await this.endIdleNow(idleMs);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'the idle-context sweep failed');
      return 0;
    } finally {
      this.endingIdle = false;
    }
  }

  private async endIdleNow(idleMs: number): Promise<number> {
    const cutoff = Date.now() - idleMs;
    const idle = this.o.store.allContexts().filter((c) => (this.lastUsed.get(c.id) ?? Math.max(c.createdAt, this.startedAt)) < cutoff);
    for (const c of idle) {
      await this.dropContext(c.owner, c.id).catch((err: Error) => this.o.log.warn({ err: err.message, context: c.id }, 'could not end an idle context'));
      this.lastUsed.delete(c.id);
    }
    if (idle.length) this.o.log.info({ ended: idle.length }, 'ended idle stateful contexts');
    return idle.length;
  }

  /** Ends a context (its snapshots stay). */
  async dropContext(owner: Owner, executionId: string): Promise<void> {
    const rec = this.o.store.context(executionId);
    if (!rec || rec.owner !== owner) throw new NotFoundError('execution context', executionId);
    const family = await this.family(rec.family);
    if (family) await family.request({ op: 'drop_context', context: rec.id }).catch(() => undefined);
    this.o.store.removeContext(rec.id);
    await this.dropFamilyIfUnused(rec.family);
  }

  private async dropFamilyIfUnused(familyId: string): Promise<void> {
    if (this.o.store.contextsOf(familyId).length > 0 || this.o.store.snapshotsIn(familyId).length > 0) return;
    const c = this.families.get(familyId);
    this.families.delete(familyId);
    if (c) await c.destroy();
    else await this.o.docker.getContainer(familyId).remove({ force: true }).catch(() => undefined);
  }

  /** The family container a snapshot is in, or a new one its files are loaded into. */
  private async familyOf(snap: SnapshotRecord): Promise<SandboxContainer> {
    const alive = await this.family(snap.family);
    if (alive) {
      const { snapshots } = await alive.request<{ snapshots: string[] }>({ op: 'list' });
      if (snapshots.includes(snap.id)) return alive;
    }
    if (!this.files.has(snap.owner, snap.contentHash)) throw new NotFoundError('snapshot', snap.id);
    const owner = this.o.store.context(snap.executionId);
    const kept = owner ? (JSON.parse(owner.resources) as ExecuteRequest['resources'] & { isolation?: Isolation }) : undefined;
    const { isolation, ...resources } = kept ?? {};
    const family = await this.startFamilyFor(snap.owner, snap.language as Language, kept ? (resources as ExecuteRequest['resources']) : undefined, isolation);
    const tar = this.files.read(snap.owner, snap.contentHash);
    for (let offset = 0; offset < tar.length; offset += SNAPSHOT_CHUNK_BYTES) {
      const data = tar.subarray(offset, offset + SNAPSHOT_CHUNK_BYTES).toString('base64');
      await family.request({ op: 'load_part', snapshot: snap.id, offset, data }, 300_000);
    }
    await family.request({ op: 'load', snapshot: snap.id, parts: true, language: snap.language }, 300_000);
    this.o.store.moveSnapshot(snap.id, family.container.id);
    snap.family = family.container.id;
    snap.hasMemory = false;
    this.o.log.info({ snapshot: snap.id }, 'snapshot loaded from its files into a new family container (memory state was lost with the old one)');
    return family;
  }

  private async startFamily(language: Language, resources?: ExecuteRequest['resources'], isolation?: Isolation): Promise<SandboxContainer> {
    const spec = this.o.spec(language, resources ?? ({ cpuCores: 1, memoryMb: 256, timeoutMs: 30_000, diskMb: 256, gpuCount: 0 } as ExecuteRequest['resources']), isolation);
    const c = await SandboxContainer.start(this.o.docker, containerOptions({ ...spec, uid: allocateSandboxUid() }), 'family', this.o.log, this.o.maxFrameBytes);
    this.families.set(c.container.id, c);
    return c;
  }

  private async mustFamily(id: string, what: string): Promise<SandboxContainer> {
    const c = await this.family(id);
    if (!c) throw new NotFoundError(`${what} (its sandbox is gone; restore a snapshot instead)`, id.slice(0, 12));
    return c;
  }

  /** The family container with this id, attached (again, after a restart), or null if gone. */
  private family(id: string): Promise<SandboxContainer | null> {
    const known = this.families.get(id);
    if (known?.alive) return Promise.resolve(known);
    let p = this.adopting.get(id);
    if (!p) {
      p = SandboxContainer.adopt(this.o.docker, id, 'family', this.o.log, this.o.maxFrameBytes)
        .then((c) => {
          this.families.set(id, c);
          return c;
        })
        .catch(() => null)
        .finally(() => this.adopting.delete(id));
      this.adopting.set(id, p);
    }
    return p;
  }

  /** Detaches from the family containers; they keep running for the next operator process. */
  detach(): void {
    for (const c of this.families.values()) c.detach();
    this.families.clear();
  }

  /** Removes every family container and stored file this manager's records name. */
  async purge(): Promise<void> {
    const list = await this.o.docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`, `${ROLE_LABEL}=${FAMILY_ROLE}`] } });
    const ours = list.filter((c) => this.o.store.contextsOf(c.Id).length > 0 || this.o.store.snapshotsIn(c.Id).length > 0 || this.families.has(c.Id));
    await Promise.all(ours.map((c) => this.o.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    this.families.clear();
  }

  /** Memory the family container of a context uses now, MiB (for the branch cost figure). */
  async familyMemoryMb(executionId: string): Promise<number | null> {
    const rec = this.o.store.context(executionId);
    const c = rec ? await this.family(rec.family) : null;
    if (!c) return null;
    const r = await c.request<{ memoryMb: number | null }>({ op: 'usage' });
    return r.memoryMb;
  }
}
