// /openapi.json as the gateway serves it: valid OpenAPI 3.1 (checked by an OpenAPI validator
// from npm, its schemas compiled by a JSON Schema 2020-12 validator in strict mode), complete
// (every route fastify registered is in it, and nothing else; path parameters declared; error
// statuses from the one code table), true to what the server answers, and matching the Python
// SDK's parsers. The gateway is the real one (createGateway + startApiServer) over an engine
// that is never started: its Docker client points at a socket that does not exist, so no
// container is touched; only what needs no Docker is called.
import { execFile } from 'node:child_process';
import Docker from 'dockerode';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, startApiServer } from '../../src/api/index.js';
import type { ApiServer } from '../../src/api/index.js';
import { UNAVAILABLE_ROUTES } from '../../src/api/handlers/unavailable.js';
import { operationKey, pathParams, toTemplate } from '../../src/api/openapi/document.js';
import type { OpenApiDocument, RegisteredRoute } from '../../src/api/openapi/document.js';
import { loadConfig } from '../../src/config.js';
import { HTTP_STATUS_OF_CODE } from '@faas/sdk/errors';
import type { ErrorCode } from '@faas/sdk/errors';
import { createLogger } from '../../src/log.js';
import { createSandbox } from '../../src/sandbox/index.js';
import { JobStore, openDatabase } from '../../src/store/index.js';
import type { Db } from '../../src/store/index.js';

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}

type Served = { server: ApiServer; doc: OpenApiDocument; close(): Promise<void> };

const log = createLogger('silent', 'openapi-test');

/** The real gateway over an unstarted engine (no Docker reached); `snapshots: false` as on an engine without them. */
async function serve(opts: { gateway: boolean; snapshots?: boolean }): Promise<Served & { key: string }> {
  const config = loadConfig({ FAAS_LOG_LEVEL: 'silent', FAAS_PREWARM_LANGUAGES: '' });
  const db: Db = openDatabase(':memory:');
  const sandbox = createSandbox(config, { log, docker: new Docker({ socketPath: '/nonexistent/openapi-test.sock' }) });
  const g = createGateway(config, sandbox, db, log);
  const gateway = opts.snapshots === false ? { ...g, snapshots: undefined } : g;
  const server = await startApiServer({ log, outputs: new JobStore(db), ...(opts.gateway ? { gateway } : {}) }, { port: 0 });
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApiDocument;
  return {
    server,
    doc,
    key: g.keys.create('openapi').key,
    close: async () => {
      await server.close();
      await g.instanceManager.close();
      // The engine was never started: it holds no container (its shutdown would ask Docker for strays).
      db.close();
    },
  };
}

/** What fastify registered, as `METHOD /template` (the HEAD twin fastify adds to each GET left out). */
function registered(routes: readonly RegisteredRoute[]): string[] {
  const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
  return [...new Set(routes.filter((r) => !(r.method === 'HEAD' && gets.has(r.url))).map((r) => operationKey(r.method, toTemplate(r.url))))].sort();
}

function operations(doc: OpenApiDocument): Array<[key: string, path: string, op: Operation]> {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => [operationKey(m, path), path, op as Operation] as [string, string, Operation]));
}

