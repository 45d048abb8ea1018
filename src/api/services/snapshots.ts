// Snapshots, restores, branches and merges for API keys: the engine's stateful-context calls,
// scoped to the key (another key's ids are NOT_FOUND) and counted against its rate limit.
import type { SnapshotEngine } from '../../sandbox/index.js';
import type { BranchInfo, MergeInfo, MergeStrategy, RestoreInfo, SnapshotInfo } from '../../sandbox/index.js';
import type { ApiKey } from '../../store/index.js';
import type { CreditGuard } from './credit.js';

export class SnapshotService {
  /** `credit`: a key at or below zero balance may not snapshot, restore, branch or merge (reads stay allowed). */
  constructor(private readonly deps: { engine: SnapshotEngine; credit?: CreditGuard }) {}

  create(key: ApiKey, executionId: string): Promise<SnapshotInfo> {
    this.deps.credit?.require(key);
    return this.deps.engine.createSnapshot(key.id, executionId);
  }

  get(key: ApiKey, id: string): SnapshotInfo {
    return this.deps.engine.getSnapshot(key.id, id);
  }

  list(key: ApiKey): { snapshots: SnapshotInfo[] } {
    return { snapshots: this.deps.engine.listSnapshots(key.id) };
  }

  delete(key: ApiKey, id: string): Promise<void> {
    return this.deps.engine.deleteSnapshot(key.id, id);
  }

  restore(key: ApiKey, id: string): Promise<RestoreInfo> {
    this.deps.credit?.require(key);
    return this.deps.engine.restoreSnapshot(key.id, id);
  }

  branch(key: ApiKey, snapshotId: string): Promise<BranchInfo> {
    this.deps.credit?.require(key);
    return this.deps.engine.createBranch(key.id, snapshotId);
  }

  merge(key: ApiKey, branchIds: string[], strategy?: MergeStrategy): Promise<MergeInfo> {
    this.deps.credit?.require(key);
    return this.deps.engine.mergeBranches(key.id, branchIds, strategy);
  }
}

/** Whether an engine can do snapshots (the Docker engine can; a stand-in may not). */
export function hasSnapshots(engine: object): engine is SnapshotEngine {
  return typeof (engine as Partial<SnapshotEngine>).createSnapshot === 'function';
}
