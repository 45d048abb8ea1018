// The SDK's tar extraction (copyFiles / syncFiles downloads) against hostile archives, built
// here with Python's tarfile. No Docker: the archive is the attacker, the local disk the target.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractTar } from './files.js';
import { readTar, writeTar } from './tar.js';

/** A tar made by python3's tarfile; `body` calls add(name, type, data, linkname, mode, mtime). */
function pyTar(body: string): Buffer {
  const prog = `
import io, sys, tarfile
buf = io.BytesIO()
tf = tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT)
def add(name, type=tarfile.REGTYPE, data=b'', linkname='', mode=0o644, mtime=1700000000, devmajor=0, devminor=0):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.linkname = linkname
    ti.mode = mode
    ti.mtime = mtime
    ti.devmajor, ti.devminor = devmajor, devminor
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if type == tarfile.REGTYPE else None)
${body}
tf.close()
sys.stdout.buffer.write(buf.getvalue())
`;
  return execFileSync('python3', ['-c', prog], { maxBuffer: 16 << 20 });
}

let work: string;
let target: string;
let outside: string;

/** Everything under a directory (relative paths), to show nothing appeared there. */
const tree = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : []);

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'faas-tar-'));
  target = join(work, 'target');
  outside = join(work, 'outside');
  mkdirSync(target);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'untouched');
  chmodSync(outside, 0o755);
});

afterEach(() => {
  rmSync(work, { recursive: true, force: true });
});

/** The target is still a real directory and nothing outside it changed. */
function assertContained(): void {
  expect(lstatSync(target).isDirectory()).toBe(true);
  expect(lstatSync(target).isSymbolicLink()).toBe(false);
  expect(tree(outside)).toEqual(['secret']);
  expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('untouched');
  expect(statSync(outside).mode & 0o7777).toBe(0o755);
  expect(readdirSync(work).sort()).toEqual(['outside', 'target']);
}

const extract = (tar: Buffer, opts?: Parameters<typeof extractTar>[2], root = target) => extractTar(Readable.from([tar]), root, opts);

