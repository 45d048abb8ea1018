// The SDKs as users install them, running the snippets of the users' README (the seed's "FaaS
// Platform SDKs", test/sdk/readme/): `npm pack` of @faas/sdk installed into a temporary project
// outside the repository (its own node_modules, packages from the registry), and `pip install`
// of sdk/python into a fresh virtualenv, each against a real gateway over the real engine; the
// README's Tangle/Polkadot Integration snippets (TangleFaaSClient) from both installs against the
// local Tangle services node, with //Bob's operator serving the FaaS service on the same engine.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Keyring } from '@polkadot/keyring';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, setupFaasService, startChain } from '../chain/fixtures.js';
import { startInstanceGateway } from '../instances/fixtures.js';
import type { InstanceGateway } from '../instances/fixtures.js';
import { InProcessOperator } from '../operator/operators.js';
import { PYTHON } from './python-helpers.js';

const root = resolve(import.meta.dirname, '../..');
const snippets = join(import.meta.dirname, 'readme');

/** The environment of a user's shell: nothing of this repository's npm run or vitest (no source condition, no npm_* settings). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_OPTIONS' && k !== 'VITEST' && !k.startsWith('VITEST_')));
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? userEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 300_000);
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], o: Parameters<typeof run>[2]): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r.stdout;
}

/** The `SNIPPET <name> …` lines a snippet file printed, by name. */
function marks(stdout: string): Record<string, string> {
  return Object.fromEntries(
    stdout
      .split('\n')
      .filter((l) => l.startsWith('SNIPPET '))
      .map((l) => {
        const [, name, ...rest] = l.split(' ');
        return [name!, rest.join(' ')];
      }),
  );
}

let dir: string;
let gw: InstanceGateway;
let env: NodeJS.ProcessEnv;
let packed: string[];

beforeAll(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'sdk-user-')));
  // npm pack runs the package's `prepare` (tsc): the tarball holds the build.
  const pack = JSON.parse(await ok('npm', ['pack', '--json', '--pack-destination', dir], { cwd: join(root, 'sdk/typescript'), env: userEnv(), timeoutMs: 600_000 })) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = pack[0]!.files.map((f) => f.path);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sdk-user', private: true, type: 'module' }));
  await ok('npm', ['install', '--no-audit', '--no-fund', join(dir, pack[0]!.filename)], { cwd: dir, timeoutMs: 600_000 });
  for (const f of readdirSync(snippets)) if (f.endsWith('.mjs')) copyFileSync(join(snippets, f), join(dir, f));
  // The README's persistent instance asks for a 20 GiB disk (memory-backed here: a cap, not an allocation).
  gw = await startInstanceGateway({ FAAS_MAX_DISK_MB: '20480' });
  env = userEnv({ FAAS_API_KEY: gw.keys.create('readme').key, FAAS_ENDPOINT: gw.url });
}, 1_200_000);

// The local chain for the Tangle snippets: started on first use, once for both SDKs.
const PY_CALLER = '//PyReadme'; // the Python SDK makes ed25519 accounts from URIs
let chain: Awaited<ReturnType<typeof startChain>> | undefined;
let bob: InProcessOperator | undefined;
let tangle: Promise<NodeJS.ProcessEnv> | undefined;

function tangleEnv(): Promise<NodeJS.ProcessEnv> {
  tangle ??= (async () => {
    chain = await startChain();
    const { api, keys: k, node } = chain;
    const pyCaller = new Keyring({ type: 'ed25519', ss58Format: 42 }).addFromUri(PY_CALLER);
    await send(api.tx.balances!.transferKeepAlive!(pyCaller.address, 1000n * 10n ** 18n), k.alice);
    bob = new InProcessOperator('//Bob', gw.engine, node.url);
    const { blueprintId, serviceId } = await setupFaasService(api, { owner: k.alice, permitted: [k.charlie.address, pyCaller.address], operators: [{ pair: k.bob, key: await bob.key(), rpcAddress: await bob.serveApi() }] });
    await bob.start([serviceId]);
    return { ...env, FAAS_TANGLE_RPC: node.url, FAAS_TANGLE_BLUEPRINT: String(blueprintId), FAAS_TANGLE_ACCOUNT: '//Charlie', FAAS_TANGLE_PY_ACCOUNT: PY_CALLER };
  })();
  return tangle;
}

