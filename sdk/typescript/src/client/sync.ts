// The plan of a file sync between a local tree and an instance's: what to upload, download and
// delete on either side. One-way makes the target equal the source (deletions included);
// two-way compares both sides with the state of the last sync (kept on the caller's machine),
// so a side's deletion is told apart from the other side's new file; when both sides changed a
// file the newer one wins. Pure: the SDK lists, plans, then moves.
import type { FileMeta } from './files.js';

export type SyncDirection = 'upload' | 'download';

export interface SyncPlan {
  upload: string[];
  download: string[];
  deleteRemote: string[];
  deleteLocal: string[];
  conflicts: Array<{ path: string; winner: 'local' | 'remote' }>;
  /** What both sides hold after the sync (the next two-way sync's base). */
  state: Record<string, FileMeta>;
}

/** Same content as far as sync can tell: type, size and modification time (to the millisecond), or link target. */
export function same(a: FileMeta | undefined, b: FileMeta | undefined): boolean {
  if (!a || !b || a.type !== b.type) return false;
  if (a.type === 'dir') return true;
  if (a.type === 'symlink') return a.target === b.target;
  return a.size === b.size && Math.abs(a.mtimeMs - b.mtimeMs) < 1;
}

/** Keeps only the top-most paths (a deleted directory takes what is in it along). */
function topMost(paths: string[]): string[] {
  const set = new Set(paths);
  return paths.filter((p) => {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) if (set.has(parts.slice(0, i).join('/'))) return false;
    return true;
  });
}

/** A directory may go only when everything under it on that side goes too. */
function dirsThatMayGo(dels: Set<string>, side: Map<string, FileMeta>): Set<string> {
  const out = new Set<string>();
  for (const p of dels) {
    if (side.get(p)?.type !== 'dir') {
      out.add(p);
      continue;
    }
    let ok = true;
    for (const q of side.keys()) if (q.startsWith(`${p}/`) && !dels.has(q)) ok = false;
    if (ok) out.add(p);
  }
  return out;
}

export function planSync(local: Map<string, FileMeta>, remote: Map<string, FileMeta>, o: { bidirectional: boolean; direction: SyncDirection; base: Record<string, FileMeta> | null }): SyncPlan {
  const upload: string[] = [];
  const download: string[] = [];
  let deleteRemote = new Set<string>();
  let deleteLocal = new Set<string>();
  const conflicts: SyncPlan['conflicts'] = [];
  const state: Record<string, FileMeta> = {};
  const paths = [...new Set([...local.keys(), ...remote.keys()])].sort();
  for (const p of paths) {
    const l = local.get(p);
    const r = remote.get(p);
    if (!o.bidirectional) {
      const [src, dst] = o.direction === 'upload' ? [l, r] : [r, l];
      if (src && same(src, dst)) state[p] = src;
      else if (src) {
        if (dst && dst.type !== src.type) (o.direction === 'upload' ? deleteRemote : deleteLocal).add(p);
        (o.direction === 'upload' ? upload : download).push(p);
        state[p] = src;
      } else if (dst) (o.direction === 'upload' ? deleteRemote : deleteLocal).add(p);
      continue;
    }
    const b = o.base?.[p];
    if (l && r) {
      if (same(l, r)) {
        state[p] = l;
        continue;
      }
      const lChanged = !b || !same(l, b);
      const rChanged = !b || !same(r, b);
      let winner: 'local' | 'remote';
      if (lChanged && !rChanged) winner = 'local';
      else if (rChanged && !lChanged) winner = 'remote';
      else {
        winner = l.mtimeMs >= r.mtimeMs ? 'local' : 'remote';
        conflicts.push({ path: p, winner });
      }
      if (l.type !== r.type) (winner === 'local' ? deleteRemote : deleteLocal).add(p);
      (winner === 'local' ? upload : download).push(p);
      state[p] = winner === 'local' ? l : r;
    } else if (l) {
      // Gone remotely since the last sync and unchanged here: the deletion wins; otherwise it is new (or changed) here.
      if (b && same(l, b)) deleteLocal.add(p);
      else {
        upload.push(p);
        state[p] = l;
      }
    } else if (r) {
      if (b && same(r, b)) deleteRemote.add(p);
      else {
        download.push(p);
        state[p] = r;
      }
    }
  }
  deleteRemote = dirsThatMayGo(deleteRemote, remote);
  deleteLocal = dirsThatMayGo(deleteLocal, local);
  // Kept directories stay in the state.
  for (const p of paths) {
    if (!(p in state)) {
      const keptR = remote.get(p)?.type === 'dir' && !deleteRemote.has(p) && local.has(p);
      const keptL = local.get(p)?.type === 'dir' && !deleteLocal.has(p) && remote.has(p);
      if (keptR || keptL) state[p] = (local.get(p) ?? remote.get(p))!;
    }
  }
  return {
    upload,
    download,
    deleteRemote: topMost([...deleteRemote].sort()),
    deleteLocal: topMost([...deleteLocal].sort()),
    conflicts,
    state,
  };
}
