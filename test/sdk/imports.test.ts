// The SDK never loads the operator: following the runtime imports (type-only ones are erased)
// from src/sdk/index.ts reaches no file of the operator, gateway, store or sandbox, and none of
// their packages (fastify, SQLite, Docker, SSH). Static, Docker-free.
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

describe('the SDK stands apart from the operator', () => {
  it('imports nothing of src/operator, src/api, src/store or src/sandbox, nor their packages', () => {
    const { files, packages } = reach(join(root, 'src/sdk/index.ts'));
    const inside = [...files].map((f) => relative(root, f));
    expect(inside.length).toBeGreaterThan(5);
    expect(inside.filter((f) => /^src\/(operator|api|store|sandbox)\//.test(f))).toEqual([]);
    expect([...packages].filter((p) => ['fastify', '@fastify/websocket', 'better-sqlite3', 'dockerode', 'ssh2', 'pino'].includes(p))).toEqual([]);
    expect(inside).toContain('blueprint/statement.ts'); // the job contract comes from blueprint/
  });
});
