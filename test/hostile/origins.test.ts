// Exposed ports, each on an origin of its own (`<instance>-<name>.localhost:<port>`), against an
// app that tries to reach past its exposure: cookies for other hosts, a service worker scope,
// hop-by-hop headers, the gateway's token cookie. Real gateway, real instance.
import { request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FaaSClient } from '../../src/index.js';
import type { Exposure, InstanceInfo } from '../../src/api/index.js';
import { startInstanceGateway } from '../instances/fixtures.js';
import type { InstanceGateway } from '../instances/fixtures.js';
import { localhostLookup } from '../localhost.js';

let gw: InstanceGateway;
let sdk: FaaSClient;
let key: string;
let otherKey: string;
let inst: InstanceInfo;
let a: Exposure;
let b: Exposure;

/** The app in the instance: echoes what reached it; /hostile answers with headers no exposure may pass on. */
const APP = `
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        h = self.headers
        body = f"port={self.server.server_port} path={self.path} host={h.get('host')} cookie={h.get('cookie')} auth={h.get('authorization')}\\n".encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        if self.path.startswith('/hostile'):
            for c in ('ok=1; Path=/; HttpOnly', 'sub=1; Path=/app', 'wide=1; Domain=localhost; Path=/', 'wide2=1; domain=.localhost',
                      'rel=1; Path=i/other', 'faas_token=stolen; Path=/'):
                self.send_header('Set-Cookie', c)
            self.send_header('Service-Worker-Allowed', '/')
            self.send_header('Connection', 'X-Secret')
            self.send_header('X-Secret', 'hop')
            self.send_header('Keep-Alive', 'timeout=99')
            self.send_header('Proxy-Authenticate', 'Basic realm=x')
            self.send_header('Proxy-Connection', 'keep-alive')
            self.send_header('Trailer', 'X-T')
            self.send_header('Upgrade', 'h2c')
            self.send_header('TE', 'trailers')
            self.send_header('X-Kept', 'yes')
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
`;

/** A WebSocket server whose 101 answer carries what no exposure may pass on; it says "hi". */
const WS_APP = `
import base64, hashlib, socket, threading
def handle(c):
    data = b''
    while b'\\r\\n\\r\\n' not in data:
        d = c.recv(4096)
        if not d:
            return
        data += d
    key = [l.split(b':', 1)[1].strip() for l in data.split(b'\\r\\n') if l.lower().startswith(b'sec-websocket-key:')][0]
    accept = base64.b64encode(hashlib.sha1(key + b'258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest())
    # /lf: a header line ended by a bare LF, hiding another header behind it.
    smuggled = b'X-A: b\\nSet-Cookie: lf=1; Domain=localhost\\r\\n' if data.split(b' ', 2)[1].startswith(b'/lf') else b''
    c.sendall(b'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Accept: ' + accept
              + b'\\r\\n' + smuggled + b'Set-Cookie: ws=1; Path=/\\r\\nSet-Cookie: wide=1; Domain=localhost\\r\\nService-Worker-Allowed: /\\r\\nKeep-Alive: timeout=99\\r\\nX-Kept: yes\\r\\n\\r\\n\\x81\\x02hi')
    while c.recv(4096):
        pass
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 8102))
s.listen()
while True:
    threading.Thread(target=handle, args=(s.accept()[0],), daemon=True).start()
`;

interface Got {
  status: number;
  headers: IncomingHttpHeaders;
  raw: string[];
  body: string;
}

