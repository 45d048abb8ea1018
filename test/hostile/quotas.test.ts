// Hostile tenants (issue 13): every per-key cap, against a real gateway with small caps. Each
// cap, once reached, answers a typed error (QUOTA_EXCEEDED naming the quota, or 429 where
// waiting is the answer) and starts nothing (the containers of this process are counted
// before and after), while another key is unaffected. Also: the credit rule (a balance at or
// below zero starts nothing; `keys credit` lets it run again), `?apiKey=` only on WebSocket
// upgrades and never in a log line, a per-IP limit on the public routes, the database file's
// mode, and an instance's SSH private key gone from the database file once handed out.
import { readFileSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { MANAGED_LABEL, OWNER_PID_LABEL } from '../../src/sandbox/index.js';
import { FaaSClient, InsufficientCreditError, QuotaExceededError } from '../../src/index.js';
import type { StreamEvent } from '../../src/index.js';
import { JobStore, openDatabase } from '../../src/store/index.js';
import { docker, runOperatorCli } from '../helpers.js';
import { startGateway } from '../api/fixtures.js';
import type { TestGateway } from '../api/fixtures.js';
import { containersOf, sleep, startInstanceGateway } from '../instances/fixtures.js';
import type { InstanceGateway } from '../instances/fixtures.js';

/** The containers this test process's engines started (sandboxes, pools, family containers). */
async function ours(): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`, `${OWNER_PID_LABEL}=${process.pid}`] } });
  return list.map((c) => c.Id).sort();
}

/** Our containers once pool refills have settled (the same list twice, 700 ms apart). */
async function settled(): Promise<string[]> {
  let last = await ours();
  for (let i = 0; i < 20; i++) {
    await sleep(700);
    const now = await ours();
    if (now.join() === last.join()) return now;
    last = now;
  }
  return last;
}

type Answer = { status: number; body: Record<string, unknown> };

function call(base: string, method: string, path: string, key: string | null, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(async (r) => ({
    status: r.status,
    body: (await r.json().catch(() => ({}))) as Record<string, unknown>,
  }));
}

describe('per-key caps on the gateway (small caps)', () => {
  let gw: TestGateway;
  const api = (method: string, path: string, key: string | null, body?: unknown) => call(gw.url, method, path, key, body);

  beforeAll(async () => {
    gw = await startGateway({
      FAAS_MAX_CONCURRENT: '2',
      FAAS_KEY_MAX_EXECUTIONS: '3',
      FAAS_KEY_MAX_EXECUTION_BYTES: '300000',
      FAAS_MAX_STDIN_BYTES: '65536',
      FAAS_KEY_MAX_WARM_CONTAINERS: '1',
      FAAS_KEY_MAX_FAMILY_CONTAINERS: '1',
      FAAS_KEY_MAX_CONTEXTS: '2',
      FAAS_KEY_MAX_SNAPSHOT_BYTES: '60000',
      FAAS_PUBLIC_RATE_LIMIT_REQUESTS: '5',
      FAAS_PUBLIC_RATE_LIMIT_WINDOW_MS: '60000',
    });
  });

  afterAll(async () => {
    await gw?.close();
  });

  it('keeps at most FAAS_KEY_MAX_EXECUTIONS records per key, and at most FAAS_KEY_MAX_EXECUTION_BYTES of them: the oldest finished go first', async () => {
    const a = gw.keys.create('records-a').key;
    const b = gw.keys.create('records-b').key;
    const other = await api('POST', '/v1/executions', b, { code: 'echo b', language: 'bash' });
    expect(other.status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api('POST', '/v1/executions', a, { code: `echo ${i}`, language: 'bash' });
      expect(r.status).toBe(200);
      ids.push(String(r.body.executionId));
    }
    const statuses = await Promise.all(ids.map(async (id) => (await api('GET', `/v1/executions/${id}`, a)).status));
    expect(statuses).toEqual([404, 404, 200, 200, 200]);
    // Another key's record is its own: still there.
    expect((await api('GET', `/v1/executions/${String(other.body.executionId)}`, b)).status).toBe(200);

    // Bytes: two records of ~240 kB (replay + result) are over 300 kB together: the older goes.
    const c = gw.keys.create('records-c').key;
    const big: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await api('POST', '/v1/executions', c, { code: 'print("x" * 120000)', language: 'python' });
      expect(r.status).toBe(200);
      big.push(String(r.body.executionId));
    }
    expect((await api('GET', `/v1/executions/${big[0]}`, c)).status).toBe(404);
    expect((await api('GET', `/v1/executions/${big[1]}`, c)).body).toMatchObject({ status: 'completed' });
  });

  it('bounds the stdin one execution may be sent: a WebSocket flood gets QUOTA_EXCEEDED events, the program sees at most the cap, POST …/input gets 403', async () => {
    const key = gw.keys.create('stdin').key;
    const started = await api('POST', '/v1/executions', key, {
      code: 'import sys\ndata = sys.stdin.buffer.read()\nprint(len(data))',
      language: 'python',
      mode: 'cached',
      wait: false,
      interactive: true,
    });
    expect(started.status).toBe(202);
    const id = String(started.body.executionId);
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/executions/${id}/stream`, { headers: { authorization: `Bearer ${key}` } });
    const events: StreamEvent[] = [];
    ws.on('message', (m) => events.push(JSON.parse(m.toString()) as StreamEvent));
    await new Promise((r) => ws.on('open', r));
    const chunk = 'x'.repeat(16384);
    for (let i = 0; i < 8; i++) ws.send(JSON.stringify({ type: 'stdin', data: chunk })); // 128 KiB against a 64 KiB cap
    ws.send(JSON.stringify({ type: 'stdin_close' }));
    await new Promise((r) => ws.on('close', r));
    const refused = events.filter((e) => e.type === 'error' && 'error' in e && e.error);
    expect(refused.length).toBe(4);
    for (const e of refused) expect(e).toMatchObject({ error: { code: 'QUOTA_EXCEEDED', message: expect.stringContaining('stdinBytes') } });
    expect(events.at(-1)).toMatchObject({ type: 'complete', exitCode: 0, result: { stdout: '65536\n' } });

    // The plain-HTTP twin: over the cap in one message is refused whole.
    const second = await api('POST', '/v1/executions', key, { code: 'import sys\nprint(len(sys.stdin.read()))', language: 'python', mode: 'cached', wait: false, interactive: true });
    const sid = String(second.body.executionId);
    const over = await api('POST', `/v1/executions/${sid}/input`, key, { type: 'stdin', data: 'y'.repeat(70000) });
    expect(over).toMatchObject({ status: 403, body: { code: 'QUOTA_EXCEEDED', details: { quota: 'stdinBytes' } } });
    expect((await api('POST', `/v1/executions/${sid}/input`, key, { type: 'stdin', data: 'ok\n' })).status).toBe(200);
    expect((await api('POST', `/v1/executions/${sid}/input`, key, { type: 'stdin_close' })).status).toBe(200);
    for (let i = 0; i < 100; i++) {
      const r = await api('GET', `/v1/executions/${sid}`, key);
      if (r.body.status === 'completed') {
        expect(r.body).toMatchObject({ result: { stdout: '3\n' } });
        return;
      }
      await sleep(200);
    }
    throw new Error('the second execution did not complete');
  });

  it('caps warm containers per key over all configurations: another configuration while the one container is busy is 429, nothing started; another key is unaffected', async () => {
    const a = gw.keys.create('warm-a');
    const b = gw.keys.create('warm-b').key;
    const busy = await api('POST', '/v1/executions', a.key, { code: 'import time; time.sleep(6); print("done")', language: 'python', mode: 'cached', wait: false });
    expect(busy.status).toBe(202);
    for (let i = 0; i < 50 && (await api('GET', `/v1/executions/${String(busy.body.executionId)}`, a.key)).body.status !== 'running'; i++) await sleep(100);
    const before = await settled();
    const other = { code: 'print("other")', language: 'python', mode: 'cached', resources: { memoryMb: 192 } };
    const refused = await api('POST', '/v1/executions', a.key, other);
    expect(refused).toMatchObject({ status: 429, body: { code: 'RATE_LIMIT_EXCEEDED', message: expect.stringContaining('FAAS_KEY_MAX_WARM_CONTAINERS') } });
    expect(await settled()).toEqual(before);
    // Another key: its own containers.
    expect(await api('POST', '/v1/executions', b, other)).toMatchObject({ status: 200, body: { stdout: 'other\n' } });
    // Once the first is idle again it makes room: the key still holds one warm container.
    for (let i = 0; i < 100 && (await api('GET', `/v1/executions/${String(busy.body.executionId)}`, a.key)).body.status !== 'completed'; i++) await sleep(200);
    expect(await api('POST', '/v1/executions', a.key, other)).toMatchObject({ status: 200, body: { stdout: 'other\n' } });
    const warm = (gw.engine as unknown as { warm: { ownerTotal(owner: string): number } }).warm;
    expect(warm.ownerTotal(a.info.id)).toBe(1);

    // A key going through configuration after configuration leaves no trail of pre-started
    // containers: those kept for configurations nobody prewarmed stay within FAAS_MAX_CONCURRENT (2 here).
    for (const memoryMb of [128, 160, 224, 256]) {
      expect((await api('POST', '/v1/executions', a.key, { code: 'print(1)', language: 'python', mode: 'cached', resources: { memoryMb } })).status).toBe(200);
    }
    await settled();
    const prewarmed = gw.config.pools.warmPoolSize + gw.config.pools.ephemeralPoolSize; // python's default configuration
    expect(gw.engine.stats().freshContainers).toBeLessThanOrEqual(prewarmed + 2);
    expect(warm.ownerTotal(a.info.id)).toBe(1);
  });

  it('caps family containers and stateful contexts per key, and snapshot bytes on disk: QUOTA_EXCEEDED naming the quota, nothing started or kept', async () => {
    const a = gw.keys.create('ctx-a').key;
    const b = gw.keys.create('ctx-b').key;
    const first = await api('POST', '/v1/executions', a, { code: 'x = 1\nprint(x)', language: 'python', mode: 'checkpointed' });
    expect(first.status).toBe(200);
    const before = await settled();
    const second = await api('POST', '/v1/executions', a, { code: 'print(2)', language: 'python', mode: 'checkpointed' });
    expect(second).toMatchObject({ status: 403, body: { code: 'QUOTA_EXCEEDED', details: { quota: 'familyContainers' } } });
    // The TypeScript SDK: a typed error naming the quota.
    const viaSdk = await new FaaSClient({ endpoint: gw.url, apiKey: a, maxRetries: 0 }).execute({ code: 'print(2)', language: 'python', mode: 'checkpointed' }).catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(QuotaExceededError);
    expect(viaSdk).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'familyContainers', status: 403 });
    expect(await settled()).toEqual(before);
    // More code in the existing context is fine.
    expect(await api('POST', '/v1/executions', a, { code: 'print(x + 1)', language: 'python', executionId: first.body.executionId })).toMatchObject({ status: 200, body: { stdout: '2\n' } });

    // Contexts: the first one plus one branch is the cap of 2.
    const snap = await api('POST', '/v1/snapshots', a, { executionId: first.body.executionId });
    expect(snap.status).toBe(201);
    expect((await api('POST', '/v1/branches', a, { snapshotId: snap.body.id })).status).toBe(201);
    expect(await api('POST', '/v1/branches', a, { snapshotId: snap.body.id })).toMatchObject({ status: 403, body: { code: 'QUOTA_EXCEEDED', details: { quota: 'contexts' } } });
    expect(await api('POST', `/v1/snapshots/${String(snap.body.id)}/restore`, a)).toMatchObject({ status: 403, body: { details: { quota: 'contexts' } } });

    // Another key: its own family container and contexts.
    const theirs = await api('POST', '/v1/executions', b, { code: 'open("small.txt", "w").write("hi")', language: 'python', mode: 'checkpointed' });
    expect(theirs.status).toBe(200);
    expect((await api('POST', '/v1/snapshots', b, { executionId: theirs.body.executionId })).status).toBe(201);

    // Snapshot bytes: 100 kB of random data is over the 60 kB cap: refused, and nothing listed.
    const c = gw.keys.create('ctx-c').key;
    const fat = await api('POST', '/v1/executions', c, { code: 'import os\nopen("big.bin", "wb").write(os.urandom(100_000))', language: 'python', mode: 'checkpointed' });
    expect(fat.status).toBe(200);
    expect(await api('POST', '/v1/snapshots', c, { executionId: fat.body.executionId })).toMatchObject({ status: 403, body: { code: 'QUOTA_EXCEEDED', details: { quota: 'snapshotBytes' } } });
    expect((await api('GET', '/v1/snapshots', c)).body).toEqual({ snapshots: [] });
  });

  it('refuses to start anything for a key at or below zero balance (402), reads stay allowed, and `keys credit` lets it run again', async () => {
    const broke = gw.keys.create('broke', { credit: 0 });
    const before = await settled();
    const refused = [
      await api('POST', '/v1/executions', broke.key, { code: 'echo no', language: 'bash' }),
      await api('POST', '/v1/executions', broke.key, { code: 'echo no', language: 'bash', wait: false }),
      await api('POST', '/v1/snapshots', broke.key, { executionId: 'ctx_whatever' }),
      await api('POST', '/v1/branches', broke.key, { snapshotId: 'snap_whatever' }),
      await api('POST', '/v1/instances', broke.key, {}),
    ];
    for (const r of refused) expect(r).toMatchObject({ status: 402, body: { code: 'INSUFFICIENT_CREDIT' } });
    const viaSdk = await new FaaSClient({ endpoint: gw.url, apiKey: broke.key, maxRetries: 0 }).execute({ code: 'echo no', language: 'bash' }).catch((e: unknown) => e);
    expect(viaSdk).toBeInstanceOf(InsufficientCreditError);
    expect(viaSdk).toMatchObject({ code: 'INSUFFICIENT_CREDIT', status: 402 });
    expect(await settled()).toEqual(before);
    expect(await api('GET', '/v1/usage/current', broke.key)).toMatchObject({ status: 200, body: { credit: 0, balance: 0 } });
    expect((await api('GET', '/v1/snapshots', broke.key)).status).toBe(200);

    const added = await runOperatorCli(['keys', 'credit', broke.info.id, '5'], { FAAS_DB_PATH: gw.config.dbPath });
    expect([added.code, added.out]).toEqual([0, expect.stringContaining(`key ${broke.info.id}: credit 5, balance 5`)]);
    expect(await api('POST', '/v1/executions', broke.key, { code: 'echo yes', language: 'bash' })).toMatchObject({ status: 200, body: { stdout: 'yes\n' } });

    // A balance that the first execution takes below zero: that one runs, the next does not.
    const thin = gw.keys.create('thin', { credit: 0.00001 }).key;
    expect((await api('POST', '/v1/executions', thin, { code: 'echo once', language: 'bash' })).status).toBe(200);
    expect(await api('POST', '/v1/executions', thin, { code: 'echo twice', language: 'bash' })).toMatchObject({ status: 402, body: { code: 'INSUFFICIENT_CREDIT' } });
    const unknown = await runOperatorCli(['keys', 'credit', 'ffffffffffff', '1'], { FAAS_DB_PATH: gw.config.dbPath });
    expect([unknown.code, unknown.out]).toEqual([2, expect.stringContaining('no key with id ffffffffffff')]);
  });

  it('takes ?apiKey= only on a WebSocket upgrade, and logs requests with the query blanked', async () => {
    const key = gw.keys.create('query').key;
    const plain = await fetch(`${gw.url}/v1/usage/current?apiKey=${key}`);
    expect(plain.status).toBe(401);
    expect(await plain.json()).toMatchObject({ code: 'AUTH_ERROR', message: expect.stringContaining('WebSocket') });

    // A second API over the same services, logging at info into memory.
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const server: ApiServer = await startApiServer({ log: pino({ level: 'info' }, sink), outputs: new JobStore(openDatabase(':memory:')), gateway: gw.gateway }, { port: 0 });
    try {
      const started = await call(server.url, 'POST', '/v1/executions', key, { code: 'print("over ws")', language: 'python', mode: 'cached', wait: false });
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}/v1/executions/${String(started.body.executionId)}/stream?apiKey=${key}`);
      const events: StreamEvent[] = [];
      ws.on('message', (m) => events.push(JSON.parse(m.toString()) as StreamEvent));
      await new Promise((r) => ws.on('close', r));
      expect(events.at(-1)).toMatchObject({ type: 'complete', result: { stdout: 'over ws\n' } });
      expect((await fetch(`${server.url}/v1/usage/current?apiKey=${key}`)).status).toBe(401);
    } finally {
      await server.close();
    }
    const log = lines.join('');
    expect(log).toContain('/stream?apiKey=[redacted]');
    expect(log).toContain('/v1/usage/current?apiKey=[redacted]');
    expect(log).not.toContain(key.slice(18));
  });

  it('limits the public routes per client IP (FAAS_PUBLIC_RATE_LIMIT_REQUESTS), keyed routes keep their own limits', async () => {
    const hash = `0x${'ab'.repeat(32)}`;
    for (let i = 0; i < 5; i++) expect((await fetch(`${gw.url}/v1/outputs/${hash}`)).status).toBe(404);
    const over = await fetch(`${gw.url}/v1/outputs/${hash}`);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await over.json()).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', resetAt: expect.any(String) });
    expect((await fetch(`${gw.url}/v1/jobs/1/1`)).status).toBe(429); // the same window, per IP
    expect((await fetch(`${gw.url}/v1/health`)).status).toBe(200);
    expect((await api('GET', '/v1/usage/current', gw.keys.create('after-public').key)).status).toBe(200);
  });

  it('creates the database file with mode 0600', () => {
    for (const f of [gw.config.dbPath, `${gw.config.dbPath}-wal`]) expect((statSync(f).mode & 0o777).toString(8), f).toBe('600');
  });
});

describe('per-key caps on instances', () => {
  let ig: InstanceGateway;
  const api = (method: string, path: string, key: string | null, body?: unknown) => call(ig.url, method, path, key, body);

  beforeAll(async () => {
    ig = await startInstanceGateway({ FAAS_INSTANCE_MAX_PER_KEY: '1', FAAS_KEY_MAX_FILE_OPS: '1' });
  });

  afterAll(async () => {
    await ig?.close();
  });

  it('instances per key (QUOTA_EXCEEDED, also for starts at the same time), concurrent file listings per key (429), and the SSH private key gone from the database file once handed out', async () => {
    const a = ig.keys.create('inst-a').key;
    const b = ig.keys.create('inst-b').key;
    const body = { resources: { cpuCores: 1, memoryMb: 512, diskGb: 0.5 }, ttl: 600 };
    const both = await Promise.all([api('POST', '/v1/instances', a, body), api('POST', '/v1/instances', a, body)]);
    expect(both.map((r) => r.status).sort()).toEqual([201, 403]);
    expect(both.find((r) => r.status === 403)!.body).toMatchObject({ code: 'QUOTA_EXCEEDED', details: { quota: 'instances' } });
    expect(await containersOf(ig)).toHaveLength(1);
    const mine = String(both.find((r) => r.status === 201)!.body.id);
    const theirs = await api('POST', '/v1/instances', b, body);
    expect(theirs.status).toBe(201);
    expect(await containersOf(ig)).toHaveLength(2);

    // The private key: handed out once, then in no page of the database file or its log.
    const ssh = await api('POST', `/v1/instances/${mine}/ssh`, a, {});
    const pem = String(ssh.body.privateKey);
    expect(pem).toContain('BEGIN OPENSSH PRIVATE KEY');
    expect((await api('POST', `/v1/instances/${mine}/ssh`, a, {})).body.privateKey).toBeNull();
    const row = ig.db.prepare('SELECT private_key FROM instances WHERE id = ?').get(mine) as { private_key: string | null };
    expect(row.private_key).toBeNull();
    const body64 = pem.split('\n').filter((l) => l && !l.startsWith('-----')).slice(1, 3); // lines of the key material
    for (const f of [ig.config.dbPath, `${ig.config.dbPath}-wal`]) {
      let bytes = Buffer.alloc(0);
      try {
        bytes = readFileSync(f);
      } catch {
        continue; // no log file: nothing in it
      }
      for (const l of body64) expect(bytes.includes(l), `${f} holds the handed-out key`).toBe(false);
    }

    // File listings: a tree big enough that listing it takes a while; one at a time for the key.
    const made = await api('POST', `/v1/instances/${mine}/exec`, a, { command: 'python3 -c "import os\nos.makedirs(\'many\', exist_ok=True)\nfor i in range(20000): open(f\'many/f{i}\', \'w\').close()"' });
    expect(made.body).toMatchObject({ exitCode: 0 });
    await api('POST', `/v1/instances/${String(theirs.body.id)}/exec`, b, { command: 'mkdir -p some && touch some/one' });
    const lists = await Promise.all([
      ...Array.from({ length: 4 }, () => api('POST', `/v1/instances/${mine}/files/list`, a, { path: 'many' })),
      api('POST', `/v1/instances/${String(theirs.body.id)}/files/list`, b, { path: 'some' }),
    ]);
    const statuses = lists.slice(0, 4).map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
    expect(lists.find((r) => r.status === 429)!.body).toMatchObject({ code: 'RATE_LIMIT_EXCEEDED', message: expect.stringContaining('FAAS_KEY_MAX_FILE_OPS') });
    expect(lists[4]).toMatchObject({ status: 200, body: { exists: true } }); // another key: its own slots
    // Once they are done, the key lists again.
    expect((await api('POST', `/v1/instances/${mine}/files/list`, a, { path: 'many' })).status).toBe(200);
  }, 240_000);
});
