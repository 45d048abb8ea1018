// The tree a newcomer reads about is the tree there is: the README's Layout section names every
// folder of the sources (and no path that does not exist), and the boundaries the layout promises hold (the sandbox reached through its index). File sizes:
// test/layout/sizes-and-clones.test.ts.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;
/** Files git tracks (the tree as committed and as about to be: new files count once added or not ignored). */
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && existsSync(join(root, f)));

function folders(): Set<string> {
  const out = new Set<string>();
  for (const f of files) for (let d = posix.dirname(f); d !== '.'; d = posix.dirname(d)) out.add(d);
  return out;
}

/** The Layout section's bullets (a bullet with its continuation lines). */
function layoutBullets(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Layout\n');
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return section.split(/\n(?=- )/).filter((b) => b.startsWith('- '));
}

const TOP = new Set([...folders()].filter((d) => !d.includes('/')));
/** A name in backticks that is a path: a folder (`x/`) or a file with an extension. */
const PATHLIKE = /^[\w.@-]+(?:\/[\w.@-]+)*(?:\/|\.(?:ts|cjs|py|json|md|sh|sol|toml|txt))$/;

/**
 * Every path a bullet names, resolved: from the repository's root when it starts with a
 * top-level folder and is there, else inside a folder the same bullet named before it (the
 * nearest first). A named path names its parent folders too.
 */
function namedPaths(): { named: Set<string>; missing: string[] } {
  const named = new Set<string>();
  const missing: string[] = [];
  for (const bullet of layoutBullets()) {
    const bases: string[] = [];
    for (const m of bullet.matchAll(/`([^`\s]+)`/g)) {
      const token = m[1]!;
      if (!PATHLIKE.test(token)) continue;
      const rel = token.replace(/\/$/, '');
      const candidates = [...(TOP.has(rel.split('/')[0]!) ? [rel] : []), ...bases.map((b) => posix.join(b, rel))];
      const found = candidates.find((c) => existsSync(join(root, c)));
      if (!found) {
        missing.push(token);
        continue;
      }
      for (let d = found; d !== '.'; d = posix.dirname(d)) named.add(d);
      if (statSync(join(root, found)).isDirectory()) bases.unshift(found);
    }
  }
  return { named, missing };
}

describe("the README's Layout section", () => {
  it('names no path that does not exist', () => {
    expect(namedPaths().missing).toEqual([]);
  });

  it('names every top-level folder, every folder of src/ and of the SDK packages, and those of chain/', () => {
    const { named } = namedPaths();
    const required = [...folders()].filter(
      (d) => (!d.includes('/') && !d.startsWith('.')) || d.startsWith('src/') || /^sdk\/[^/]+$/.test(d) || d.startsWith('sdk/typescript/src/') || /^chain\/[^/]+$/.test(d),
    );
    expect(required.filter((d) => !named.has(d)).sort()).toEqual([]);
  });
});

describe('source files', () => {
  it('outside the sandbox reach it only through src/sandbox/index.ts (config.ts, api/, operator/, scripts/, bench/)', () => {
    const deep: string[] = [];
    for (const f of files.filter((f) => /^(src\/(?!sandbox\/)|scripts\/|bench\/)/.test(f) && f.endsWith('.ts'))) {
      for (const m of readFileSync(join(root, f), 'utf8').matchAll(/from '(\.[^']+)'|import\('(\.[^']+)'\)/g)) {
        const target = posix.normalize(posix.join(dirname(f), m[1] ?? m[2]!));
        if (target.startsWith('src/sandbox/') && target !== 'src/sandbox/index.js') deep.push(`${f} → ${target}`);
      }
    }
    expect(deep).toEqual([]);
  });
});
