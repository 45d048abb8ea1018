// The stream's plain-HTTP twins, for clients without WebSocket (the Rust SDK): GET
// /v1/executions/:id/events answers newline-delimited JSON events (replay, then live, ending
// after complete) and POST /v1/executions/:id/input takes one stdin / resize / kill message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamEventSchema } from '../../src/api/index.js';
import type { StreamEvent } from '../../src/api/index.js';
import { startGateway } from './fixtures.js';
import type { TestGateway } from './fixtures.js';

let gw: TestGateway;
let key: string;
let key2: string;

beforeAll(async () => {
  gw = await startGateway();
  key = gw.keys.create('events').key;
  key2 = gw.keys.create('events-2').key;
});

afterAll(async () => {
  await gw?.close();
});

const auth = (k = key) => ({ authorization: `Bearer ${k}` });

async function start(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${gw.url}/v1/executions`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'cached', ...body, wait: false }) });
  expect(res.status).toBe(202);
  return ((await res.json()) as { executionId: string }).executionId;
}

/** Reads the events answer line by line: each event with when it arrived, and the blank lines. */
async function readEvents(res: Response): Promise<Array<{ e: StreamEvent; t: number }>> {
  const out: Array<{ e: StreamEvent; t: number }> = [];
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim()) out.push({ e: StreamEventSchema.parse(JSON.parse(line)), t: Date.now() });
    }
  }
  expect(pending).toBe('');
  return out;
}

const events = (id: string, k = key) => fetch(`${gw.url}/v1/executions/${id}/events`, { headers: auth(k) });
const input = (id: string, body: unknown, k = key) => fetch(`${gw.url}/v1/executions/${id}/input`, { method: 'POST', headers: { ...auth(k), 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('GET /v1/executions/:id/events', () => {
  it('sends each event as a JSON line as it happens, and ends after complete', async () => {
    const id = await start({ code: 'import time\nprint("one", flush=True)\ntime.sleep(1)\nprint("two")', language: 'python' });
    const res = await events(id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const seen = await readEvents(res);
    const out = seen.filter((s) => s.e.type === 'output');
    const done = seen.at(-1)!;
    expect(out.map((s) => (s.e as { data: string }).data).join('')).toBe('one\ntwo\n');
    expect(done.e).toMatchObject({ type: 'complete', exitCode: 0, result: { stdout: 'one\ntwo\n', executionId: id } });
    expect(done.t - out[0]!.t).toBeGreaterThan(800);
  });

  it('replays a finished execution: output, stderr, complete', async () => {
    const res = await fetch(`${gw.url}/v1/executions`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ code: 'import sys; print("waited"); print("oops", file=sys.stderr)', language: 'python', mode: 'cached' }) });
    const { executionId } = (await res.json()) as { executionId: string };
    const replay = (await readEvents(await events(executionId))).map((s) => s.e);
    expect(replay.map((e) => e.type)).toEqual(['output', 'error', 'complete']);
    expect(replay[0]).toEqual({ type: 'output', data: 'waited\n' });
    expect(replay[1]).toEqual({ type: 'error', data: 'oops\n' });
  });

  it("another key's or an unknown id is a plain 404; no key is 401", async () => {
    const id = await start({ code: 'print(1)', language: 'python' });
    for (const res of [await events(id, key2), await events('no-such-execution')]) {
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
    expect((await fetch(`${gw.url}/v1/executions/${id}/events`)).status).toBe(401);
    await readEvents(await events(id)); // let it finish
  });

  it('a client that leaves does not stop the execution', async () => {
    const id = await start({ code: 'import time\nprint("early", flush=True)\ntime.sleep(0.8)\nprint("late")', language: 'python' });
    const ac = new AbortController();
    const res = await fetch(`${gw.url}/v1/executions/${id}/events`, { headers: auth(), signal: ac.signal });
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain('early');
    ac.abort();
    const replay = (await readEvents(await events(id))).map((s) => s.e);
    expect(replay.filter((e) => e.type === 'output').map((e) => (e as { data: string }).data).join('')).toBe('early\nlate\n');
  });
});

describe('POST /v1/executions/:id/input', () => {
  it('stdin and its end reach the running program; the answer says where it stands', async () => {
    const id = await start({ code: 'print("got:" + input()[::-1], flush=True)\nimport sys\nprint("rest:" + repr(sys.stdin.read()))', language: 'python', interactive: true });
    const sent = await input(id, { type: 'stdin', data: 'olleh\nmore' });
    expect(sent.status).toBe(200);
    expect(await sent.json()).toMatchObject({ executionId: id, status: expect.stringMatching(/^(queued|running)$/) });
    expect((await input(id, { type: 'stdin_close' })).status).toBe(200);
    const seen = (await readEvents(await events(id))).map((s) => s.e);
    expect(seen.at(-1)).toMatchObject({ type: 'complete', exitCode: 0, result: { stdout: "got:hello\nrest:'more'\n" } });
    // Once it ended, a message is taken and ignored.
    expect(await (await input(id, { type: 'kill' })).json()).toEqual({ executionId: id, status: 'completed' });
  });

  it('kill ends the program (137); a bad message is 400 naming the field; another key gets 404', async () => {
    const id = await start({ code: 'import time\nprint("up", flush=True)\ntime.sleep(60)', language: 'python' });
    const bad = await input(id, { type: 'resize', cols: 0, rows: 10 });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'VALIDATION_ERROR', field: 'cols' });
    expect((await input(id, { type: 'kill' }, key2)).status).toBe(404);
    expect((await input(id, { type: 'kill' })).status).toBe(200);
    const seen = (await readEvents(await events(id))).map((s) => s.e);
    expect(seen.at(-1)).toMatchObject({ type: 'complete', exitCode: 137 });
  });

  it('both routes are in /openapi.json, the events as application/x-ndjson', async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { responses: { 200: { content?: Record<string, unknown> } }; requestBody?: unknown }>> };
    expect(Object.keys(doc.paths['/v1/executions/{id}/events']!.get!.responses[200].content!)).toEqual(['application/x-ndjson']);
    expect(doc.paths['/v1/executions/{id}/input']!.post!.requestBody).toBeDefined();
  });
});