describe('extractTar against hostile archives', () => {
  it('refuses `a/..` (the target itself), so the target cannot become a link', async () => {
    const tar = pyTar(`add('a/..', tarfile.SYMTYPE, linkname=${JSON.stringify(outside)})\nadd('x', data=b'pwned')`);
    await expect(extract(tar)).rejects.toThrow(/refusing tar entry "a\/\.\."/);
    assertContained();
    const dot = pyTar(`add('a/../', tarfile.DIRTYPE, mode=0o777)`);
    await expect(extract(dot)).rejects.toThrow(/refusing/);
    expect(statSync(target).mode & 0o777).not.toBe(0o777);
  });

  it('refuses `../x`, `a/../../x` and absolute paths', async () => {
    for (const name of ['../x', 'a/../../x', join(outside, 'x'), '/etc/../' + join(outside, 'x').slice(1)]) {
      await expect(extract(pyTar(`add(${JSON.stringify(name)}, data=b'pwned')`))).rejects.toThrow(/refusing tar entry/);
      assertContained();
    }
  });

  it('never writes through a symbolic link made earlier in the same archive', async () => {
    const tar = pyTar(`add('l', tarfile.SYMTYPE, linkname=${JSON.stringify(outside)})\nadd('l/x', data=b'pwned')`);
    await expect(extract(tar)).rejects.toThrow(/symbolic link/);
    expect(readlinkSync(join(target, 'l'))).toBe(outside);
    assertContained();
    // A relative link and a directory entry under it.
    rmSync(join(target, 'l'));
    const rel = pyTar(`add('d', tarfile.DIRTYPE)\nadd('d/up', tarfile.SYMTYPE, linkname='../../outside')\nadd('d/up/sub', tarfile.DIRTYPE, mode=0o777)`);
    await expect(extract(rel)).rejects.toThrow(/symbolic link/);
    assertContained();
  });

  it('never writes through a symbolic link already in the target', async () => {
    symlinkSync(outside, join(target, 'l'));
    await expect(extract(pyTar(`add('l/secret', data=b'pwned')`))).rejects.toThrow(/symbolic link/);
    assertContained();
    // A file entry at the link's own path replaces the link, not what it points to.
    symlinkSync(join(outside, 'secret'), join(target, 'f'));
    await extract(pyTar(`add('f', data=b'mine')`));
    expect(readFileSync(join(target, 'f'), 'utf8')).toBe('mine');
    expect(lstatSync(join(target, 'f')).isFile()).toBe(true);
    assertContained();
  });

  it('refuses a symbolic link named like the copy itself (copyFiles)', async () => {
    // copyFiles extracts into the parent with the copy's name as `self`.
    const copy = join(target, 'copy');
    const tar = pyTar(`add('src', tarfile.SYMTYPE, linkname=${JSON.stringify(outside)})\nadd('src/x', data=b'pwned')`);
    const opts = { rename: (n: string) => (n === 'src' ? 'copy' : n.startsWith('src/') ? `copy/${n.slice(4)}` : null), self: 'copy' };
    await expect(extract(tar, opts)).rejects.toThrow(/replace the target by a symbolic link/);
    expect(existsSync(copy)).toBe(false);
    assertContained();
    // Entries the rename leaves out are skipped, and `src/..` cannot reach the parent.
    await expect(extract(pyTar(`add('src/..', tarfile.SYMTYPE, linkname=${JSON.stringify(outside)})`), opts)).rejects.toThrow(/refusing/);
    assertContained();
  });

  it('skips hard links and device files, and does not write through an existing hard link', async () => {
    const tar = pyTar(
      [
        `add('h', tarfile.LNKTYPE, linkname=${JSON.stringify(join(outside, 'secret'))})`,
        `add('h2', tarfile.LNKTYPE, linkname='../outside/secret')`,
        `add('null', tarfile.CHRTYPE, devmajor=1, devminor=3)`,
        `add('blk', tarfile.BLKTYPE, devmajor=8, devminor=0)`,
        `add('fifo', tarfile.FIFOTYPE)`,
        `add('ok', data=b'fine')`,
      ].join('\n'),
    );
    const r = await extract(tar);
    expect(r.entries).toEqual(['ok']);
    expect(tree(target)).toEqual(['ok']);
    assertContained();
    // A file already hard-linked to something outside is replaced, not written into.
    linkSync(join(outside, 'secret'), join(target, 'hl'));
    await extract(pyTar(`add('hl', data=b'pwned')`));
    expect(readFileSync(join(target, 'hl'), 'utf8')).toBe('pwned');
    assertContained();
  });

  it('refuses duplicate entries that would turn a directory into a link (also before the final chmod)', async () => {
    const tar = pyTar(`add('d', tarfile.DIRTYPE, mode=0o700)\nadd('d', tarfile.SYMTYPE, linkname=${JSON.stringify(outside)})\nadd('d/x', data=b'pwned')`);
    await expect(extract(tar)).rejects.toThrow(/second entry/);
    assertContained();
    rmSync(target, { recursive: true });
    mkdirSync(target);
    // A directory implied by a file, then replaced by a link: refused too.
    const implied = pyTar(`add('e/f', data=b'x')\nadd('e', tarfile.SYMTYPE, linkname=${JSON.stringify(outside)})\nadd('e/g', data=b'pwned')`);
    await expect(extract(implied)).rejects.toThrow(/directory this archive wrote into/);
    expect(lstatSync(join(target, 'e')).isDirectory()).toBe(true);
    assertContained();
    // A file, then a file under it.
    await expect(extract(pyTar(`add('g', data=b'x')\nadd('g/h', data=b'y')`))).rejects.toThrow(/not a directory/);
    assertContained();
  });

  it('drops set-user-id and set-group-id bits', async () => {
    await extract(pyTar(`add('s', data=b'#!/bin/sh', mode=0o6755)`));
    expect(statSync(join(target, 's')).mode & 0o7777).toBe(0o755);
  });

  it('still unpacks an ordinary archive: files, modes, times, links (kept, not followed) and directories', async () => {
    const tar = pyTar(
      [
        `add('dir', tarfile.DIRTYPE, mode=0o750, mtime=1600000000)`,
        `add('dir/a.txt', data=b'hello', mode=0o640, mtime=1650000000)`,
        `add('dir/sub', tarfile.DIRTYPE, mode=0o755, mtime=1610000000)`,
        `add('dir/sub/b.bin', data=bytes(range(256)), mode=0o755)`,
        `add('dir/link', tarfile.SYMTYPE, linkname='a.txt')`,
        `add('dir/abs', tarfile.SYMTYPE, linkname='/etc/passwd')`,
        `add('./top.txt', data=b'top')`,
      ].join('\n'),
    );
    const r = await extract(tar);
    expect(r.files).toBe(3);
    expect(readFileSync(join(target, 'dir/a.txt'), 'utf8')).toBe('hello');
    expect(statSync(join(target, 'dir/a.txt')).mode & 0o777).toBe(0o640);
    expect(statSync(join(target, 'dir/a.txt')).mtimeMs).toBe(1650000000_000);
    expect(statSync(join(target, 'dir')).mode & 0o777).toBe(0o750);
    expect(statSync(join(target, 'dir')).mtimeMs).toBe(1600000000_000);
    expect(statSync(join(target, 'dir/sub')).mtimeMs).toBe(1610000000_000);
    expect(readFileSync(join(target, 'dir/sub/b.bin'))).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
    expect(readlinkSync(join(target, 'dir/link'))).toBe('a.txt');
    expect(readlinkSync(join(target, 'dir/abs'))).toBe('/etc/passwd');
    expect(readFileSync(join(target, 'top.txt'), 'utf8')).toBe('top');
    assertContained();
  });

  it('reads back what writeTar writes', async () => {
    const src = join(work, 'outside', 'data.bin');
    writeFileSync(src, Buffer.alloc(70_000, 7));
    const chunks: Buffer[] = [];
    for await (const c of writeTar([{ name: 'x/data.bin', type: 'file', mode: 0o600, mtimeMs: 1_700_000_000_500, size: 70_000, source: src }])) chunks.push(c);
    const names: string[] = [];
    for await (const { entry } of readTar(Readable.from([Buffer.concat(chunks)]))) names.push(entry.name);
    expect(names).toEqual(['x/data.bin']);
    await extract(Buffer.concat(chunks));
    expect(statSync(join(target, 'x/data.bin')).size).toBe(70_000);
    expect(statSync(join(target, 'x/data.bin')).mtimeMs).toBe(1_700_000_000_500);
    rmSync(src);
    writeFileSync(join(outside, 'secret'), 'untouched');
  });
});
