// When a non-idempotent POST may be sent again: only when the server itself said nothing was started. A
// stand-in for a proxy in front of the gateway answers here (a real HTTP server on 127.0.0.1);
// the Python SDK is run against the same server and must send the same number of requests.
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSClient } from './faas-client.js';

const pythonSdk = resolve(dirname(fileURLToPath(import.meta.url)), '../../../python');
let hits = 0;
let answer: { status: number; body: string } = { status: 503, body: '' };
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    hits++;
    res.writeHead(answer.status, answer.body ? { 'content-type': 'application/json' } : {});
    res.end(answer.body);
  });
});
let endpoint = '';

beforeAll(async () => {
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

async function postsSentByTypeScript(): Promise<number> {
  hits = 0;
  const client = new FaaSClient({ apiKey: 'k', endpoint, maxRetries: 2 });
  await expect(client.createSnapshot('exec-1')).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  return hits;
}

async function postsSentByPython(): Promise<number> {
  hits = 0;
  const script = [
    'import sys, faas_sdk',
    'from faas_sdk.exceptions import FaaSError',
    'client = faas_sdk.FaaSClient(api_key="k", endpoint=sys.argv[1], max_retries=2)',
    'try:',
    '    client.create_snapshot("exec-1")',
    'except FaaSError as e:',
    '    print(e.code)',
  ].join('\n');
  const { stdout } = await promisify(execFile)('python3', ['-c', script, endpoint], { env: { ...process.env, PYTHONPATH: pythonSdk } });
  expect(stdout.trim()).toBe('SHUTTING_DOWN');
  return hits;
}

// A snapshot POST is not idempotent (no Idempotency-Key; execute has one, so it is resent freely).
describe('a createSnapshot answered 503', () => {
  it('without a body (a proxy may have forwarded it): sent once, by both SDKs', async () => {
    answer = { status: 503, body: '' };
    expect(await postsSentByTypeScript()).toBe(1);
    expect(await postsSentByPython()).toBe(1);
  });

  it('with the server saying SHUTTING_DOWN (nothing started): sent again up to maxRetries', async () => {
    answer = { status: 503, body: JSON.stringify({ code: 'SHUTTING_DOWN', message: 'shutting down' }) };
    expect(await postsSentByTypeScript()).toBe(3);
    expect(await postsSentByPython()).toBe(3);
  });
});
