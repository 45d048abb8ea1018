// planSync without an instance: one-way makes the target equal the source, two-way tells a
// deletion from a new file by the last sync's state, and a file changed on both sides goes to
// the newer one (reported as a conflict).
import { describe, expect, it } from 'vitest';
import type { FileMeta } from './files.js';
import { planSync, same } from './sync.js';

const file = (size: number, mtimeMs: number): FileMeta => ({ type: 'file', size, mtimeMs, mode: 0o644 });
const dir = (mtimeMs = 0): FileMeta => ({ type: 'dir', size: 0, mtimeMs, mode: 0o755 });
const link = (target: string): FileMeta => ({ type: 'symlink', size: 0, mtimeMs: 0, mode: 0o777, target });
const tree = (o: Record<string, FileMeta>) => new Map(Object.entries(o));

describe('same', () => {
  it('compares files by size and mtime to the millisecond, links by target, directories by type', () => {
    expect(same(file(3, 1000), file(3, 1000.4))).toBe(true);
    expect(same(file(3, 1000), file(3, 1001))).toBe(false);
    expect(same(file(3, 1000), file(4, 1000))).toBe(false);
    expect(same(dir(1), dir(2))).toBe(true);
    expect(same(link('a'), link('b'))).toBe(false);
    expect(same(file(0, 0), dir(0))).toBe(false);
    expect(same(undefined, file(1, 1))).toBe(false);
  });
});

describe('planSync one-way', () => {
  it('upload: sends new and changed files, deletes what only the remote has, leaves equal files', () => {
    const local = tree({ 'a.txt': file(1, 10), 'b.txt': file(2, 20), src: dir(), 'src/m.py': file(5, 5) });
    const remote = tree({ 'a.txt': file(1, 10), 'b.txt': file(2, 99), 'old.txt': file(1, 1), src: dir() });
    const p = planSync(local, remote, { bidirectional: false, direction: 'upload', base: null });
    expect(p.upload).toEqual(['b.txt', 'src/m.py']);
    expect(p.download).toEqual([]);
    expect(p.deleteRemote).toEqual(['old.txt']);
    expect(p.deleteLocal).toEqual([]);
    expect(Object.keys(p.state).sort()).toEqual(['a.txt', 'b.txt', 'src', 'src/m.py']);
    expect(p.state['b.txt']).toEqual(file(2, 20));
  });

  it('download is the mirror image', () => {
    const local = tree({ 'gone.txt': file(1, 1), 'x.txt': file(1, 1) });
    const remote = tree({ 'x.txt': file(2, 2), 'y.txt': file(3, 3) });
    const p = planSync(local, remote, { bidirectional: false, direction: 'download', base: null });
    expect(p.download).toEqual(['x.txt', 'y.txt']);
    expect(p.deleteLocal).toEqual(['gone.txt']);
    expect(p.upload).toEqual([]);
    expect(p.deleteRemote).toEqual([]);
  });

  it('a path whose type differs is deleted on the target first, then sent', () => {
    const p = planSync(tree({ x: file(1, 1) }), tree({ x: dir(), 'x/in': file(1, 1) }), { bidirectional: false, direction: 'upload', base: null });
    expect(p.upload).toEqual(['x']);
    // the directory goes with what is in it: only the top-most path is listed
    expect(p.deleteRemote).toEqual(['x']);
  });
});

describe('planSync two-way', () => {
  it('without a base every difference is a conflict won by the newer side', () => {
    const p = planSync(tree({ f: file(1, 200) }), tree({ f: file(2, 100) }), { bidirectional: true, direction: 'upload', base: null });
    expect(p.upload).toEqual(['f']);
    expect(p.conflicts).toEqual([{ path: 'f', winner: 'local' }]);
  });

  it('with a base: a change on one side goes across without a conflict', () => {
    const base = { f: file(1, 100), g: file(1, 100) };
    const p = planSync(tree({ f: file(9, 300), g: file(1, 100) }), tree({ f: file(1, 100), g: file(7, 50) }), { bidirectional: true, direction: 'upload', base });
    expect(p.upload).toEqual(['f']);
    expect(p.download).toEqual(['g']); // changed remotely, even though older than the base
    expect(p.conflicts).toEqual([]);
    expect(p.state).toEqual({ f: file(9, 300), g: file(7, 50) });
  });

  it('a file deleted on one side and unchanged on the other is deleted; a new file is sent', () => {
    const base = { keep: file(1, 1), 'rm-remote': file(1, 1), 'rm-local': file(1, 1) };
    const local = tree({ keep: file(1, 1), 'rm-remote': file(1, 1), 'new-here': file(2, 2) });
    const remote = tree({ keep: file(1, 1), 'rm-local': file(1, 1), 'new-there': file(3, 3) });
    const p = planSync(local, remote, { bidirectional: true, direction: 'upload', base });
    expect(p.deleteLocal).toEqual(['rm-remote']);
    expect(p.deleteRemote).toEqual(['rm-local']);
    expect(p.upload).toEqual(['new-here']);
    expect(p.download).toEqual(['new-there']);
    expect(Object.keys(p.state).sort()).toEqual(['keep', 'new-here', 'new-there']);
  });

  it('a deletion loses to a change on the other side', () => {
    const base = { f: file(1, 1) };
    const p = planSync(tree({}), tree({ f: file(5, 9) }), { bidirectional: true, direction: 'upload', base });
    expect(p.download).toEqual(['f']);
    expect(p.deleteRemote).toEqual([]);
  });

  it('a directory is deleted only when everything under it goes too, and a kept one stays in the state', () => {
    const base = { d: dir(), 'd/a': file(1, 1), 'd/b': file(1, 1) };
    // remote deleted d/a only; local still has d with d/a and d/b, unchanged
    const local = tree({ d: dir(), 'd/a': file(1, 1), 'd/b': file(1, 1) });
    const remote = tree({ d: dir(), 'd/b': file(1, 1) });
    const p = planSync(local, remote, { bidirectional: true, direction: 'upload', base });
    expect(p.deleteLocal).toEqual(['d/a']);
    expect(p.state).toHaveProperty('d');
    // both children gone remotely: the directory goes, listed once as the top-most path
    const gone = planSync(tree({ d: dir(), 'd/a': file(1, 1) }), tree({}), { bidirectional: true, direction: 'upload', base: { d: dir(), 'd/a': file(1, 1) } });
    expect(gone.deleteLocal).toEqual(['d']);
  });
});