afterAll(async () => {
  try {
    await bob?.close();
    await chain?.stop();
    await gw?.close();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);

const node = (file: string) => run(process.execPath, [file], { cwd: dir, env, timeoutMs: 600_000 });

describe('@faas/sdk from npm pack, in a project of its own', () => {
  it('the tarball holds the build and the manifest only; the project resolves the package inside itself', async () => {
    expect(packed).toContain('dist/index.js');
    expect(packed).toContain('dist/index.d.ts');
    expect(packed.filter((f) => !f.startsWith('dist/') && f !== 'package.json' && f !== 'README.md')).toEqual([]);
    expect(packed.filter((f) => f.endsWith('.test.js'))).toEqual([]);
    const where = await ok(process.execPath, ['--input-type=module', '-e', "console.log(import.meta.resolve('@faas/sdk'))"], { cwd: dir, env });
    expect(where.trim()).toBe(`file://${dir}/node_modules/@faas/sdk/dist/index.js`);
    expect(existsSync(join(dir, 'node_modules/@faas/sdk/src'))).toBe(false);
    // Nothing of the operator came along.
    for (const p of ['fastify', 'dockerode', 'better-sqlite3', 'ssh2', 'pino']) expect(existsSync(join(dir, 'node_modules', p)), p).toBe(false);
  });

  it('Quick Start and the execution modes: ephemeral, cached, checkpointed, branched, persistent (expose prints its URL)', async () => {
    const r = await node('quickstart.mjs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith('Hello World\n')).toBe(true);
    const m = marks(r.stdout);
    expect(m.ephemeral).toBe('"Stateless\\n"');
    expect(m.cached).toBe('"Fast start\\n"');
    expect(m.checkpointed).toMatch(/^\S+ "4999950000\\n"$/);
    expect(m.branched).toMatch(/^\S+ 2$/); // path-a.txt and path-b.txt
    const [printed, url] = m.persistent!.split(' ');
    expect(printed).toBe(url);
    expect(r.stdout).toContain(`Web app: ${url}`);
    expect(url).toMatch(/^http:\/\/inst-[0-9a-f]+-webapp\./);
  });

  it('Real-time Streaming: output as strings, stderr as error, progress, the exit code; input reaches the program', async () => {
    const r = await node('streaming.mjs');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Progress: 50% - half way');
    expect(r.stdout).toMatch(/Output: .*got: user input/);
    expect(r.stdout).toContain('Completed with exit code: 3');
    expect(r.stderr).toContain('Error: warning');
    expect(r.stdout).not.toContain('[object Object]');
    const m = marks(r.stdout);
    expect(m.streaming).toBe('"got: user input\\n" 3');
  });

  it('Instance Management: start (refused GPU, typed), lifecycle, dev environments, files, port forwarding', async () => {
    const r = await node('instances.mjs');
    expect(r.code, r.stderr).toBe(0);
    const m = marks(r.stdout);
    expect(m['start-gpu']).toMatch(/^RESOURCE_UNAVAILABLE resources\.(gpuCount|memoryMb|diskGb|cpuCores)/);
    expect(m.lifecycle).toBe('running');
    expect(m.devenv).toBe('true true true');
    expect(r.stdout).toMatch(/VSCode: http:\/\/\S+/);
    expect(r.stdout).toMatch(/Jupyter: http:\/\/\S+\nToken: \S+/);
    expect(m.files).toBe('"console.log(\\"hi\\")\\n" true');
    expect(m.ports).toMatch(/^http:\/\/inst-[0-9a-f]+-api\.\S+ "served\\n"$/);
  }, 600_000);

  it('Advanced Usage: batch in three languages, custom resources (refused GPUs, typed), environment variables, input files', async () => {
    const r = await node('advanced.mjs');
    expect(r.code, r.stderr).toBe(0);
    const m = marks(r.stdout);
    expect(m.batch).toBe(JSON.stringify(['Job 1\n', 'Job 2\n', 'Job 3\n']));
    expect(m.resources).toMatch(/^RESOURCE_UNAVAILABLE /);
    expect(m.env).toBe('"secret_value\\n"');
    expect(m.files).toBe(JSON.stringify("{ key: 'value' }\n"));
  });

  it('Tangle/Polkadot Integration: TangleFaaSClient with a keyring pair submits on-chain, reports job updates, and waits for the verified result', async () => {
    const r = await run(process.execPath, ['tangle.mjs'], { cwd: dir, env: await tangleEnv(), timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Verified output: Blockchain verified\n');
    expect(r.stdout).toMatch(/Job \d+: completed/);
    expect(marks(r.stdout).tangle).toBe('"Blockchain verified\\n" true completed');
  }, 600_000);

  it('Error Handling, Usage Tracking and Configuration (debug logs each request)', async () => {
    const r = await node('errors-usage.mjs');
    expect(r.code, r.stderr).toBe(0);
    const m = marks(r.stdout);
    expect(m.config).toBe('"configured\\n"');
    expect(r.stderr).toMatch(/\[faas\] POST \/v1\/executions → 200/);
    expect(m.error).toBe('EXECUTION_ERROR true');
    expect(r.stderr).toContain('Execution failed:');
    expect(m.metrics).toMatch(/^\d+ number number 0$/);
    expect(Number(m.metrics!.split(' ')[0])).toBeGreaterThanOrEqual(2);
    expect(m.current).toBe('number number 0');
  });
});

describe('faas-sdk from pip install, in a fresh virtualenv', () => {
  let python: string;

  beforeAll(async () => {
    const venv = join(dir, 'venv');
    await ok(PYTHON, ['-m', 'venv', '--system-site-packages', venv], { cwd: dir });
    // --no-build-isolation: the build uses the system's setuptools rather than fetching one.
    await ok(join(venv, 'bin/pip'), ['install', '--no-build-isolation', join(root, 'sdk/python')], { cwd: dir, timeoutMs: 300_000 });
    python = join(venv, 'bin/python');
    for (const f of ['readme_snippets.py', 'readme_tangle.py']) copyFileSync(join(snippets, f), join(dir, f));
  }, 600_000);

  it('the package is the installed one, not the checkout', async () => {
    const where = await ok(python, ['-c', 'import faas_sdk; print(faas_sdk.__file__)'], { cwd: dir, env });
    expect(where.trim().startsWith(join(dir, 'venv'))).toBe(true);
  });

  it('Quick Start, streaming, error handling and configuration run as written', async () => {
    const r = await run(python, ['readme_snippets.py'], { cwd: dir, env, timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    const m = marks(r.stdout);
    expect(r.stdout.startsWith('Hello World\n')).toBe(true);
    expect(m.stream).toBe('exit=4 output=True error=True');
    expect(r.stdout).toContain('Execution failed:');
    expect(m.error).toBe('ExecutionError True');
    expect(m.config).toBe("'configured\\n'");
  });

  it('Tangle/Polkadot Integration: submit_job and wait_for_result give the verified output', async () => {
    const r = await run(python, ['readme_tangle.py'], { cwd: dir, env: await tangleEnv(), timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Verified: Blockchain verified\n');
    expect(marks(r.stdout).tangle).toBe('"Blockchain verified\\n" True');
  }, 600_000);
});
