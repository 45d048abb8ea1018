// tnt-core's compiled contracts (`{abi, bytecode, linkReferences}` per contract), read at run time
// from ../shared/tnt-core/artifacts beside the repository, or FAAS_TNT_CORE_DIR. Never copied in.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Abi, Hex } from 'viem';

export interface Artifact {
  abi: Abi;
  bytecode: Hex;
  linkReferences?: Record<string, Record<string, Array<{ start: number; length: number }>>>;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The tnt-core folder (holding `artifacts/`). */
export function tntCoreDir(): string {
  const dir = process.env.FAAS_TNT_CORE_DIR ?? path.resolve(repoRoot, '..', 'shared', 'tnt-core');
  if (!existsSync(path.join(dir, 'artifacts'))) throw new Error(`tnt-core artifacts not found in ${dir}/artifacts (set FAAS_TNT_CORE_DIR)`);
  return dir;
}

const cache = new Map<string, Artifact>();

export function artifact(name: string): Artifact {
  let a = cache.get(name);
  if (!a) {
    a = JSON.parse(readFileSync(path.join(tntCoreDir(), 'artifacts', `${name}.json`), 'utf8')) as Artifact;
    cache.set(name, a);
  }
  return a;
}

/** The creation code with each referenced library's address written into its placeholders. */
export function linkedBytecode(a: Artifact, libraries: Record<string, Hex>): Hex {
  let code = a.bytecode.slice(2);
  for (const refs of Object.values(a.linkReferences ?? {})) {
    for (const [lib, places] of Object.entries(refs)) {
      const address = libraries[lib];
      if (!address) throw new Error(`library ${lib} must be deployed before it is linked`);
      for (const { start, length } of places) code = `${code.slice(0, start * 2)}${address.slice(2).toLowerCase()}${code.slice((start + length) * 2)}`;
    }
  }
  return `0x${code}`;
}
