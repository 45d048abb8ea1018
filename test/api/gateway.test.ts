// The gateway and the TypeScript SDK against the real engine: every FaaSClient method round-
// trips; streams show output as it happens, take stdin and resize a terminal; keys do not see
// each other's executions; 429 carries resetAt; bad requests get 400 with a code and field;
// retries ride out a gateway restart; usage survives a restart; 50 executes at once all answer.
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, ConnectionError, ExecutionError, FaaSClient, MergeConflictError, NotFoundError, RateLimitError, TimeoutError, ValidationError } from '../../src/index.js';
import type { ExecutionResult, StreamEvent } from '../../src/index.js';
import { startGateway } from './fixtures.js';
import type { TestGateway } from './fixtures.js';

let gw: TestGateway;
let key: string;
let key2: string;
let sdk: FaaSClient;

beforeAll(async () => {
  gw = await startGateway();
  key = gw.keys.create('first').key;
  key2 = gw.keys.create('second').key;
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: key });
});

afterAll(async () => {
  await gw?.close();
});

const post = (path: string, body: string, k = key, type = 'application/json') =>
  fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${k}`, 'content-type': type }, body });

describe('FaaSClient.execute', () => {
  it('runs code with every request field, and resolves for a non-zero exit', async () => {
    const r = await sdk.execute({
      code: 'import os, sys\nprint(open("data/in.txt").read().strip(), os.environ["GREETING"], sys.stdin.read().strip(), open("bin.dat","rb").read().hex())\nsys.exit(3)',
      language: 'python',
      mode: 'cached',
      resources: { cpuCores: 0.5, memoryMb: 128, timeoutMs: 10_000 },
      envVars: { GREETING: 'hi' },
      files: { 'data/in.txt': 'from a file\n', 'bin.dat': new Uint8Array([0, 255, 16]) },
      stdin: 'from stdin\n',
    });
    expect(r).toMatchObject({ stdout: 'from a file hi from stdin 00ff10\n', exitCode: 3, timedOut: false });
    expect(r.usage.cpuSeconds).toBeGreaterThan(0);
    await expect(sdk.execute({ code: 'exit 4', language: 'bash', throwOnError: true })).rejects.toMatchObject({ code: 'EXECUTION_ERROR', exitCode: 4 });
  });

  it('rejects with ExecutionError (stderr, exit code) when the program could not run', async () => {
    for (const [language, code] of [['python', 'def broken(:\n    pass'], ['go', 'package main\nfunc main() { x }'], ['bash', 'if then fi (']] as const) {
      const e = await sdk.execute({ code, language, mode: 'cached' }).catch((x: unknown) => x);
      expect(e, language).toBeInstanceOf(ExecutionError);
      expect(e).toMatchObject({ code: 'EXECUTION_ERROR', failure: 'compile' });
      expect((e as ExecutionError).stderr.length).toBeGreaterThan(0);
      expect((e as ExecutionError).exitCode).not.toBe(0);
    }
    const timeout = await sdk.execute({ code: 'import time; time.sleep(5)', language: 'python', mode: 'cached', resources: { timeoutMs: 300 } }).catch((e: unknown) => e);
    expect(timeout).toBeInstanceOf(ExecutionError);
    expect(timeout).toMatchObject({ code: 'EXECUTION_ERROR', failure: 'timeout' });
  });

  it('start + getExecution: 202 at once, then the result', async () => {
    const id = await sdk.start({ code: 'import time; time.sleep(0.3); print("later")', language: 'python', mode: 'cached' });
    expect((await sdk.getExecution(id)).status).toMatch(/queued|running/);
    await expect.poll(async () => (await sdk.getExecution(id)).status, { timeout: 10_000 }).toBe('completed');
    expect((await sdk.getExecution(id)).result?.stdout).toBe('later\n');
  });

  it('answers 50 executes sent at once, each with its own correct result', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => sdk.execute({ code: `print(${i} * 2)`, language: 'python', mode: 'cached' })));
    expect(results.map((r) => r.stdout)).toEqual(Array.from({ length: 50 }, (_, i) => `${i * 2}\n`));
  });
});

describe('FaaSClient.stream', () => {
  it('delivers output while the program runs, then complete', async () => {
    const seen: Array<{ e: StreamEvent; t: number }> = [];
    for await (const e of sdk.stream({ code: 'import time\nprint("one", flush=True)\ntime.sleep(1)\nprint("two")', language: 'python', mode: 'cached' })) seen.push({ e, t: Date.now() });
    const out = seen.filter((s) => s.e.type === 'output');
    const done = seen.find((s) => s.e.type === 'complete')!;
    expect(out.map((s) => (s.e as { data: string }).data).join('')).toBe('one\ntwo\n');
    expect(done.t - out[0]!.t).toBeGreaterThan(800);
    expect(done.e).toMatchObject({ exitCode: 0 });
  });

  it('a late client gets the replay; a client that leaves does not stop the execution', async () => {
    const id = await sdk.start({ code: 'import time\nprint("early", flush=True)\ntime.sleep(0.8)\nprint("late")', language: 'python', mode: 'cached' });
    const first = sdk.stream(id);
    await first.ready();
    first.close();
    await new Promise((r) => setTimeout(r, 300));
    const events: StreamEvent[] = [];
    for await (const e of sdk.stream(id)) events.push(e);
    expect(events.filter((e) => e.type === 'output').map((e) => (e as { data: string }).data).join('')).toBe('early\nlate\n');
    // Also an execution that was waited for: its stream replays the output and the end.
    const done = await sdk.execute({ code: 'import sys; print("waited"); print("oops", file=sys.stderr)', language: 'python', mode: 'cached' });
    const replay: StreamEvent[] = [];
    for await (const e of sdk.stream(done.executionId)) replay.push(e);
    expect(replay.map((e) => e.type)).toEqual(['output', 'error', 'complete']);
    expect(replay[0]).toEqual({ type: 'output', data: 'waited\n' });
  });

  it('stdin sent while running is echoed back', async () => {
    const s = sdk.stream({ code: 'import sys\nfor line in sys.stdin:\n    print("echo:", line.strip(), flush=True)', language: 'python', mode: 'cached' });
    let out = '';
    s.on('output', (data) => {
      out += data;
      if (out === 'echo: hello\n') s.sendInput('world\n');
      if (out.endsWith('echo: world\n')) s.closeInput();
    });
    s.sendInput('hello\n');
    const [exitCode, result] = await new Promise<[number, ExecutionResult]>((r) => s.on('complete', (code, res) => r([code, res])));
    expect(out).toBe('echo: hello\necho: world\n');
    expect([exitCode, result.stdout]).toEqual([0, out]);
  });

  it('resize changes what tput cols prints on a terminal', async () => {
    const s = sdk.stream({ code: 'tput cols\nread -r _\ntput cols', language: 'bash', mode: 'cached', tty: { cols: 91, rows: 20 } });
    let out = '';
    s.on('output', (data) => {
      out += data;
      if (/^91\r?\n$/.test(out)) {
        s.resize(123, 30);
        setTimeout(() => s.sendInput('go\n'), 200);
      }
    });
    await new Promise((r) => s.on('complete', r));
    expect(out.split(/\r?\n/).filter((l) => /^\d+$/.test(l))).toEqual(['91', '123']);
  });

  it('the documented events carry plain values: output and stderr text, the exit code; wait() gives the result', async () => {
    const s = sdk.stream({ code: 'import sys\nprint("out", flush=True)\nprint("err", file=sys.stderr, flush=True)\nsys.exit(2)', language: 'python', mode: 'cached' });
    const got: Array<[string, unknown]> = [];
    s.on('output', (data) => got.push(['output', data]));
    s.on('error', (error) => got.push(['error', error]));
    s.on('complete', (exitCode) => got.push(['complete', exitCode]));
    const result = await s.wait();
    expect(got).toEqual([['output', 'out\n'], ['error', 'err\n'], ['complete', 2]]);
    expect(result).toMatchObject({ stdout: 'out\n', stderr: 'err\n', exitCode: 2 });
  });

  it('execute with onStdout/onStderr gets the output as it is printed, and the same result', async () => {
    const chunks: Array<[string, string, number]> = [];
    const t0 = Date.now();
    const r = await sdk.execute(
      { code: 'import sys, time\nprint("a", flush=True)\nprint("b", file=sys.stderr, flush=True)\ntime.sleep(0.8)\nprint("c")', language: 'python', mode: 'cached' },
      { onStdout: (d) => chunks.push(['out', d, Date.now() - t0]), onStderr: (d) => chunks.push(['err', d, Date.now() - t0]) },
    );
    expect(r).toMatchObject({ stdout: 'a\nc\n', stderr: 'b\n', exitCode: 0 });
    expect(chunks.map(([k, d]) => [k, d])).toEqual([['out', 'a\n'], ['err', 'b\n'], ['out', 'c\n']]);
    expect(chunks[2]![2] - chunks[0]![2]).toBeGreaterThan(600); // 'a' came before the program slept
    const compile = await sdk.execute({ code: 'def broken(:', language: 'python', mode: 'cached' }, { onStderr: () => undefined }).catch((e: unknown) => e);
    expect(compile).toBeInstanceOf(ExecutionError);
    expect(compile).toMatchObject({ failure: 'compile' });
  });

  it('per call: timeoutMs gives a TimeoutError, an AbortSignal rejects with its reason; a dead endpoint is a ConnectionError with a cause', async () => {
    const slow = { code: 'import time; time.sleep(3)', language: 'python', mode: 'cached' } as const;
    await expect(sdk.execute(slow, { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('user gave up')), 200);
    await expect(sdk.execute(slow, { signal: ac.signal })).rejects.toThrow('user gave up');
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 200);
    await expect(sdk.execute(slow, { signal: ac2.signal, onStdout: () => undefined })).rejects.toMatchObject({ name: 'AbortError' });
    const dead = await new FaaSClient({ endpoint: 'http://127.0.0.1:9', apiKey: key, maxRetries: 0 }).getExecution('x').catch((e: unknown) => e);
    expect(dead).toBeInstanceOf(ConnectionError);
    expect((dead as ConnectionError).cause).toBeInstanceOf(Error);
  });

  it('progress reported by the program arrives as progress events', async () => {
    const events: StreamEvent[] = [];
    for await (const e of sdk.stream({ code: 'faas-progress 40 "loading"\nfaas-progress 100 done', language: 'bash', mode: 'cached' })) events.push(e);
    expect(events.filter((e) => e.type === 'progress')).toEqual([
      { type: 'progress', percent: 40, message: 'loading' },
      { type: 'progress', percent: 100, message: 'done' },
    ]);
  });
});

describe('keys, limits and errors', () => {
  it("another key gets 404 for this key's execution, on GET and on the stream", async () => {
    const id = await sdk.start({ code: 'print(1)', language: 'python', mode: 'cached' });
    const other = new FaaSClient({ endpoint: gw.url, apiKey: key2 });
    await expect(other.getExecution(id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(other.stream(id).ready()).rejects.toBeInstanceOf(NotFoundError);
    await expect(new FaaSClient({ endpoint: gw.url, apiKey: 'faas_000000000000_nope' }).getExecution(id)).rejects.toBeInstanceOf(AuthError);
    await expect(new FaaSClient({ endpoint: gw.url, apiKey: '' }).usage.getCurrent()).rejects.toBeInstanceOf(AuthError);
  });

  it('over the rate limit: 429 with code, resetAt and Retry-After; the SDK throws RateLimitError', async () => {
    const limited = gw.keys.create('limited', { rateLimitRequests: 2, rateLimitWindowMs: 30_000 }).key;
    const c = new FaaSClient({ endpoint: gw.url, apiKey: limited, maxRetries: 0 });
    await c.usage.getCurrent();
    await c.usage.getCurrent();
    const res = await fetch(`${gw.url}/v1/usage/current`, { headers: { authorization: `Bearer ${limited}` } });
    const body = (await res.json()) as { code: string; resetAt: string };
    expect(res.status).toBe(429);
    expect(body.code).toBe('RATE_LIMIT_EXCEEDED');
    expect(Date.parse(body.resetAt)).toBeGreaterThan(Date.now());
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    const err = await c.usage.getCurrent().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).resetAt.getTime()).toBeGreaterThan(Date.now());
    // Concurrent executions are limited too.
    const one = gw.keys.create('one-at-a-time', { maxConcurrent: 1 }).key;
    const c1 = new FaaSClient({ endpoint: gw.url, apiKey: one, maxRetries: 0 });
    const slow = c1.execute({ code: 'import time; time.sleep(1)', language: 'python', mode: 'cached' });
    await new Promise((r) => setTimeout(r, 200));
    await expect(c1.execute({ code: 'print(1)', language: 'python' })).rejects.toBeInstanceOf(RateLimitError);
    await slow;
  });

  it('bad JSON, an oversized body and unknown fields: 400 with a code and the field', async () => {
    const badJson = await post('/v1/executions', '{"code": ');
    expect([badJson.status, ((await badJson.json()) as { code: string }).code]).toEqual([400, 'VALIDATION_ERROR']);
    const big = await post('/v1/executions', JSON.stringify({ code: 'x'.repeat(gw.config.api.bodyLimitBytes + 10), language: 'python' }));
    expect([big.status, ((await big.json()) as { field: string }).field]).toEqual([400, 'body']);
    const unknown = await post('/v1/executions', JSON.stringify({ code: 'print(1)', language: 'python', colour: 'red' }));
    expect([unknown.status, await unknown.json()]).toEqual([400, expect.objectContaining({ code: 'VALIDATION_ERROR', field: 'colour' })]);
    const badLanguage = await sdk.execute({ code: 'x', language: 'cobol' as 'python' }).catch((e: unknown) => e);
    expect(badLanguage).toBeInstanceOf(ValidationError);
    expect((badLanguage as ValidationError).field).toBe('language');
  });

  it('snapshots, restores, branches and merges round-trip; another key sees none of them', async () => {
    const first = await sdk.execute({ code: 'x = 41\nopen("f.txt", "w").write("base")', language: 'python', mode: 'checkpointed' });
    const snap = await sdk.createSnapshot(first.executionId);
    expect(snap).toMatchObject({ executionId: first.executionId, hasMemory: true, sizeBytes: 4, language: 'python' });
    expect(await sdk.getSnapshot(snap.id)).toEqual(snap);
    expect((await sdk.listSnapshots()).map((s) => s.id)).toContain(snap.id);
    const restored = await sdk.restoreSnapshot(snap.id);
    expect((await sdk.execute({ code: 'print(x + 1, open("f.txt").read())', language: 'python', executionId: restored.executionId })).stdout).toBe('42 base\n');

    const [b1, b2] = await Promise.all([sdk.createBranch(snap.id), sdk.createBranch(snap.id)]);
    await sdk.execute({ code: 'open("f.txt", "w").write("one")', language: 'python', executionId: b1.executionId });
    await sdk.execute({ code: 'open("f.txt", "w").write("two")', language: 'python', executionId: b2.executionId });
    const conflict = await sdk.mergeBranches([b1.id, b2.id]).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(MergeConflictError);
    expect(conflict).toMatchObject({ code: 'MERGE_CONFLICT', conflicts: ['f.txt'] });
    const merged = await sdk.mergeBranches([b1.id, b2.id], { strategy: 'theirs' });
    expect(merged).toMatchObject({ memoryFrom: 'base', strategy: 'theirs', conflicts: ['f.txt'], baseSnapshotId: snap.id });

    const other = new FaaSClient({ endpoint: gw.url, apiKey: key2 });
    for (const call of [() => other.createSnapshot(first.executionId), () => other.restoreSnapshot(snap.id), () => other.createBranch(snap.id), () => other.getSnapshot(snap.id), () => other.deleteSnapshot(snap.id)]) {
      await expect(call()).rejects.toBeInstanceOf(NotFoundError);
    }
    expect(await other.listSnapshots()).toEqual([]);
    const run = await other.execute({ code: 'print(x)', language: 'python', executionId: first.executionId }).catch((e: unknown) => e);
    expect(run).toBeInstanceOf(NotFoundError);
    // A run in an existing context may leave out the language (the context's is used); not otherwise, nor in another key's context.
    expect((await sdk.execute({ code: 'print("same context")', executionId: first.executionId })).stdout).toBe('same context\n');
    await expect(other.execute({ code: 'print(1)', executionId: first.executionId })).rejects.toBeInstanceOf(NotFoundError);
    await expect(sdk.execute({ code: 'print(1)' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR', field: 'language' });

    const bad = await post('/v1/branches/merge', JSON.stringify({ branchIds: [b1.id], strategy: 'mine' }));
    expect([bad.status, ((await bad.json()) as { field: string }).field]).toEqual([400, 'branchIds']);
    await sdk.deleteSnapshot(merged.id);
    await expect(sdk.restoreSnapshot(merged.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('serves /openapi.json and /docs', async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/executions', '/v1/executions/{id}/stream', '/v1/usage/metrics']));
    expect(await (await fetch(`${gw.url}/docs`)).text()).toContain('POST /v1/executions');
  });
});

describe('retries and usage', () => {
  it('a resent execute with the same Idempotency-Key gets the same execution, run once', async () => {
    const k = gw.keys.create('idem').key;
    const body = JSON.stringify({ code: 'print(7)', language: 'python', mode: 'cached' });
    const send = () => fetch(`${gw.url}/v1/executions`, { method: 'POST', headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json', 'idempotency-key': 'call-1' }, body }).then((r) => r.json() as Promise<{ executionId: string; stdout: string }>);
    const [a, b] = [await send(), await send()];
    expect(b.executionId).toBe(a.executionId);
    expect(a.stdout).toBe('7\n');
    expect((await new FaaSClient({ endpoint: gw.url, apiKey: k }).usage.getCurrent()).executions.totalCount).toBe(1);
  });

  it('a call series rides out a gateway restart', async () => {
    const c = new FaaSClient({ endpoint: gw.url, apiKey: key, maxRetries: 5 });
    const results: string[] = [];
    const series = (async () => {
      for (let i = 0; i < 12; i++) {
        results.push((await c.execute({ code: `print(${i})`, language: 'python', mode: 'cached' })).stdout);
        await new Promise((r) => setTimeout(r, 60));
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await gw.stopApi();
    await new Promise((r) => setTimeout(r, 700));
    await gw.startApi();
    await series;
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => `${i}\n`));
  });

  it('usage: counts, CPU from the cgroup, costs and balance; per-day metrics; kept across a restart', async () => {
    const fresh = gw.keys.create('metered').key;
    const c = new FaaSClient({ endpoint: gw.url, apiKey: fresh });
    await c.execute({ code: 'x = 0\nfor i in range(3_000_000): x += i\nprint(x)', language: 'python', mode: 'cached' });
    await c.execute({ code: 'echo hi', language: 'bash' });
    const now = await c.usage.getCurrent();
    expect(now.executions.totalCount).toBe(2);
    expect(now.executions.cpuSeconds).toBe(now.cpuSeconds);
    expect(now.costs.totalCost).toBe(now.cost);
    expect(now.currentBalance).toBe(now.balance);
    expect(now.rateLimitRemaining).toBe(now.rateLimit.remaining);
    expect(now.cpuSeconds).toBeGreaterThan(0.05);
    expect(now.cost).toBeCloseTo(2 * now.prices.perExecution + now.cpuSeconds * now.prices.perCpuSecond + now.memoryGbSeconds * now.prices.perGbSecond, 10);
    expect(now.balance).toBeCloseTo(now.credit - now.cost, 10);
    expect(now.activeExecutions).toBe(0);
    expect(now.rateLimit.remaining).toBeLessThan(now.rateLimit.limit);
    const m = await c.usage.getMetrics({ startDate: new Date(Date.now() - 3600_000), endDate: new Date() });
    expect(m.executions.totalCount).toBe(2);
    expect(m.costs.totalCost).toBe(now.cost);
    expect(m.daily.reduce((n, d) => n + d.executions.totalCount, 0)).toBe(2);
    await gw.reopen();
    const after = await new FaaSClient({ endpoint: gw.url, apiKey: fresh }).usage.getCurrent();
    expect([after.executions.totalCount, after.cost]).toEqual([2, now.cost]);
  });

  it('a raw WebSocket with ?apiKey= and a bad message gets a typed error event', async () => {
    const id = await sdk.start({ code: 'import time; time.sleep(0.5); print(1)', language: 'python', mode: 'cached', interactive: true });
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/executions/${id}/stream?apiKey=${key}`);
    const events: StreamEvent[] = [];
    ws.on('open', () => ws.send('not json'));
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as StreamEvent));
    await new Promise((r) => ws.on('close', r));
    expect(events[0]).toMatchObject({ type: 'error', error: { code: 'VALIDATION_ERROR' } });
    expect(events.at(-1)).toMatchObject({ type: 'complete', exitCode: 0 });
  });
});
