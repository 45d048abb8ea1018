// The SDK never loads the operator: following the runtime imports (type-only ones are erased)
// from every entry of the @faas/sdk package (sdk/typescript) reaches only the package's own
// files, and only packages it declares — none of the operator's (fastify, SQLite, Docker, SSH).
// Static, Docker-free.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

/** The modules a file imports at run time: `import type` and `export type` are left out. */
function runtimeImports(file: string): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  for (const s of src.statements) {
    if (ts.isImportDeclaration(s)) {
      const c = s.importClause;
      const typeOnly = c?.isTypeOnly || (c && !c.name && c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly));
      if (!typeOnly) out.push((s.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(s) && s.moduleSpecifier && !s.isTypeOnly) {
      out.push((s.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  // Dynamic imports load too.
  const walk = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(n.arguments[0]!)) out.push(n.arguments[0].text);
    n.forEachChild(walk);
  };
  walk(src);
  return out;
}

function reach(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (files.has(f)) continue;
    files.add(f);
    for (const spec of runtimeImports(f)) {
      if (!spec.startsWith('.')) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
        continue;
      }
      const target = join(dirname(f), spec.replace(/\.js$/, '.ts'));
      if (existsSync(target)) todo.push(target);
    }
  }
  return { files, packages };
}

const pkgDir = join(root, 'sdk/typescript');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; exports: Record<string, string | Record<string, string>> };
const OPERATOR_PACKAGES = ['fastify', '@fastify/websocket', 'better-sqlite3', 'dockerode', 'ssh2', 'pino', 'p-queue', 'tangle-faas'];

describe('the SDK package stands apart from the operator', () => {
  it('every entry of @faas/sdk reaches only its own files and the packages it declares, none of the operator', () => {
    const entries = Object.values(pkg.exports).flatMap((e) => (typeof e === 'string' ? [] : [e['@faas/source']!]));
    expect(entries).toContain('./src/index.ts');
    const files = new Set<string>();
    const packages = new Set<string>();
    for (const entry of entries) {
      const r = reach(join(pkgDir, entry));
      r.files.forEach((f) => files.add(f));
      r.packages.forEach((p) => packages.add(p));
    }
    const inside = [...files].map((f) => relative(root, f));
    expect(inside.length).toBeGreaterThan(20);
    expect(inside.filter((f) => !f.startsWith('sdk/typescript/src/'))).toEqual([]);
    expect(inside).toContain('sdk/typescript/src/blueprint/statement.ts'); // the job contract is the package's
    expect(inside).toContain('sdk/typescript/src/wire/api.ts'); // and so is the wire contract
    const used = [...packages].filter((p) => !p.startsWith('node:'));
    expect(used.filter((p) => OPERATOR_PACKAGES.includes(p))).toEqual([]);
    expect(used.filter((p) => !(p in pkg.dependencies))).toEqual([]);
    expect(Object.keys(pkg.dependencies).filter((p) => OPERATOR_PACKAGES.includes(p))).toEqual([]);
  });

  it('the operator takes the wire contract, errors and job contract from the package, and keeps no copy', () => {
    for (const gone of ['src/errors.ts', 'src/api/schemas.ts', 'src/sdk', 'blueprint/statement.ts', 'blueprint/args.ts', 'src/chain/tx.ts']) expect(existsSync(join(root, gone)), gone).toBe(false);
    expect(runtimeImports(join(root, 'src/api/index.ts'))).toContain('@faas/sdk/wire');
  });
});
