// GET /openapi.json (OpenAPI 3.1, generated from the zod schemas that also validate the
// requests; see ../openapi/) and GET /docs, the same routes as a readable page. Both describe
// the routes this server registered: built once it is ready, from what fastify reported.
import type { FastifyInstance } from 'fastify';
import { buildOpenApi, servedRoutes } from '../openapi/document.js';
import type { OpenApiDocument, RegisteredRoute } from '../openapi/document.js';

const escape = (s: string) => s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);

function page(doc: OpenApiDocument, registered: readonly RegisteredRoute[]): string {
  const schema = (name: string) => escape(JSON.stringify(doc.components.schemas[name], null, 2));
  const rows = servedRoutes(registered)
    .map((r) => {
      const body = typeof r.body === 'string' ? r.body : undefined;
      const answers = r.success.flatMap((s) => (typeof s.body === 'string' ? [[s.status, s.body] as const] : s.body?.name ? [[s.status, s.body.name] as const] : []));
      return (
        `<h3><code>${r.method} ${escape(r.path)}</code>${r.auth ? '' : ' <small>(no key)</small>'}</h3><p>${escape(r.summary)}</p>` +
        (body ? `<details><summary>request: ${body}</summary><pre>${schema(body)}</pre></details>` : '') +
        answers.map(([status, name]) => `<details><summary>${status}: ${name}</summary><pre>${schema(name)}</pre></details>`).join('')
      );
    })
    .join('\n');
  return `<!doctype html><meta charset="utf-8"><title>Tangle FaaS API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:.5rem;overflow:auto}</style>
<h1>Tangle FaaS operator API</h1>
<p>Authenticate with <code>Authorization: Bearer &lt;key&gt;</code>. Errors are <code>{code, message, field?, resetAt?, details?}</code> with the HTTP status of their code; 429 carries <code>resetAt</code> and <code>Retry-After</code>. Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
${rows}`;
}

/** `registered`: the routes fastify reported (filled until the server is ready). */
export function registerDocRoutes(app: FastifyInstance, registered: readonly RegisteredRoute[]): void {
  let doc: OpenApiDocument | null = null;
  let html = '';
  app.addHook('onReady', async () => {
    doc = buildOpenApi(registered);
    html = page(doc, registered);
  });
  app.get('/openapi.json', () => doc);
  app.get('/docs', (_req, reply) => reply.type('text/html; charset=utf-8').send(html));
}
