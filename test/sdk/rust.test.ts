// The Rust SDK's own tests (sdk/rust/tests, `cargo test` over Debian's crate sources, offline)
// against a real gateway started here, as part of `npm test`.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../api/fixtures.js';
import type { TestGateway } from '../api/fixtures.js';

const run = promisify(execFile);
let gw: TestGateway;

// rustup's cargo when there is one (PATH under npm may not have it), else the system's.
const rustupCargo = join(homedir(), '.cargo', 'bin', 'cargo');
const cargo = existsSync(rustupCargo) ? rustupCargo : 'cargo';
// Run from the crate's folder: that is where cargo finds .cargo/config.toml (Debian's crates, offline).
const crate = join(import.meta.dirname, '..', '..', 'sdk', 'rust');

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.close();
});

const cargoRun = (args: string[], env: NodeJS.ProcessEnv, timeout: number) =>
  run(cargo, args, { cwd: crate, env, timeout, maxBuffer: 64 << 20 }).then(
    (x) => ({ code: 0, out: x.stdout + x.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
  );

describe('Rust SDK (faas-sdk)', () => {
  it('passes its cargo test suite against the real gateway', async () => {
    const env = { ...process.env, CARGO_TERM_COLOR: 'never', RUST_BACKTRACE: '1' };
    // Compiled first (Debian's crate sources, offline), so a build failure reads as one.
    const build = await cargoRun(['test', '--no-run', '--offline'], env, 400_000);
    expect(build.code, build.out).toBe(0);

    const r = await cargoRun(
      ['test', '--offline'],
      {
        ...env,
        FAAS_ENDPOINT: gw.url,
        FAAS_API_KEY: gw.keys.create('rs').key,
        FAAS_API_KEY_2: gw.keys.create('rs-2').key,
        // A short window, so the suite's wait for it to reopen stays short.
        FAAS_API_KEY_LIMITED: gw.keys.create('rs-limited', { rateLimitRequests: 3, rateLimitWindowMs: 5_000 }).key,
      },
      300_000,
    );
    expect(r.code, r.out).toBe(0);
    // One summary per test binary (the unit tests, the gateway suite, the doc examples), each
    // all passed, none ignored; the gateway suite ran every module's tests.
    const summaries = r.out.split('\n').filter((l) => l.startsWith('test result:'));
    expect(summaries.length, r.out).toBeGreaterThanOrEqual(3);
    for (const s of summaries) expect(s, r.out).toMatch(/^test result: ok\. \d+ passed; 0 failed; 0 ignored;/);
    expect(Math.max(...summaries.map((s) => Number(/(\d+) passed/.exec(s)?.[1])))).toBeGreaterThanOrEqual(20);
    for (const module of ['execute', 'errors', 'stream', 'snapshots', 'instances', 'usage', 'retries']) expect(r.out, module).toMatch(new RegExp(`^test ${module}::\\w+ \\.\\.\\. ok$`, 'm'));
  }, 720_000);
});
