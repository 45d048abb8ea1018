// The Python SDK's own tests (sdk/python/tests, pytest with Debian's python3) against a real
// gateway started here, as part of `npm test`.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../api/fixtures.js';
import type { TestGateway } from '../api/fixtures.js';

const run = promisify(execFile);
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.close();
});

describe('Python SDK (faas_sdk)', () => {
  it('passes its pytest suite against the real gateway', async () => {
    const env = {
      ...process.env,
      FAAS_ENDPOINT: gw.url,
      FAAS_API_KEY: gw.keys.create('py').key,
      FAAS_API_KEY_2: gw.keys.create('py-2').key,
      // A short window, so the suite's wait for it to reopen stays short.
      FAAS_API_KEY_LIMITED: gw.keys.create('py-limited', { rateLimitRequests: 3, rateLimitWindowMs: 5_000 }).key,
      PYTHONDONTWRITEBYTECODE: '1',
    };
    const r = await run('/usr/bin/python3', ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'sdk/python/tests'], { env, timeout: 240_000 }).then(
      (x) => ({ code: 0, out: x.stdout + x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: `${e.stdout}${e.stderr}` }),
    );
    const summary = r.out.trim().split('\n').at(-1) ?? '';
    expect(r.code, r.out).toBe(0);
    expect(summary).toMatch(/\d+ passed/);
    expect(summary).not.toMatch(/failed|error|skipped/);
  }, 300_000);
});
