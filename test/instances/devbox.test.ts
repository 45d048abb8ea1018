// The devbox services through exposed URLs (each on its own host under localhost): Jupyter answers its API with its
// token and refuses without it; the VNC endpoint completes an RFB handshake (VNC password
// auth) over the URL's WebSocket; the VS Code URL serves its workbench page.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSClient } from '../../src/index.js';
import type { InstanceInfo } from '../../src/api/index.js';
import { Browser } from '../devbox/browser.js';
import { vncResponse } from '../devbox/rfb.js';
import { startInstanceGateway } from './fixtures.js';
import type { InstanceGateway } from './fixtures.js';
import { localhostLookup, useLocalhostNames } from '../localhost.js';

// Exposed URLs are `<instance>-<name>.localhost:<port>`: resolved as a browser would.
useLocalhostNames();

let gw: InstanceGateway;
let key: string;
let sdk: FaaSClient;
let inst: InstanceInfo;
/** An exposure's own origin (http://<instance>-<name>.localhost:<port>). */
const host = (name: string) => `http://${inst.id}-${name}.localhost:${new URL(gw.url).port}`;

beforeAll(async () => {
  gw = await startInstanceGateway();
  key = gw.keys.create('devbox').key;
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: key, timeout: 120_000 });
  inst = await sdk.instances.start({ resources: { cpuCores: 2, memoryMb: 2048, diskGb: 1 } });
});

afterAll(async () => {
  await gw?.close();
});

const auth = () => ({ authorization: `Bearer ${key}` });

/** GET as a browser does it: follows redirects, keeping the cookies it is given. */
async function browserGet(url: string): Promise<Response> {
  const jar = new Map<string, string>();
  for (let hops = 0; hops < 10; hops++) {
    const res = await fetch(url, { redirect: 'manual', headers: jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      jar.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
    const loc = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !loc) return res;
    url = new URL(loc, url).toString();
  }
  throw new Error(`too many redirects from ${url}`);
}

describe('devbox services through exposed URLs', () => {
  it('Jupyter: its API answers with the token (200) and refuses without it (403)', async () => {
    const j = await sdk.instances.launchJupyter(inst.id);
    expect(j.url).toMatch(new RegExp(`^${host('jupyter')}/\\?faas_token=`));
    const base = `${host('jupyter')}/`;
    const ok = await fetch(`${base}api/status?token=${j.token}`, { headers: auth() });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toHaveProperty('kernels');
    const refused = await fetch(`${base}api/status`, { headers: auth() });
    expect(refused.status).toBe(403);
    // The URL as handed out opens in a browser: both tokens in it.
    const page = await fetch(j.url.replace('/?', '/tree?'));
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/Jupyter/);
  }, 120_000);

  it('VNC: an RFB handshake with the password over the URL’s WebSocket', async () => {
    const v = await sdk.instances.launchVNC(inst.id);
    const token = new URL(v.url).searchParams.get('faas_token');
    const page = await fetch(`${host('vnc')}/vnc.html?faas_token=${token}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/noVNC/);
    const ws = new WebSocket(`${host('vnc').replace('http', 'ws')}/websockify?faas_token=${token}`, ['binary'], { lookup: localhostLookup as never });
    ws.binaryType = 'nodebuffer';
    let buf = Buffer.alloc(0);
    const waiting: Array<{ n: number; resolve: (b: Buffer) => void }> = [];
    const pump = () => {
      while (waiting.length && buf.length >= waiting[0]!.n) {
        const w = waiting.shift()!;
        const out = buf.subarray(0, w.n);
        buf = buf.subarray(w.n);
        w.resolve(out);
      }
    };
    ws.on('message', (m: Buffer) => {
      buf = Buffer.concat([buf, m]);
      pump();
    });
    const read = (n: number) =>
      new Promise<Buffer>((resolve) => {
        waiting.push({ n, resolve });
        pump();
      });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const version = (await read(12)).toString('latin1');
    expect(version).toMatch(/^RFB 003\.00[38]\n$/);
    ws.send(Buffer.from('RFB 003.008\n'));
    const nTypes = (await read(1))[0]!;
    const types = [...(await read(nTypes))];
    expect(types).toContain(2); // VNC authentication
    ws.send(Buffer.from([2]));
    const challenge = await read(16);
    ws.send(vncResponse(challenge, v.password));
    expect((await read(4)).readUInt32BE(0)).toBe(0); // SecurityResult: OK
    ws.send(Buffer.from([1])); // ClientInit (shared)
    const init = await read(24);
    expect([init.readUInt16BE(0), init.readUInt16BE(2)]).toEqual([1280, 800]);
    ws.close();
  }, 120_000);

  it('VS Code: the URL serves the workbench page', async () => {
    const c = await sdk.instances.launchVSCode(inst.id);
    expect(c.url).toMatch(new RegExp(`^${host('vscode')}/\\?faas_token=`));
    const res = await browserGet(c.url);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toMatch(/vs\/code\/browser\/workbench\/workbench/);
    // Without the token or the key: refused.
    expect((await fetch(`${host('vscode')}/`)).status).toBe(401);
  }, 180_000);
  it('headless Chromium loads Jupyter and VS Code through their exposed URLs; screenshots are kept', async () => {
    const [j, c] = [await sdk.instances.launchJupyter(inst.id), await sdk.instances.launchVSCode(inst.id)];
    const artifacts = join(process.cwd(), 'test', 'artifacts');
    mkdirSync(artifacts, { recursive: true });
    const browser = await Browser.launch();
    try {
      // The URLs as handed out: the token in them is all a browser needs (then a cookie).
      const tree = await browser.shoot(j.url.replace('/?', '/tree?'), `document.querySelector('#notebook_list') ? document.title : ''`);
      expect(tree.value).toContain('Home');
      writeFileSync(join(artifacts, 'instance-jupyter.png'), tree.png);
      const code = await browser.shoot(
        c.url,
        `(() => document.querySelector('.monaco-workbench') && document.querySelector('.part.statusbar') ? document.title : '')()`,
        { timeoutMs: 90_000, settleMs: 3000 },
      );
      expect(code.value).toContain('code-server');
      writeFileSync(join(artifacts, 'instance-vscode.png'), code.png);
      for (const png of [tree.png, code.png]) {
        expect(png.subarray(1, 4).toString()).toBe('PNG');
        expect(png.length).toBeGreaterThan(10 * 1024);
      }
    } finally {
      await browser.close();
    }
  }, 180_000);
});