/** A GET as a browser on this machine would send it (*.localhost is loopback). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, lookup: localhostLookup as never, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  gw = await startInstanceGateway();
  key = gw.keys.create('origins').key;
  otherKey = gw.keys.create('origins-other').key;
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: key, timeout: 60_000 });
  inst = await sdk.instances.start({ resources: { diskGb: 0.1 } });
  const r = await sdk.instances.exec(inst.id, {
    command: `cat > ~/app.py && for p in 8100 8101; do (setsid nohup python3 ~/app.py $p >/dev/null 2>&1 &); done && for p in 8100 8101; do for i in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $p))" 2>/dev/null && break; sleep 0.05; done; done`,
    stdin: APP,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  const w = await sdk.instances.exec(inst.id, {
    command: `cat > ~/ws.py && (setsid nohup python3 ~/ws.py >~/ws.log 2>&1 &) && for i in $(seq 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', 8102))" 2>/dev/null && break; sleep 0.05; done`,
    stdin: WS_APP,
  });
  expect(w.exitCode, w.stderr).toBe(0);
  a = await sdk.instances.expose(inst.id, { name: 'a', port: 8100 });
  b = await sdk.instances.expose(inst.id, { name: 'b', port: 8101 });
}, 240_000);

afterAll(async () => {
  await gw?.close();
});

describe('each exposed port is its own origin', () => {
  it('two exposures get different origins, neither the gateway’s, each serving its own port', async () => {
    const port = new URL(gw.url).port;
    expect(a.url).toBe(`http://${inst.id}-a.localhost:${port}/`);
    expect(b.url).toBe(`http://${inst.id}-b.localhost:${port}/`);
    const origins = new Set([new URL(a.url).origin, new URL(b.url).origin, new URL(gw.url).origin]);
    expect(origins.size).toBe(3);
    const ra = await get(`${a.url}x?faas_token=${a.token}`);
    const rb = await get(`${b.url}x?faas_token=${b.token}`);
    expect(ra.body).toBe(`port=8100 path=/x host=${inst.id}-a.localhost:${port} cookie=None auth=None\n`);
    expect(rb.body).toBe(`port=8101 path=/x host=${inst.id}-b.localhost:${port} cookie=None auth=None\n`);
    // The token's cookie is for that host only (no Domain) and the whole of it.
    expect(ra.headers['set-cookie']).toEqual([`faas_token=${a.token}; Path=/; HttpOnly; SameSite=Lax`]);
    // Paths that are the API's on the gateway are the app's on its host.
    const api = await get(`${a.url}v1/usage/current`, { authorization: `Bearer ${key}` });
    expect(api.body).toMatch(/^port=8100 path=\/v1\/usage\/current /);
    // The listing of exposures says the same URLs.
    expect((await sdk.instances.exposures(inst.id)).map((e) => e.url).sort()).toEqual([a.url, b.url]);
  });

  it('drops Set-Cookie with a Domain or a Path outside, the token cookie, Service-Worker-Allowed and hop-by-hop headers', async () => {
    const r = await get(`${a.url}hostile`, { authorization: `Bearer ${key}` });
    expect(r.status).toBe(200);
    expect(r.headers['set-cookie']).toEqual(['ok=1; Path=/; HttpOnly', 'sub=1; Path=/app']);
    expect(r.headers['service-worker-allowed']).toBeUndefined();
    for (const h of ['x-secret', 'proxy-authenticate', 'proxy-connection', 'trailer', 'upgrade', 'te']) expect(r.headers[h], h).toBeUndefined();
    // Node's server frames its own answer (its own Connection / Keep-Alive), never the app's.
    expect(r.headers['keep-alive'] ?? '').not.toMatch(/99/);
    expect(r.headers.connection ?? '').not.toMatch(/x-secret/i);
    expect(r.headers['x-kept']).toBe('yes');
  });

  it('the owner key and the URL token still open it; another key gets 404, none 401, another exposure’s token 401', async () => {
    const byKey = await get(`${a.url}k`, { authorization: `Bearer ${key}` });
    expect([byKey.status, byKey.body]).toEqual([200, expect.stringMatching(/path=\/k .* auth=None\n$/)]);
    const byToken = await get(`${a.url}t?faas_token=${a.token}`);
    expect(byToken.status).toBe(200);
    const cookie = (byToken.headers['set-cookie']![0] ?? '').split(';')[0]!;
    const byCookie = await get(`${a.url}c`, { cookie: `${cookie}; mine=1` });
    expect([byCookie.status, byCookie.body]).toEqual([200, expect.stringMatching(/path=\/c .* cookie=mine=1 auth=None\n$/)]);
    expect((await get(`${a.url}x`, { authorization: `Bearer ${otherKey}` })).status).toBe(404);
    expect((await get(`${a.url}x`)).status).toBe(401);
    expect((await get(`${a.url}x?faas_token=nope`)).status).toBe(401);
    expect((await get(`${b.url}x?faas_token=${a.token}`)).status).toBe(401);
    expect((await get(`${b.url}x`, { cookie })).status).toBe(401);
    // The cookie alone does not carry a state-changing request from another origin (a sibling
    // exposure's page under a shared domain sends it too); from its own origin it does.
    const bOrigin = new URL(b.url).origin;
    expect((await get(`${a.url}post`, { cookie, origin: bOrigin }, 'POST')).status).toBe(401);
    expect((await get(`${a.url}post`, { cookie, origin: new URL(a.url).origin }, 'POST')).status).not.toBe(401);
    expect((await get(`${a.url}post?faas_token=${a.token}`, { origin: bOrigin }, 'POST')).status).not.toBe(401); // the URL token still opens it
    // A host under the domain that names no exposure: not found.
    expect((await get(`http://inst-0000000000000000-a.localhost:${new URL(gw.url).port}/`, { authorization: `Bearer ${key}` })).status).toBe(404);
  });

  it('a WebSocket upgrade passes, its 101 answer filtered the same way (a bare LF hides nothing)', async () => {
    const e = await sdk.instances.expose(inst.id, { name: 'ws', port: 8102 });
    for (const path of ['socket', 'lf']) {
      const got = await new Promise<{ headers: IncomingHttpHeaders; message: string }>((resolve, reject) => {
        let headers: IncomingHttpHeaders = {};
        const ws = new WebSocket(`${e.url.replace('http', 'ws')}${path}?faas_token=${e.token}`, { lookup: localhostLookup as never });
        ws.on('upgrade', (res) => (headers = res.headers));
        ws.on('message', (m) => {
          resolve({ headers, message: m.toString() });
          ws.terminate();
        });
        ws.on('error', reject);
      });
      expect(got.message, path).toBe('hi');
      expect([got.headers.upgrade, got.headers.connection]).toEqual(['websocket', 'Upgrade']);
      expect(got.headers['set-cookie'], path).toEqual(['ws=1; Path=/']);
      expect(got.headers['service-worker-allowed']).toBeUndefined();
      expect(got.headers['keep-alive']).toBeUndefined();
      expect(got.headers['x-kept']).toBe('yes');
      if (path === 'lf') expect(got.headers['x-a']).toBe('b');
    }
  });

  it('the old /i/<id>/<name>/ path on the gateway only redirects to the exposure’s host; WebSockets there get 404', async () => {
    const r = await get(`${gw.url}/i/${inst.id}/a/deep/x?faas_token=${a.token}&q=1`);
    expect(r.status).toBe(308);
    expect(r.headers.location).toBe(`${a.url}deep/x?faas_token=${a.token}&q=1`);
    expect(r.headers['set-cookie']).toBeUndefined();
    expect(r.body).toBe('');
    expect((await get(`${gw.url}/i/${inst.id}/a`)).headers.location).toBe(a.url);
    const status = await new Promise<number>((resolve) => {
      const w = new WebSocket(`${gw.url.replace('http', 'ws')}/i/${inst.id}/a/ws?faas_token=${a.token}`);
      w.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      w.on('open', () => resolve(101));
      w.on('error', () => undefined);
    });
    expect(status).toBe(404);
  });
});
