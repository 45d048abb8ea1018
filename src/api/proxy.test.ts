// The proxy's header and host rules without a server: what an exposed app's answer may carry
// past the gateway, and which host names name an exposure.
import { describe, expect, it } from 'vitest';
import { TOKEN_COOKIE, exposedResponseHeaders, exposureHost, parseExposureHost } from './proxy.js';

const ID = 'inst-0123456789abcdef';

describe('parseExposureHost', () => {
  it('reads `<id>-<name>.<domain>` (any case, a port, a trailing dot) and nothing else', () => {
    expect(parseExposureHost(exposureHost('localhost', ID, 'web'), 'localhost')).toEqual({ id: ID, name: 'web' });
    expect(parseExposureHost(`${ID.toUpperCase()}-WEB.Example.COM.:8080`, 'example.com')).toEqual({ id: ID, name: 'web' });
    expect(parseExposureHost(`${ID}-my-app.faas.test`, 'faas.test')).toEqual({ id: ID, name: 'my-app' });
    for (const host of [undefined, 'localhost', `${ID}-web.other.test`, `x.${ID}-web.localhost`, `inst-0123-web.localhost`, `${ID}-.localhost`, `${ID}-web.localhost.evil.test`]) {
      expect(parseExposureHost(host, 'localhost'), String(host)).toBeNull();
    }
  });
});

describe('exposedResponseHeaders', () => {
  it('drops hop-by-hop headers, those Connection names, and Service-Worker-Allowed', () => {
    const raw = ['Content-Type', 'text/html', 'Connection', 'keep-alive, X-Secret', 'X-Secret', '1', 'Transfer-Encoding', 'chunked', 'Service-Worker-Allowed', '/', 'Upgrade', 'websocket'];
    expect(exposedResponseHeaders(raw)).toEqual(['Content-Type', 'text/html']);
  });

  it('a 101 Switching Protocols keeps its Connection and Upgrade', () => {
    expect(exposedResponseHeaders(['Connection', 'Upgrade', 'Upgrade', 'websocket', 'Keep-Alive', 'x'], true)).toEqual(['Connection', 'Upgrade', 'Upgrade', 'websocket']);
  });

  it('keeps host-only cookies with a path, drops Domain cookies, odd paths and the gateway token', () => {
    const raw = [
      'Set-Cookie', 'sid=1; Path=/; HttpOnly',
      'Set-Cookie', 'wide=1; Domain=localhost; Path=/',
      'Set-Cookie', 'rel=1; Path=relative',
      'Set-Cookie', `${TOKEN_COOKIE}=stolen; Path=/`,
      'Set-Cookie', 'plain=2',
    ];
    expect(exposedResponseHeaders(raw)).toEqual(['Set-Cookie', 'sid=1; Path=/; HttpOnly', 'Set-Cookie', 'plain=2']);
  });
});
