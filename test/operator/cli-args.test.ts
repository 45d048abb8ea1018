// The command lines of `faas-operator` (bin/faas-operator.js) and `npm start` (src/main.ts) as a
// user meets them, each run as a child process: --help and --version answer on every command
// with exit 0; an unknown option, a missing or bad value is one line on stderr naming the
// option, exit 2, never a stack trace. Docker is pointed at nothing, so a program that started
// its engine or the chain instead of answering would fail.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

const NO_DOCKER = { DOCKER_HOST: 'unix:///nonexistent/docker.sock', FAAS_SURI: '', FAAS_RPC_URL: '', FAAS_CHAIN: '', FAAS_BLUEPRINT_ID: '', FAAS_BOND: '' };

function run(file: string, args: string[], env: Record<string, string> = {}, viaNode = true): Promise<Ran> {
  const [cmd, argv] = viaNode ? [process.execPath, ['--import', 'tsx', file, ...args]] : [file, args];
  return new Promise((resolve) => {
    execFile(cmd, argv, { env: { ...process.env, ...NO_DOCKER, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The installed command: the launcher runs itself (shebang), as from a PATH after `npm install -g`. */
const operator = (...args: string[]) => run('bin/faas-operator.js', args, {}, false);
const start = (...args: string[]) => run('src/main.ts', args);

const version = JSON.parse(readFileSync('package.json', 'utf8')) as { name: string; version: string; bin: Record<string, string> };

function expectUsageError(r: Ran, ...parts: string[]): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  for (const p of parts) expect(r.stderr).toContain(p);
  expect(r.stderr).not.toMatch(/\n\s+at |Error:|ERR_PARSE_ARGS/);
}

describe('faas-operator', () => {
  it('is the package’s bin', () => {
    expect(version.bin).toEqual({ 'faas-operator': './bin/faas-operator.js' });
  });

  it('--help on the program and on every command: usage and options on stdout, exit 0', async () => {
    const top = await operator('--help');
    expect([top.code, top.stderr]).toEqual([0, '']);
    expect(top.stdout).toMatch(/^usage: faas-operator <command> \[options\]/);
    for (const c of ['register', 'run', 'status', 'keys']) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    const cases: Array<[string[], string, string[]]> = [
      [['register', '--help'], 'usage: faas-operator register [options]', ['--blueprint ID', '--bond AMOUNT', 'FAAS_BOND', '1500000000000000000raw', 'FAAS_SURI']],
      [['run', '-h'], 'usage: faas-operator run [options]', ['--services IDS', 'FAAS_SERVICE_IDS', '--api-port PORT']],
      [['status', '--help'], 'usage: faas-operator status [options]', ['--rpc URL', 'ws://127.0.0.1:9944', '--db PATH']],
      [['keys', '--help'], 'usage: faas-operator keys <command> [options]', ['credit ID AMOUNT', 'revoke ID']],
      [['keys', 'create', '--help'], 'usage: faas-operator keys create [options]', ['--window-ms MS', '--credit C']],
      [['keys', 'credit', '--help'], 'usage: faas-operator keys credit ID AMOUNT [options]', ['--db PATH']],
      [['help', 'status'], 'usage: faas-operator status [options]', ['--rpc URL']],
    ];
    for (const [args, usage, mentions] of cases) {
      const r = await operator(...args);
      expect([r.code, r.stderr], args.join(' ')).toEqual([0, '']);
      expect(r.stdout.startsWith(`${usage}\n`), r.stdout).toBe(true);
      for (const m of mentions) expect(r.stdout, `${args.join(' ')}: ${m}`).toContain(m);
      expect(r.stdout).toContain('-h, --help');
      expect(r.stdout).toContain('--version');
    }
  });

  it('--version on the program and on every command, even with other arguments', async () => {
    for (const args of [['--version'], ['register', '--version'], ['run', '--version', '--services', '1'], ['keys', 'list', '--version'], ['status', '--version']]) {
      const r = await operator(...args);
      expect(r, args.join(' ')).toEqual({ code: 0, stdout: `${version.name} ${version.version}\n`, stderr: '' });
    }
  });

  it('an unknown option or command: one line naming it, exit 2', async () => {
    expectUsageError(await operator('status', '--bogus'), 'faas-operator status: unknown option --bogus', 'faas-operator status --help');
    expectUsageError(await operator('register', '-x'), 'unknown option -x');
    expectUsageError(await operator('--frobnicate'), 'faas-operator: unknown option --frobnicate');
    expectUsageError(await operator('status', '--bond', '1'), 'unknown option --bond'); // an option of another command
    expectUsageError(await operator('launch'), 'unknown command launch');
    expectUsageError(await operator('keys', 'rotate'), 'keys: expected create, list, revoke or credit, got rotate');
    expectUsageError(await operator(), 'a command is needed');
    expectUsageError(await operator('keys', 'revoke', 'a', 'b'), 'unexpected argument "b"');
    expectUsageError(await operator('keys', 'credit', 'abc'), 'missing argument: ID AMOUNT');
  });

  it('a missing or bad value: one line naming the option (or its environment variable), exit 2, before connecting', async () => {
    expectUsageError(await operator('register', '--rpc'), '--rpc needs a value (URL)');
    expectUsageError(await operator('register', '--rpc', '--blueprint', '1'), '--rpc needs a value (URL)');
    expectUsageError(await operator('run', '--help=yes'), '--help takes no value');
    expectUsageError(await operator('status', '--rpc', 'http://127.0.0.1:9944'), '--rpc: expected a ws:// or wss:// URL, got "http://127.0.0.1:9944"');
    expectUsageError(await operator('register', '--blueprint', 'seven'), '--blueprint: expected a whole number, got "seven"');
    expectUsageError(await operator('register', '--blueprint', '1', '--bond', '1.5.2'), '--bond: expected a token amount such as 1.5');
    expectUsageError(await operator('register', '--blueprint', '1', '--bond', '2.5raw'), '--bond: raw units are a whole number');
    expectUsageError(await operator('register', '--blueprint', '1', '--chain', 'cosmos'), '--chain: expected substrate or evm, got "cosmos"');
    expectUsageError(await operator('run', '--api-port', '70000'), '--api-port: expected a port number from 0 to 65535');
    expectUsageError(await operator('run', '--services', '1,two'), '--services: expected whole numbers separated by commas');
    expectUsageError(await run('bin/faas-operator.js', ['run', '--services', '1'], { FAAS_API_PORT: 'http' }, false), 'FAAS_API_PORT');
    expectUsageError(await operator('keys', 'create', '--credit', '-1'), '--credit needs a value'); // -1 reads as an option
    expectUsageError(await operator('keys', 'create', '--credit=-1'), '--credit: expected a number ≥ 0, got "-1"');
    expectUsageError(await operator('register', '--blueprint', '1'), 'FAAS_SURI is needed');
    expectUsageError(await operator('register'), '--blueprint (or FAAS_BLUEPRINT_ID) is needed');
    expectUsageError(await run('bin/faas-operator.js', ['register', '--blueprint', '1', '--chain', 'evm'], { FAAS_EVM_PRIVATE_KEY: `0x${'1'.repeat(64)}` }, false), '--tangle (or TANGLE_CONTRACT) is needed');
    expectUsageError(await run('bin/faas-operator.js', ['register', '--blueprint', '1'], { FAAS_BLUEPRINT_ID: '', FAAS_SURI: '//Bob', FAAS_BOND: 'much' }, false), 'FAAS_BOND: expected a token amount');
  });

  it('a node that refuses the connection: a one-line failure, exit 1, not retries forever', async () => {
    const r = await run('bin/faas-operator.js', ['status', '--rpc', 'ws://127.0.0.1:1'], { FAAS_SURI: '//Bob' }, false);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^faas-operator status: cannot connect to the node at ws:\/\/127\.0\.0\.1:1\b.*$/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('is the same program run from the sources (`node --import tsx src/operator/cli.ts`, what `npm run operator` does with tsx)', async () => {
    const direct = await run('src/operator/cli.ts', ['--version']);
    expect(direct).toEqual({ code: 0, stdout: `${version.name} ${version.version}\n`, stderr: '' });
  });
});

describe('npm start (src/main.ts)', () => {
  it('--help prints the options and starts nothing (Docker is pointed at nothing here)', async () => {
    const r = await start('--help');
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toMatch(/^usage: npm start -- \[options\]/);
    for (const o of ['--operators N', '--chain KIND', '--rpc URL', '--services IDS', '--tangle ADDRESS', '-h, --help', '--version', 'FAAS_LOCAL_OPERATORS']) expect(r.stdout).toContain(o);
    expect(r.stdout).not.toMatch(/starting the sandbox engine|local Tangle node/);
  });

  it('--version', async () => {
    expect(await start('--version')).toEqual({ code: 0, stdout: `${version.name} ${version.version}\n`, stderr: '' });
  });

  it('a bad command line: one line naming the option, exit 2, before anything starts', async () => {
    expectUsageError(await start('--bogus'), 'npm start: unknown option --bogus', 'npm start -- --help');
    expectUsageError(await start('--operators'), '--operators needs a value (N)');
    expectUsageError(await start('--operators', '5'), '--operators: expected a whole number from 1 to 4, got "5"');
    expectUsageError(await start('--chain', 'solana'), '--chain: expected substrate or evm');
    expectUsageError(await start('--rpc', 'http://example.com'), '--rpc: expected a ws:// or wss:// URL');
    expectUsageError(await start('--rpc', 'ws://127.0.0.1:1'), 'FAAS_SURI is needed with --rpc');
    expectUsageError(await run('src/main.ts', ['--rpc', 'ws://127.0.0.1:1'], { FAAS_SURI: '//Bob', FAAS_SERVICE_IDS: 'x' }), 'FAAS_SERVICE_IDS: expected whole numbers');
    expectUsageError(await start('--chain', 'evm', '--rpc', 'http://127.0.0.1:1'), 'FAAS_EVM_PRIVATE_KEY is needed');
    expectUsageError(await start('extra'), 'unexpected argument "extra"');
  });
});
