// Snapshot files on the operator's disk: one tar per owner and content hash (equal trees of one
// owner share a file). Per owner: the hash is reported from inside the sandbox, where code of
// that owner runs, so a tree stored under it is trusted only by that owner.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SandboxError } from '@faas/sdk/errors';
import { SNAPSHOT_CHUNK_BYTES } from './protocol.js';
import type { Owner } from './types.js';

/** One slice of a snapshot's tar as the family agent sends it. */
export type TarSlice = { tar: string; size: number };

export class SnapshotFileStore {
  private made: string | null = null;

  /** `dir`: where the files go, asked for when first needed (a throw-away engine makes a temporary one). */
  constructor(private readonly dirOf: () => string) {}

  private dir(): string {
    if (this.made === null) {
      this.made = this.dirOf();
      mkdirSync(this.made, { recursive: true });
    }
    return this.made;
  }

  private ownerDir(owner: Owner): string {
    return join(this.dir(), createHash('sha256').update(owner).digest('hex').slice(0, 32));
  }

  /** The file of an owner's tree; a malformed hash (it comes from the sandbox) is refused. */
  path(owner: Owner, contentHash: string): string {
    if (!/^[0-9a-f]{64}$/.test(contentHash)) throw new SandboxError('the sandbox answered a malformed content hash');
    return join(this.ownerDir(owner), `${contentHash}.tar`);
  }

  has(owner: Owner, contentHash: string): boolean {
    return existsSync(this.path(owner, contentHash));
  }

  /** The tar; throws when it is not there. */
  read(owner: Owner, contentHash: string): Buffer {
    return readFileSync(this.path(owner, contentHash));
  }

  remove(owner: Owner, contentHash: string): void {
    rmSync(this.path(owner, contentHash), { force: true });
  }

  /** Bytes one tree takes (0 when not stored). */
  size(owner: Owner, contentHash: string): number {
    try {
      return statSync(this.path(owner, contentHash)).size;
    } catch {
      return 0;
    }
  }

  /** Bytes of snapshot files the owner holds on disk. */
  bytesOf(owner: Owner): number {
    const dir = this.ownerDir(owner);
    let n = 0;
    try {
      for (const f of readdirSync(dir)) if (f.endsWith('.tar')) n += statSync(join(dir, f)).size;
    } catch {
      return 0;
    }
    return n;
  }

  /**
   * Stores a tree once: read in slices of SNAPSHOT_CHUNK_BYTES (no frame holds the whole tar;
   * the host caps frames), written to a temporary file and renamed into place. `admit` is told
   * the whole size with the first slice and may throw (over a quota: nothing is kept).
   */
  async write(owner: Owner, contentHash: string, slice: (offset: number) => Promise<TarSlice>, admit: (size: number) => void): Promise<void> {
    const file = this.path(owner, contentHash);
    mkdirSync(dirname(file), { recursive: true });
    if (existsSync(file)) return;
    const tmp = `${file}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      for (let offset = 0; ; ) {
        const part = await slice(offset);
        const bytes = Buffer.from(part.tar, 'base64');
        if (typeof part.size !== 'number' || bytes.length > SNAPSHOT_CHUNK_BYTES || (bytes.length === 0 && offset < part.size)) {
          throw new SandboxError('the sandbox answered a malformed slice of snapshot files');
        }
        if (offset === 0) admit(part.size);
        writeSync(fd, bytes);
        offset += bytes.length;
        if (offset >= part.size) break;
      }
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }
}
