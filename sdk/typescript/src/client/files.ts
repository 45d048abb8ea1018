// Local side of the instance file calls: walking a tree (with glob excludes and .gitignore
// rules), and unpacking a tar from an instance without letting it write outside its target.
import { constants as fsConstants } from 'node:fs';
import { lstat, mkdir, open, readFile, readdir, readlink, rm, symlink, lutimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { readTar } from './tar.js';
import type { TarEntry, TarType } from './tar.js';

export interface FileMeta {
  type: TarType;
  size: number;
  mtimeMs: number;
  mode: number;
  target?: string;
}

// ---- gitignore-style patterns ---------------------------------------------------------------

interface Rule {
  re: RegExp;
  negate: boolean;
  dirOnly: boolean;
}

const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function globToRegex(g: string): string {
  let re = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') {
      if (g[i + 1] === '*') {
        const atStart = i === 0 || g[i - 1] === '/';
        if (atStart && g[i + 2] === '/') {
          re += '(?:.*/)?';
          i += 2;
          continue;
        }
        if (atStart && i + 2 === g.length) {
          re += '.*';
          i += 1;
          continue;
        }
        re += '[^/]*';
        i += 1;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = g.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let cls = g.slice(i + 1, end);
      if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < g.length) {
      re += esc(g[++i]!);
    } else {
      re += esc(c);
    }
  }
  return re;
}

/** gitignore rules from lines (comments, `!`, trailing `/`, anchoring, `**`), relative to `base` ('' or 'dir/'). */
export function parseIgnore(lines: string[], base = ''): Rule[] {
  const rules: Rule[] = [];
  for (let line of lines) {
    line = line.replace(/(?<!\\)\s+$/, '');
    if (!line || line.startsWith('#')) continue;
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    } else if (line.startsWith('\\!') || line.startsWith('\\#')) {
      line = line.slice(1);
    }
    const dirOnly = line.endsWith('/');
    if (dirOnly) line = line.replace(/\/+$/, '');
    if (!line) continue;
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const body = globToRegex(line);
    rules.push({ re: new RegExp(anchored ? `^${esc(base)}${body}$` : `^${esc(base)}(?:.*/)?${body}$`), negate, dirOnly });
  }
  return rules;
}

/** Decides what is left out: the last matching rule wins, and what is under a left-out directory stays out. */
export class IgnoreMatcher {
  private readonly rules: Rule[] = [];
  add(rules: Rule[]): void {
    this.rules.push(...rules);
  }
  private self(path: string, isDir: boolean): boolean {
    let ignored = false;
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.re.test(path)) ignored = !r.negate;
    }
    return ignored;
  }
  ignores(path: string, isDir: boolean): boolean {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) if (this.self(parts.slice(0, i).join('/'), true)) return true;
    return this.self(path, isDir);
  }
}

// ---- walking a local tree -----------------------------------------------------------------

const metaOf = async (full: string): Promise<FileMeta | null> => {
  const st = await lstat(full);
  const mode = st.mode & 0o7777;
  if (st.isSymbolicLink()) return { type: 'symlink', size: 0, mtimeMs: st.mtimeMs, mode, target: await readlink(full) };
  if (st.isDirectory()) return { type: 'dir', size: 0, mtimeMs: st.mtimeMs, mode };
  if (st.isFile()) return { type: 'file', size: st.size, mtimeMs: st.mtimeMs, mode };
  return null;
};

/**
 * Every file, directory and symbolic link under `root` (relative paths with `/`), without what
 * the matcher leaves out; with `gitignore`, the .gitignore files met on the way add their rules.
 */
export async function walkLocal(root: string, matcher: IgnoreMatcher, gitignore: boolean): Promise<Map<string, FileMeta>> {
  const out = new Map<string, FileMeta>();
  const visit = async (rel: string) => {
    const dir = rel ? join(root, ...rel.split('/')) : root;
    if (gitignore) {
      const text = await readFile(join(dir, '.gitignore'), 'utf8').catch(() => null);
      if (text !== null) matcher.add(parseIgnore(text.split(/\r?\n/), rel ? `${rel}/` : ''));
    }
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const p = rel ? `${rel}/${name}` : name;
      const m = await metaOf(join(dir, name)).catch(() => null);
      if (!m || matcher.ignores(p, m.type === 'dir')) continue;
      out.set(p, m);
      if (m.type === 'dir') await visit(p);
    }
  };
  await visit('');
  return out;
}

/** The entries to tar for `rel` paths under `root`. */
export async function* localEntries(root: string, paths: Iterable<[name: string, rel: string]>): AsyncGenerator<TarEntry & { source?: string }> {
  for (const [name, rel] of paths) {
    const full = rel ? join(root, ...rel.split('/')) : root;
    const m = await metaOf(full);
    if (!m) continue;
    yield { name, type: m.type, mode: m.mode, mtimeMs: m.mtimeMs, size: m.size, ...(m.target !== undefined ? { linkname: m.target } : {}), ...(m.type === 'file' ? { source: full } : {}) };
  }
}