/** The document's schemas compiled by Ajv (JSON Schema 2020-12, strict: an unknown keyword fails). */
function schemaValidator(doc: OpenApiDocument) {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true, formats: { 'date-time': true, date: true } });
  ajv.addKeyword('components');
  ajv.addSchema({ $id: 'openapi.json', components: doc.components });
  return (name: string, data: unknown) => {
    const validate = ajv.getSchema(`openapi.json#/components/schemas/${name}`) ?? ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` });
    return validate(data) ? [] : (validate.errors ?? []);
  };
}

let full: Served & { key: string };

beforeAll(async () => {
  full = await serve({ gateway: true });
});

afterAll(async () => {
  await full?.close();
});

describe('/openapi.json', () => {
  it('is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async () => {
    expect(full.doc.openapi).toBe('3.1.0');
    const result = await new Validator().validate(full.doc as unknown as Record<string, unknown>);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    // The validator is not lenient: a path parameter that is not required fails it.
    const broken = structuredClone(full.doc) as unknown as { paths: Record<string, Record<string, { parameters: Array<Record<string, unknown>> }>> };
    broken.paths['/v1/executions/{id}']!.get!.parameters[0]!.required = false;
    const refused = await new Validator().validate(broken);
    expect(refused.valid).toBe(false);
  });

  it('has schemas that compile as JSON Schema 2020-12 in strict mode (no OpenAPI 3.0 keywords, no $id fragments)', () => {
    const check = schemaValidator(full.doc);
    const names = Object.keys(full.doc.components.schemas);
    expect(names.length).toBeGreaterThan(30);
    for (const name of names) expect(() => check(name, {}), name).not.toThrow();
    expect(JSON.stringify(full.doc)).not.toMatch(/"nullable":|"\$schema":|"\$id":|"definitions":/);
    // Every $ref of the document (schemas and responses) points at something in it.
    const refs = [...JSON.stringify(full.doc).matchAll(/"\$ref":"#\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(100);
    for (const pointer of new Set(refs)) {
      const target = pointer.split('/').reduce<unknown>((node, seg) => (node as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')], full.doc);
      expect(target, pointer).toBeTypeOf('object');
    }
    const ids = operations(full.doc).map(([, , op]) => (op as { operationId?: string }).operationId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('describes exactly the routes fastify registered, each path parameter declared (and /docs lists them)', async () => {
    const html = await (await fetch(`${full.server.url}/docs`)).text();
    const documented = operations(full.doc).map(([key]) => key);
    const proxy = 'GET /i/{id}/{name}/{rest}'; // served before fastify (raw HTTP listener), so not in its list
    expect(documented.filter((k) => k !== proxy).sort()).toEqual(registered(full.server.routes));
    expect(documented).toContain(proxy);
    for (const key of ['GET /v1/jobs/{serviceId}/{callId}', 'GET /v1/outputs/{hash}', 'GET /v1/executions/{id}/events', 'POST /v1/executions/{id}/input', 'POST /v1/branches/merge', 'GET /v1/usage/metrics', 'PUT /v1/instances/{id}/files', 'DELETE /v1/instances/{id}/exposures/{name}']) {
      expect(documented).toContain(key);
    }
    for (const [key, path, op] of operations(full.doc)) {
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name), key).toEqual(pathParams(path));
      expect(declared.every((p) => p.required), key).toBe(true);
      expect(html, key).toContain(`<code>${key.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}</code>`);
      if (key !== proxy) expect(full.server.app.hasRoute({ method: key.split(' ')[0] as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), key).toBe(true);
    }
  });

  it('gives every operation a success answer and its errors as ErrorBody, each status the one of its codes', () => {
    const created = ['POST /v1/snapshots', 'POST /v1/snapshots/{id}/restore', 'POST /v1/branches', 'POST /v1/branches/merge', 'POST /v1/instances'];
    for (const [key, , op] of operations(full.doc)) {
      const statuses = Object.keys(op.responses);
      expect(statuses.some((s) => /^(101|2\d\d|308)$/.test(s)), key).toBe(true);
      expect(statuses, key).toContain('default');
      expect(statuses.some((s) => /^5\d\d$/.test(s)), key).toBe(true);
      if (created.includes(key)) expect(statuses, key).toContain('201');
      for (const [status, r] of Object.entries(op.responses)) {
        if (!/^[45]\d\d$/.test(status)) continue;
        const schema = r.content?.['application/json']?.schema as { allOf: [{ $ref: string }, { properties: { code: { enum: ErrorCode[] } } }] };
        expect(schema.allOf[0].$ref, `${key} ${status}`).toBe('#/components/schemas/ErrorBody');
        for (const code of schema.allOf[1].properties.code.enum) expect(HTTP_STATUS_OF_CODE[code], `${key} ${status} ${code}`).toBe(Number(status));
      }
    }
    const execute = full.doc.paths['/v1/executions']!.post as Operation;
    expect(Object.keys(execute.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '401', '402', '429', '503']));
  });

  it('matches what the server answers', async () => {
    const check = schemaValidator(full.doc);
    const get = async (path: string, key?: string) => {
      const res = await fetch(`${full.server.url}${path}`, { redirect: 'manual', headers: key ? { authorization: `Bearer ${key}` } : {} });
      return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? ((await res.json()) as unknown) : null };
    };
    const cases: Array<[path: string, key: string | undefined, status: number, schema: string | null]> = [
      ['/v1/health', undefined, 200, 'Health'],
      ['/v1/usage/current', full.key, 200, 'CurrentUsage'],
      ['/v1/usage/metrics?startDate=2026-01-01', full.key, 200, 'UsageMetrics'],
      ['/v1/usage/metrics?startDate=yesterday', full.key, 400, 'ErrorBody'],
      ['/v1/snapshots', full.key, 200, 'SnapshotList'],
      ['/v1/executions/nope', full.key, 404, 'ErrorBody'],
      ['/v1/usage/current', undefined, 401, 'ErrorBody'],
      [`/v1/outputs/0x${'ab'.repeat(32)}`, undefined, 404, 'ErrorBody'],
      ['/v1/jobs/1/x', undefined, 400, 'ErrorBody'],
      ['/i/inst-0123456789abcdef/web/a/b?q=1', undefined, 308, null],
    ];
    for (const [path, key, status, schema] of cases) {
      const r = await get(path, key);
      expect(r.status, path).toBe(status);
      if (schema) expect(check(schema, r.body), `${path}: ${JSON.stringify(r.body)}`).toEqual([]);
      const op = full.doc.paths[Object.keys(full.doc.paths).find((p) => new RegExp(`^${p.replace(/\{rest\}/, '.*').replace(/\{\w+\}/g, '[^/]+')}$`).test(path.split('?')[0]!))!]!.get as Operation;
      expect(Object.keys(op.responses), path).toContain(String(status));
    }
  });

  it('on an API without a gateway lists only the public routes; without snapshots, their routes (501) are still described', async () => {
    const bare = await serve({ gateway: false });
    const noSnapshots = await serve({ gateway: true, snapshots: false });
    try {
      expect(operations(bare.doc).map(([k]) => k).sort()).toEqual(registered(bare.server.routes));
      expect(Object.keys(bare.doc.paths).sort()).toEqual(['/docs', '/openapi.json', '/v1/health', '/v1/jobs/{serviceId}/{callId}', '/v1/outputs/{hash}']);
      const documented = operations(noSnapshots.doc).map(([k]) => k);
      for (const [method, url] of UNAVAILABLE_ROUTES) expect(documented).toContain(operationKey(method, toTemplate(url)));
      const res = await fetch(`${noSnapshots.server.url}/v1/snapshots`, { headers: { authorization: `Bearer ${noSnapshots.key}` } });
      expect(res.status).toBe(501);
      expect(Object.keys((noSnapshots.doc.paths['/v1/snapshots']!.get as Operation).responses)).toContain('501');
    } finally {
      await bare.close();
      await noSnapshots.close();
    }
  });

  it("is what the Python SDK's parsers read (field names, required-ness, error codes), and the check sees a drift", async () => {
    const report = await pythonCheck(full.doc);
    expect(report.checked).toEqual(
      expect.arrayContaining([
        'faas_sdk.models.ExecutionResult ~ ExecutionResult',
        'faas_sdk.models.ExecutionInfo ~ ExecutionInfo',
        'faas_sdk.models.StreamEvent ~ StreamEvent',
        'faas_sdk.models.CurrentUsage ~ CurrentUsage',
        'faas_sdk.models.UsageMetrics ~ UsageMetrics',
        'faas_sdk.instances.Instance ~ InstanceInfo',
        'faas_sdk.exceptions.error_from_body ~ ErrorBody',
      ]),
    );
    expect(report.problems).toEqual([]);

    // The same document with a renamed answer field and a new required one: both are caught.
    const drifted = structuredClone(full.doc);
    const result = drifted.components.schemas.ExecutionResult as { properties: Record<string, unknown>; required: string[] };
    result.properties.exit_code = result.properties.exitCode;
    delete result.properties.exitCode;
    result.properties.region = { type: 'string' };
    result.required = [...result.required.filter((k) => k !== 'exitCode'), 'exit_code', 'region'];
    const problems = (await pythonCheck(drifted)).problems.join('\n');
    expect(problems).toMatch(/ExecutionResult: exitCode is read but the document has no such property/);
    expect(problems).toMatch(/ExecutionResult.exit_code: the document's ExecutionResult has no property exitCode/);
    expect(problems).toMatch(/ExecutionResult: required property region is not read/);
  });
});

/** test/api/openapi_python_models.py over a document: what it checked and the mismatches. */
function pythonCheck(doc: OpenApiDocument): Promise<{ checked: string[]; problems: string[] }> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-B', 'test/api/openapi_python_models.py'], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' }, timeout: 60_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as { checked: string[]; problems: string[] }),
    );
    child.stdin!.end(JSON.stringify(doc));
  });
}
