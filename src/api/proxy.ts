// The gateway's HTTP and WebSocket proxy to an instance's exposed ports: each exposure is served
// on a host name of its own, its answers filtered so a page of one exposure cannot reach past its
// own origin (cookies, service workers, hop-by-hop headers) and a malformed answer from inside an
// instance becomes a 502, never a throw in the operator. Who may use a URL is decided before
// (InstanceService.authorizeProxy); this moves the bytes.
import { request as httpRequest } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ExposureRecord } from '../store/index.js';

/** Where a proxied request goes: a connection to a port inside an instance (through its relay). */
export interface ProxyConnector {
  connect(instanceId: string, port: number): Promise<Duplex>;
  log: Logger;
}

/** What node's http server refuses in a reason phrase (as in a header value). */
const INVALID_REASON = /[^\t\x20-\x7e\x80-\xff]/;
/** Headers that belong to one connection and are not passed on by a proxy. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);
export const TOKEN_PARAM = 'faas_token';
export const TOKEN_COOKIE = 'faas_token';

// ---- exposed ports: one origin each ---------------------------------------------------------
// An exposed port is served on a host name of its own, `<instance id>-<name>.<domain>`, so a page
// of one exposure is another origin than the gateway and every other exposure: its service
// workers, cookies and same-origin requests stay with it.

const EXPOSURE_LABEL = /^(inst-[0-9a-f]{16})-([a-z0-9][a-z0-9-]{0,31})$/;

/** The host name an exposed port is served on. */
export const exposureHost = (domain: string, id: string, name: string): string => `${id}-${name}.${domain}`;

/** The instance and exposure a Host header names (under `domain`), or null. */
export function parseExposureHost(host: string | undefined, domain: string): { id: string; name: string } | null {
  if (!host) return null;
  const h = host.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
  if (!h.endsWith(`.${domain}`)) return null;
  const m = EXPOSURE_LABEL.exec(h.slice(0, -(domain.length + 1)));
  return m ? { id: m[1]!, name: m[2]! } : null;
}

/** Response headers an exposed app may not send: they would reach past its own origin or connection. */
const DROPPED_RESPONSE = new Set([...HOP_BY_HOP, 'service-worker-allowed']);

/**
 * A Set-Cookie an exposed app may send: host-only (no Domain attribute), a Path inside its
 * scope (the whole of its own host: any path starting with `/`), never the gateway's token.
 */
function cookieAllowed(value: string): boolean {
  const [pair = '', ...attrs] = value.split(';');
  if (pair.split('=')[0]!.trim() === TOKEN_COOKIE) return false;
  for (const a of attrs) {
    const eq = a.indexOf('=');
    const k = (eq < 0 ? a : a.slice(0, eq)).trim().toLowerCase();
    const v = eq < 0 ? '' : a.slice(eq + 1).trim();
    if (k === 'domain') return false;
    if (k === 'path' && !v.startsWith('/')) return false;
  }
  return true;
}

/**
 * The answer to an upgrade, passed on with its head filtered as any exposed answer's (see
 * exposedResponseHeaders), then its bytes as they come. A head over 64 KiB ends both sides.
 */
function pipeUpgradeAnswer(ch: Duplex, socket: Duplex): void {
  let buf: Buffer = Buffer.alloc(0);
  const onData = (c: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, c]) : c;
    // A bare LF ends a line too (as lenient clients read it): nothing can hide behind one.
    const text = buf.toString('latin1');
    const blank = /\r?\n\r?\n/.exec(text);
    if (!blank) {
      if (buf.length > 64 << 10) {
        ch.destroy();
        socket.destroy();
      }
      return;
    }
    ch.off('data', onData);
    ch.pause();
    const [status = '', ...lines] = text.slice(0, blank.index).split(/\r?\n/);
    if (!/^HTTP\/1\.[01] [1-9]\d\d(?: [\t\x20-\x7e\x80-\xff]*)?$/.test(status)) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      ch.destroy();
      return;
    }
    const raw: string[] = [];
    for (const l of lines) {
      const i = l.indexOf(':');
      const name = l.slice(0, i);
      const value = l.slice(i + 1).trim();
      if (i > 0 && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) && !/[^\t\x20-\x7e\x80-\xff]/.test(value)) raw.push(name, value);
    }
    const headers = exposedResponseHeaders(raw, /^HTTP\/1\.[01] 101(?: |$)/.test(status));
    const out = [status];
    for (let i = 0; i < headers.length; i += 2) out.push(`${headers[i]}: ${headers[i + 1]}`);
    socket.write(Buffer.from(`${out.join('\r\n')}\r\n\r\n`, 'latin1'));
    const rest = Buffer.byteLength(text.slice(0, blank.index + blank[0].length), 'latin1');
    if (buf.length > rest) socket.write(buf.subarray(rest));
    ch.pipe(socket);
  };
  ch.on('data', onData);
}

/**
 * The upstream answer's headers, without what an exposed app may not send (raw pairs). A
 * WebSocket's `101 Switching Protocols` keeps its Connection and Upgrade.
 */
