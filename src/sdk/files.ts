// Local side of the instance file calls: walking a tree (with glob excludes and .gitignore
// rules), and unpacking a tar from an instance without letting it write outside its target.
import { lstat, mkdir, open, readFile, readdir, readlink, rm, symlink, chmod, utimes, lutimes } from 'node:fs/promises';
import { dirname, join, posix, resolve, sep } from 'node:path';
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

/** A tar entry's name as a safe relative path, or an error: no absolute paths, no `..`. */
function safeName(name: string): string {
  const norm = posix.normalize(name);
  if (norm.startsWith('/') || norm === '..' || norm.startsWith('../') || name.includes('\0')) throw new Error(`refusing tar entry ${JSON.stringify(name)}: outside the target`);
  return norm;
}

/** No component between `root` and `full` may be a symbolic link (a link must not carry a write outside). */
async function checkNoLinkInPath(root: string, full: string): Promise<void> {
  const rel = full.slice(root.length + 1).split(sep);
  let cur = root;
  for (const part of rel.slice(0, -1)) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => null);
    if (st?.isSymbolicLink()) throw new Error(`refusing to write through the symbolic link ${cur}`);
  }
}

/**
 * Unpacks a tar stream under `root`, keeping modes, times and links. `rename` maps an entry's
 * name (e.g. its top directory to another name); entries it maps to null are skipped.
 */
export async function extractTar(src: AsyncIterable<Buffer | Uint8Array>, root: string, rename: (name: string) => string | null = (n) => n): Promise<{ files: number; bytes: number; entries: string[] }> {
  const base = resolve(root);
  await mkdir(base, { recursive: true });
  const dirs: Array<{ full: string; mode: number; mtimeMs: number }> = [];
  let files = 0;
  let bytes = 0;
  const entries: string[] = [];
  for await (const { entry, body } of readTar(src)) {
    const mapped = rename(safeName(entry.name));
    if (mapped === null) continue;
    const rel = safeName(mapped);
    const full = rel === '.' ? base : join(base, ...rel.split('/'));
    if (full !== base) await checkNoLinkInPath(base, full);
    entries.push(rel);
    if (entry.type === 'dir') {
      const st = await lstat(full).catch(() => null);
      if (st && !st.isDirectory()) await rm(full, { recursive: true, force: true });
      await mkdir(full, { recursive: true });
      dirs.push({ full, mode: entry.mode, mtimeMs: entry.mtimeMs });
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    const st = await lstat(full).catch(() => null);
    if (st && (st.isDirectory() || st.isSymbolicLink() || entry.type === 'symlink')) await rm(full, { recursive: true, force: true });
    const t = entry.mtimeMs / 1000;
    if (entry.type === 'symlink') {
      await symlink(entry.linkname ?? '', full);
      await lutimes(full, t, t).catch(() => undefined);
      continue;
    }
    const fh = await open(full, 'w', 0o600);
    try {
      for await (const chunk of body) {
        await fh.write(chunk);
        bytes += chunk.length;
      }
    } finally {
      await fh.close();
    }
    await chmod(full, entry.mode);
    await utimes(full, t, t);
    files++;
  }
  // Directories last, deepest first: writing into them changed their times.
  for (const d of dirs.reverse()) {
    await chmod(d.full, d.mode);
    await utimes(d.full, d.mtimeMs / 1000, d.mtimeMs / 1000);
  }
  return { files, bytes, entries };
}
