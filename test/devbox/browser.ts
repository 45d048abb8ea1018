// Headless Chromium driven over the DevTools protocol (--remote-debugging-pipe: JSON messages,
// NUL-terminated, on fds 3 and 4). `chromium --screenshot` shoots at the load event, before a
// single-page app such as VS Code or noVNC has drawn anything; here the page is loaded, a
// condition evaluated in it is awaited (the app has rendered), and then the screenshot is taken.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.FAAS_CHROMIUM ?? '/usr/bin/chromium';

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
}

export class Browser {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private buffer = '';
  private constructor(
    private readonly child: ChildProcess,
    private readonly profile: string,
    private readonly input: Writable,
  ) {}

  static async launch(): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'devbox-chromium-'));
    const child = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        '--remote-debugging-pipe',
        `--user-data-dir=${profile}`,
        '--window-size=1280,800',
        'about:blank',
      ],
      // its own process group, so close() can end its helper processes too
      { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe'], detached: true },
    );
    const browser = new Browser(child, profile, child.stdio[3] as Writable);
    (child.stdio[4] as Readable).on('data', (b: Buffer) => browser.onData(b));
    child.on('exit', () => {
      for (const p of browser.pending.values()) p.reject(new Error('chromium exited'));
      browser.pending.clear();
    });
    await browser.send('Browser.getVersion');
    return browser;
  }

  private onData(b: Buffer): void {
    this.buffer += b.toString();
    let end: number;
    while ((end = this.buffer.indexOf('\0')) >= 0) {
      const msg = JSON.parse(this.buffer.slice(0, end)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
      this.buffer = this.buffer.slice(end + 1);
      const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!p) continue; // an event
      this.pending.delete(msg.id!);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result ?? {});
    }
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  /**
   * Opens `url` in a new tab, waits until `ready` (a JavaScript expression) is truthy in the page,
   * lets it settle for `settleMs`, and returns a PNG screenshot and what `ready` returned.
   */
  async shoot(
    url: string,
    ready: string,
    opts: { timeoutMs?: number; settleMs?: number; width?: number; height?: number } = {},
  ): Promise<{ png: Buffer; value: unknown }> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    try {
      await this.send('Page.enable', {}, sessionId);
      const metrics = { width: opts.width ?? 1280, height: opts.height ?? 800, deviceScaleFactor: 1, mobile: false };
      await this.send('Emulation.setDeviceMetricsOverride', metrics, sessionId);
      await this.send('Page.navigate', { url }, sessionId);
      const until = Date.now() + (opts.timeoutMs ?? 60_000);
      let value: unknown;
      for (;;) {
        const r = (await this.send('Runtime.evaluate', { expression: ready, returnByValue: true }, sessionId)) as {
          result?: { value?: unknown };
        };
        value = r.result?.value;
        if (value) break;
        if (Date.now() > until) {
          const shot = (await this.send('Page.captureScreenshot', { format: 'png' }, sessionId)) as { data: string };
          const err = new Error(`page never satisfied ${ready}: ${url}`) as Error & { png?: Buffer };
          err.png = Buffer.from(shot.data, 'base64');
          throw err;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      await new Promise((r) => setTimeout(r, opts.settleMs ?? 1000));
      const shot = (await this.send('Page.captureScreenshot', { format: 'png' }, sessionId)) as { data: string };
      return { png: Buffer.from(shot.data, 'base64'), value };
    } finally {
      await this.send('Target.closeTarget', { targetId }).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    const exited = new Promise<void>((resolve) => (this.child.exitCode !== null ? resolve() : this.child.once('exit', () => resolve())));
    await Promise.race([this.send('Browser.close').catch(() => undefined), new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await exited;
    try {
      process.kill(-this.child.pid!, 'SIGKILL'); // helpers left behind (renderer, network service...)
    } catch {
      // none left
    }
    // Chromium's helper processes may still be writing to the profile as the main one exits.
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
  }
}
