// Helpers of the Python TangleFaaSClient tests: running Debian's python3 on a script with JSON
// in and out, and the canonical shape of a @polkadot/types codec that the Python side's
// sdk/python/tests_chain/crosscheck.py makes of its own decoded values.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbstractArray, AbstractInt, BTreeSet, BitVec, Bool, CodecMap, CodecSet, Compact, Enum, Null, Option, Raw, Struct, Text } from '@polkadot/types-codec';
import type { Codec } from '@polkadot/types/types';
import { u8aToHex } from '@polkadot/util';

export const PYTHON = '/usr/bin/python3';
export const PY_SDK = resolve(dirname(fileURLToPath(import.meta.url)), '../../sdk/python');

/** Runs `python3 args…` with `input` on stdin; exit code and output. */
export function runPython(args: string[], opts: { input?: string; env?: Record<string, string | undefined>; timeoutMs?: number; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(PYTHON, args, { cwd: opts.cwd, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Runs the cross-check script on `request`; its JSON answer. */
export async function crosscheck<T = Record<string, unknown>>(request: unknown): Promise<T> {
  const r = await runPython([resolve(PY_SDK, 'tests_chain/crosscheck.py')], { input: JSON.stringify(request) });
  if (r.code !== 0) throw new Error(`crosscheck.py exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/**
 * A codec as plain JSON: ints as decimal strings, bytes and accounts as 0x hex, structs as
 * objects (camelCase keys), enums as "Name" when no variant carries data, else {Name: value}.
 */
export function canon(c: Codec): unknown {
  if (c instanceof Option) return c.isNone ? null : canon(c.unwrap());
  if (c instanceof Compact) return c.unwrap().toBn().toString();
  if (c instanceof AbstractInt) return c.toBn().toString();
  if (c instanceof Bool) return c.isTrue;
  if (c instanceof Text) return c.toString();
  if (c instanceof Null) return null;
  if (c instanceof BitVec) return [...c.toBoolArray()];
  if (c instanceof Raw) return u8aToHex(c.toU8a(true));
  if (c instanceof Struct) return Object.fromEntries([...c.entries()].map(([k, v]) => [k, canon(v)]));
  if (c instanceof CodecMap) return [...c.entries()].map(([k, v]) => [canon(k), canon(v)]);
  if (c instanceof BTreeSet) return [...(c as unknown as Set<Codec>)].map(canon);
  if (c instanceof CodecSet) return c.strings;
  if (c instanceof Enum) return c.isBasic ? c.type : { [c.type]: canon(c.value) };
  if (c instanceof AbstractArray) return [...(c as unknown as Iterable<Codec>)].map(canon);
  throw new Error(`canon: no rule for ${c.constructor.name}`);
}
