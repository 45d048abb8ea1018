// The operator's end of the instance relay, fed bytes as the relay (or code in the instance
// that got hold of its stdout) could send them, without Docker: malformed frames close the
// channel they name or end the relay, never throw; buffering is linear.
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../log.js';
import { MAX_RELAY_FRAME, Mux } from './mux.js';
import type { MuxChannel } from './mux.js';

const log = createLogger('silent', 'mux-test');
const DATA = 2;
const EOF = 3;
const ACK = 5;
const OPENED = 6;

function relayFrame(type: number, ch: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(ch, 1);
  h.writeUInt32BE(payload.length, 5);
  return Buffer.concat([h, payload]);
}

/** As Docker's attach stream carries it: 8-byte header (stdout), then the bytes. */
function docker(b: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 1;
  h.writeUInt32BE(b.length, 4);
  return Buffer.concat([h, b]);
}

function setup(): { mux: Mux; feed: (b: Buffer) => void; open: () => { ch: MuxChannel; errors: Error[]; data: Buffer[] } } {
  const stream = new Duplex({ read() {}, write(_c, _e, cb) { cb(); } });
  const mux = Mux.over(stream, log);
  return {
    mux,
    feed: (b) => stream.push(b),
    open: () => {
      const ch = mux.open(22);
      const errors: Error[] = [];
      const data: Buffer[] = [];
      ch.on('error', (e) => errors.push(e));
      ch.on('data', (d: Buffer) => data.push(d));
      stream.push(docker(relayFrame(OPENED, ch.id)));
      return { ch, errors, data };
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('instance relay (mux) parsing', () => {
  it('a short ACK, or one for more than was sent, closes that channel only; nothing throws', async () => {
    const { mux, feed, open } = setup();
    const a = open();
    const b = open();
    const c = open();
    feed(docker(relayFrame(ACK, a.ch.id, Buffer.from([0, 1])))); // 2 bytes: readUInt32BE would throw
    const big = Buffer.alloc(4);
    big.writeUInt32BE(1 << 30);
    feed(docker(relayFrame(ACK, b.ch.id, big))); // nothing was sent on b
    feed(docker(relayFrame(DATA, c.ch.id, Buffer.from('still here'))));
    await tick();
    expect(a.errors.map((e) => e.message)).toEqual(['the instance relay sent a malformed ACK']);
    expect(b.errors.map((e) => e.message)).toEqual(['the instance relay sent a malformed ACK']);
    expect(c.errors).toEqual([]);
    expect(Buffer.concat(c.data).toString()).toBe('still here');
    expect(mux.alive).toBe(true);
  });

  it('DATA after EOF, and EOF twice, close the channel instead of throwing in a stream callback', async () => {
    const { mux, feed, open } = setup();
    const a = open();
    a.ch.resume();
    feed(docker(Buffer.concat([relayFrame(EOF, a.ch.id), relayFrame(EOF, a.ch.id), relayFrame(DATA, a.ch.id, Buffer.from('late'))])));
    await tick();
    expect(a.errors.map((e) => e.message)).toEqual(['the instance relay sent data after EOF']);
    expect(mux.alive).toBe(true);
  });

  it('a frame over the cap ends the relay: every channel is cut, the bytes are not held', async () => {
    const { mux, feed, open } = setup();
    const a = open();
    const h = Buffer.alloc(9);
    h.writeUInt8(DATA, 0);
    h.writeUInt32BE(a.ch.id, 1);
    h.writeUInt32BE(MAX_RELAY_FRAME + 1, 5);
    feed(docker(Buffer.concat([h, Buffer.alloc(1000)])));
    await tick();
    expect(mux.alive).toBe(false);
    expect(a.errors.map((e) => e.message)).toEqual(['the instance relay went away']);
  });

  it('is linear: a frame in 10,000 small chunks, and 10,000 small frames, in well under a second', async () => {
    const { feed, open } = setup();
    const a = open();
    let got = 0;
    a.ch.on('data', (d: Buffer) => (got += d.length));
    // Within the flow-control window (1 MiB unacknowledged), as a relay keeps to.
    const big = 800 * 1024;
    const one = docker(relayFrame(DATA, a.ch.id, Buffer.alloc(big, 7)));
    const many = docker(Buffer.concat(Array.from({ length: 10_000 }, () => relayFrame(DATA, a.ch.id, Buffer.from('0123456789')))));
    const t0 = performance.now();
    const size = Math.ceil(one.length / 10_000);
    for (let i = 0; i < one.length; i += size) feed(one.subarray(i, i + size));
    for (let i = 0; i < many.length; i += 13) feed(many.subarray(i, i + 13));
    await tick();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(got).toBe(big + 100_000);
  });

  it('a relay that ignores the flow-control window (more than 1 MiB unread) loses the channel, not the operator’s memory', async () => {
    const { feed, open } = setup();
    const a = open(); // nothing reads it: every byte waits for an ACK
    for (let i = 0; i < 40; i++) feed(docker(relayFrame(DATA, a.ch.id, Buffer.alloc(64 * 1024, 1))));
    await tick();
    expect(a.errors.map((e) => e.message).join()).toMatch(/flow-control window/);
  });
});