// ---- unpacking a tar from an instance -----------------------------------------------------
//
// The archive comes from the operator, and what it holds was written by code in the instance:
// it is hostile input. The rules: an entry's name is relative and has no `..` component (so
// nothing resolves to the target itself or outside it); every directory between the target
// and an entry is a real directory (a symbolic link there, pre-existing or made earlier in the
// same archive, is refused, never followed); an entry may not appear twice nor replace a
// directory the archive already wrote into; files are created afresh (O_EXCL | O_NOFOLLOW, so
// no write lands through a link or a hard link) and their mode and times set on the open file;
// directories get theirs at the end through an O_NOFOLLOW descriptor; set-user/group-id bits
// are dropped; hard links, devices and FIFOs are skipped.

const refuse = (name: string, why: string) => new Error(`refusing tar entry ${JSON.stringify(name)}: ${why}`);

/** The components of an entry's name: relative, no `..`, no NUL, not the target itself. */
function entryParts(name: string): string[] {
  if (name.includes('\0')) throw refuse(name, 'NUL in its name');
  if (name.startsWith('/')) throw refuse(name, 'absolute path, outside the target');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse(name, '`..` in its path, outside the target');
  if (!parts.length) throw refuse(name, 'it is the target directory itself');
  return parts;
}

/**
 * Makes sure every directory from `base` down to `parts` (excluded the last) is a real
 * directory, creating missing ones; a symbolic link or anything else there is refused.
 */
async function realParents(base: string, parts: string[], name: string, create: boolean): Promise<string> {
  let cur = base;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    let st = await lstat(cur).catch(() => null);
    if (!st && create) {
      await mkdir(cur).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      st = await lstat(cur);
    }
    if (!st) throw refuse(name, `${cur} is missing`);
    if (st.isSymbolicLink()) throw refuse(name, `${cur} is a symbolic link (never written through)`);
    if (!st.isDirectory()) throw refuse(name, `${cur} is not a directory`);
  }
  return join(cur, parts.at(-1)!);
}

export interface ExtractOptions {
  /** Maps an entry's (normalised) name to where it goes under the root; null skips it. */
  rename?: (name: string) => string | null;
  /** The one entry allowed at this name is the copy itself: a file or a directory, never a link. */
  self?: string;
}

const NOFOLLOW = fsConstants.O_NOFOLLOW;

/**
 * Unpacks a tar stream under `root`, keeping modes, times and links, by the rules above.
 * `rename` maps an entry's name (e.g. its top directory to another name); entries it maps to
 * null are skipped.
 */
export async function extractTar(src: AsyncIterable<Buffer | Uint8Array>, root: string, opts: ExtractOptions = {}): Promise<{ files: number; bytes: number; entries: string[] }> {
  const base = resolve(root);
  await mkdir(base, { recursive: true });
  const dirs: Array<{ parts: string[]; name: string; mode: number; mtimeMs: number }> = [];
  const seen = new Set<string>();
  const written = new Set<string>();
  let files = 0;
  let bytes = 0;
  const entries: string[] = [];
  for await (const { entry, body } of readTar(src)) {
    const raw = entryParts(entry.name).join('/');
    const mapped = opts.rename ? opts.rename(raw) : raw;
    if (mapped === null) continue;
    const parts = entryParts(mapped);
    const rel = parts.join('/');
    if (seen.has(rel)) throw refuse(entry.name, 'a second entry for the same path');
    if (entry.type !== 'dir' && written.has(rel)) throw refuse(entry.name, 'it would replace a directory this archive wrote into');
    if (entry.type === 'symlink' && opts.self !== undefined && rel === opts.self) throw refuse(entry.name, 'it would replace the target by a symbolic link');
    seen.add(rel);
    for (let i = 1; i < parts.length; i++) written.add(parts.slice(0, i).join('/'));
    const full = await realParents(base, parts, entry.name, true);
    entries.push(rel);
    const st = await lstat(full).catch(() => null);
    if (entry.type === 'dir') {
      if (st && !st.isDirectory()) await rm(full, { recursive: true, force: true });
      if (!st || !st.isDirectory()) await mkdir(full);
      dirs.push({ parts, name: entry.name, mode: entry.mode, mtimeMs: entry.mtimeMs });
      continue;
    }
    // What was there goes (rm removes a link, never what it points to).
    if (st) await rm(full, { recursive: true, force: true });
    const t = entry.mtimeMs / 1000;
    if (entry.type === 'symlink') {
      await symlink(entry.linkname ?? '', full);
      await lutimes(full, t, t).catch(() => undefined);
      continue;
    }
    const fh = await open(full, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | NOFOLLOW, 0o600);
    try {
      for await (const chunk of body) {
        await fh.write(chunk);
        bytes += chunk.length;
      }
      await fh.chmod(entry.mode & 0o1777);
      await fh.utimes(t, t);
    } finally {
      await fh.close();
    }
    files++;
  }
  // Directories last, deepest first (writing into them changed their times), through a
  // descriptor opened without following a link, under parents checked again.
  for (const d of dirs.reverse()) {
    const full = await realParents(base, d.parts, d.name, false);
    const fh = await open(full, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | NOFOLLOW);
    try {
      await fh.chmod(d.mode & 0o1777);
      await fh.utimes(d.mtimeMs / 1000, d.mtimeMs / 1000);
    } finally {
      await fh.close();
    }
  }
  return { files, bytes, entries };
}
