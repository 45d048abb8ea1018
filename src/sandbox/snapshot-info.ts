// What the engine answers about snapshots, restores, branches and merges of stateful contexts.
import type { SnapshotRecord } from '../store/index.js';

export type MergeStrategy = 'fail' | 'ours' | 'theirs';

export interface SnapshotInfo {
  id: string;
  /** The context it was taken of. */
  executionId: string;
  createdAt: string;
  /** Bytes of its files. */
  sizeBytes: number;
  /** Whether restoring it brings back the interpreter's memory (python), not only files. */
  hasMemory: boolean;
  /** sha256 over the file tree (paths, kinds, modes, contents): equal trees, equal hash. */
  contentHash: string;
  language: string;
  /** For a merge: the snapshot its branches came from. */
  baseSnapshotId?: string;
}

export interface RestoreInfo {
  /** The new context: pass it as `executionId` to run code in it. */
  executionId: string;
  snapshotId: string;
  hasMemory: boolean;
}

export interface BranchInfo extends RestoreInfo {
  id: string;
}

export interface MergeInfo extends SnapshotInfo {
  /** Memory cannot be merged: the merged snapshot has the base snapshot's memory. */
  memoryFrom: 'base';
  strategy: MergeStrategy;
  /** Paths the branches changed differently (resolved by the strategy). */
  conflicts: string[];
  /** Files added, changed and deleted against the base. */
  summary: { added: number; changed: number; deleted: number };
  branchIds: string[];
}

/** A snapshot's record as the engine answers it. */
export function snapshotInfo(s: SnapshotRecord): SnapshotInfo {
  return {
    id: s.id,
    executionId: s.executionId,
    createdAt: new Date(s.createdAt).toISOString(),
    sizeBytes: s.sizeBytes,
    hasMemory: s.hasMemory,
    contentHash: s.contentHash,
    language: s.language,
    ...(s.baseSnapshotId ? { baseSnapshotId: s.baseSnapshotId } : {}),
  };
}