export function exposedResponseHeaders(raw: string[], switching = false): string[] {
  const kept = switching ? new Set(['connection', 'upgrade']) : new Set<string>();
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const n of raw[i + 1]!.split(',')) named.add(n.trim().toLowerCase());
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lk = raw[i]!.toLowerCase();
    if (!kept.has(lk) && (DROPPED_RESPONSE.has(lk) || named.has(lk))) continue;
    if (lk === 'set-cookie' && !cookieAllowed(raw[i + 1]!)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  return out;
}
/** An exposed URL's target, once the caller was let in. */
export interface ProxyTarget {
  instanceId: string;
  exposure: ExposureRecord;
  /** The path (and query) to send to the port. */
  path: string;
  /** Set this cookie on the answer (the caller came with `?faas_token=`). */
  setCookie: string | null;
  /** Headers to pass on (credentials removed). */
  headers: Record<string, string | string[]>;
}

/** Sends one HTTP request to the exposed port and its answer back. */
export function proxyHttp(req: IncomingMessage, res: ServerResponse, t: ProxyTarget, to: ProxyConnector): void {
  const prefix = `/i/${t.instanceId}/${t.exposure.name}`;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(t.headers)) if (!HOP_BY_HOP.has(k)) headers[k] = v;
  headers.host = req.headers.host ?? '127.0.0.1';
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = req.headers.host ?? '';
  if (!t.exposure.stripPrefix) headers['x-forwarded-prefix'] = prefix;
  headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
  const up = httpRequest({
    method: req.method,
    path: t.path,
    headers,
    createConnection: (_opts, cb) => {
      to.connect(t.instanceId, t.exposure.port).then(
        (ch) => cb(null, ch as unknown as Socket),
        (err: Error) => cb(err, undefined as unknown as Socket),
      );
      return undefined as unknown as Socket;
    },
  });
  const fail = (err: Error) => {
    if (res.headersSent) {
      if (!res.writableEnded) res.destroy(); // not a 502 already on its way
      return;
    }
    const body = JSON.stringify({ code: 'SANDBOX_ERROR', message: `Nothing answered on port ${t.exposure.port} in instance ${t.instanceId}, or not in HTTP: ${err.message}` });
    res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  up.on('error', fail);
  up.on('response', (ur) => {
    // Hop-by-hop headers, Service-Worker-Allowed and cookies for other hosts or the token go.
    const out = exposedResponseHeaders(ur.rawHeaders);
    if (t.setCookie) out.push('Set-Cookie', t.setCookie);
    // The status line comes from inside the instance: res.writeHead throws on a status out of
    // 100..999 or a reason phrase with a control character, and a throw here (a socket
    // callback) would reach the process. Anything writeHead refuses is answered 502.
    ur.on('error', () => res.destroy());
    const status = ur.statusCode ?? 0;
    const reason = ur.statusMessage ?? '';
    let why = status < 100 || status > 999 ? `status ${status}` : INVALID_REASON.test(reason) ? 'a control character in the reason phrase' : null;
    if (!why) {
      try {
        res.writeHead(status, reason, out);
      } catch (err) {
        why = (err as Error).message;
      }
    }
    if (why) {
      ur.destroy();
      to.log.debug({ instance: t.instanceId, why }, 'malformed response from an exposed port');
      return fail(new Error(`malformed response (${why})`));
    }
    ur.pipe(res);
  });
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
}

/**
 * A WebSocket (or any HTTP upgrade) to the exposed port: the request is replayed there, then
 * bytes flow both ways. Resolves with the upstream channel once connected (null: answered 502).
 */
export async function proxyUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: ProxyTarget, to: ProxyConnector): Promise<Duplex | null> {
  let ch: Duplex;
  try {
    ch = await to.connect(t.instanceId, t.exposure.port);
  } catch (err) {
    socket.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    to.log.debug({ err: (err as Error).message }, 'upgrade proxy failed');
    return null;
  }
  const lines = [`${req.method ?? 'GET'} ${t.path} HTTP/1.1`, `host: ${req.headers.host ?? '127.0.0.1'}`, ...(t.exposure.stripPrefix ? [] : [`x-forwarded-prefix: /i/${t.instanceId}/${t.exposure.name}`])];
  for (const [k, v] of Object.entries(t.headers)) for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${one}`);
  let replied = false;
  ch.write(`${lines.join('\r\n')}\r\n\r\n`);
  if (head.length) ch.write(head);
  ch.once('data', () => (replied = true));
  ch.on('error', () => {
    if (!replied) socket.end(`HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    else socket.destroy();
  });
  socket.on('error', () => ch.destroy());
  socket.on('close', () => ch.destroy());
  ch.on('close', () => socket.destroy());
  socket.pipe(ch);
  pipeUpgradeAnswer(ch, socket);
  return ch;
}

/** A WebSocket upgrade or a state-changing request whose Origin is another host than the one asked. */
export function crossSite(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  const stateChanging = (req.headers.upgrade ?? '').toLowerCase() === 'websocket' || !['GET', 'HEAD', 'OPTIONS'].includes(req.method ?? 'GET');
  if (!stateChanging) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}
