// The host's frame codec, without Docker: frames survive any chunking, a frame over the cap ends
// the stream without buffering it, decoding is linear in the bytes fed, and the host's own
// output cap holds whatever an agent sends.
import { describe, expect, it } from 'vitest';
import { capResult } from './container.js';
import { ByteQueue, FrameDecoder, FrameTooLargeError } from './protocol.js';
import type { AgentResult } from './protocol.js';

function frame(obj: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

function result(stdout: Buffer, stderr: Buffer): AgentResult {
  return {
    type: 'result', id: 'x', exitCode: 0, signal: null, timedOut: false, oomKilled: false, killed: false, truncated: false,
    stdout: stdout.toString('base64'), stderr: stderr.toString('base64'), durationMs: 1, cpuSeconds: 0, memoryPeakMb: 1,
  };
}

describe('ByteQueue', () => {
  it('reads across chunk boundaries and copies a frame once', () => {
    const q = new ByteQueue();
    for (const part of ['ab', 'c', '', 'defgh', 'ij']) q.push(Buffer.from(part));
    expect(q.length).toBe(10);
    expect(String.fromCharCode(q.byteAt(6))).toBe('g');
    expect(q.take(3).toString()).toBe('abc');
    expect(q.take(4).toString()).toBe('defg');
    expect(q.take(0).length).toBe(0);
    expect(q.take(3).toString()).toBe('hij');
    expect(q.length).toBe(0);
    q.push(Buffer.from([0x80, 0, 0]));
    q.push(Buffer.from([1]));
    expect(q.u32(0)).toBe(0x80000001);
  });
});

describe('FrameDecoder', () => {
  const stream = Buffer.concat([
    frame({ type: 'hello', version: 3, language: 'python', pid: 7 }),
    frame({ type: 'nonsense' }),
    Buffer.from([0, 0, 0, 3, 0x7b, 0x7b, 0x7b]), // '{{{': not JSON
    frame({ type: 'pong', seq: 3 }),
  ]);

  it('decodes frames split at every byte boundary, and byte by byte; invalid ones are dropped', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const invalid: string[] = [];
      const d = new FrameDecoder((raw) => invalid.push(raw));
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(got.map((m) => m.type)).toEqual(['hello', 'pong']);
      expect(invalid).toHaveLength(2);
      expect(d.buffered).toBe(0);
    }
    const d = new FrameDecoder();
    const got = [];
    for (const b of stream) got.push(...d.push(Buffer.from([b])));
    expect(got.map((m) => m.type)).toEqual(['hello', 'pong']);
  });

  it('a frame over the cap sets error before its bytes are held; the frames before it still count, nothing after', () => {
    const max = 1024;
    const ok = frame({ type: 'output', id: 'e', stream: 'stdout', data: 'a'.repeat(max - 60) });
    expect(ok.length - 4).toBeLessThanOrEqual(max);
    const d = new FrameDecoder(undefined, max);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(0xffffffff); // 4 GiB announced
    const got = d.push(Buffer.concat([ok, huge, Buffer.alloc(100)]));
    expect(got.map((m) => m.type)).toEqual(['output']);
    expect(d.error).toBeInstanceOf(FrameTooLargeError);
    expect(d.error!.code).toBe('SANDBOX_ERROR');
    expect(d.error!.bytes).toBe(0xffffffff);
    expect(d.buffered).toBe(0);
    expect(d.push(frame({ type: 'pong', seq: 1 }))).toEqual([]);
    expect(d.buffered).toBe(0);
    // One byte over, announced in a header split over two chunks.
    const d2 = new FrameDecoder(undefined, max);
    const over = Buffer.alloc(4);
    over.writeUInt32BE(max + 1);
    expect(d2.push(over.subarray(0, 2))).toEqual([]);
    expect(d2.error).toBeNull();
    d2.push(over.subarray(2));
    expect(d2.error?.bytes).toBe(max + 1);
  });

  it('is linear: a 24 MiB frame in 10,000 chunks, and 10,000 small frames, decode in well under a second', () => {
    const big = frame({ type: 'output', id: 'e', stream: 'stdout', data: 'x'.repeat(24 << 20) });
    const size = Math.ceil(big.length / 10_000);
    const chunks: Buffer[] = [];
    for (let i = 0; i < big.length; i += size) chunks.push(big.subarray(i, i + size));
    expect(chunks.length).toBeGreaterThanOrEqual(9_999);
    const d = new FrameDecoder(undefined, 32 << 20);
    let t0 = performance.now();
    const got = [];
    for (const c of chunks) got.push(...d.push(c));
    const bigMs = performance.now() - t0;
    expect(got).toHaveLength(1);
    expect((got[0] as { data: string }).data.length).toBe(24 << 20);
    expect(bigMs).toBeLessThan(1000);

    const many = Buffer.concat(Array.from({ length: 10_000 }, (_, i) => frame({ type: 'pong', seq: i })));
    const d2 = new FrameDecoder();
    t0 = performance.now();
    const pongs = [];
    for (let i = 0; i < many.length; i += 7) pongs.push(...d2.push(many.subarray(i, i + 7)));
    const manyMs = performance.now() - t0;
    expect(pongs).toHaveLength(10_000);
    expect(manyMs).toBeLessThan(1000);
  });
});

describe("the host's output cap", () => {
  it('cuts each stream of a result to maxOutputBytes and says truncated, whatever the agent claimed', () => {
    const r = capResult(result(Buffer.alloc(5000, 1), Buffer.alloc(10, 2)), 1000);
    expect(Buffer.from(r.stdout, 'base64')).toEqual(Buffer.alloc(1000, 1));
    expect(Buffer.from(r.stderr, 'base64')).toEqual(Buffer.alloc(10, 2));
    expect(r.truncated).toBe(true);
    // At the cap: untouched.
    const exact = result(Buffer.alloc(1000, 1), Buffer.alloc(1000, 2));
    expect(capResult(exact, 1000)).toBe(exact);
    expect(capResult(result(Buffer.alloc(1001), Buffer.alloc(0)), 1000).truncated).toBe(true);
  });
});
