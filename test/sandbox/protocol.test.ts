// The agent protocol: both ends name the same version, and frames survive any chunking.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, PROTOCOL_VERSION } from '../../src/sandbox/protocol.js';

function agentFrame(obj: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

describe('agent protocol', () => {
  it('host and agent speak the same version', () => {
    const agent = readFileSync(new URL('../../agent/agent.py', import.meta.url), 'utf8');
    expect(agent).toMatch(new RegExp(`^PROTOCOL_VERSION = ${PROTOCOL_VERSION}$`, 'm'));
  });

  it('decodes frames split at every byte boundary, and drops invalid ones', () => {
    const invalid: string[] = [];
    const stream = Buffer.concat([
      agentFrame({ type: 'hello', version: 1, language: 'python', pid: 7 }),
      agentFrame({ type: 'nonsense' }),
      agentFrame({ type: 'pong', seq: 3 }),
    ]);
    for (let cut = 1; cut < stream.length; cut++) {
      const d = new FrameDecoder((raw) => invalid.push(raw));
      const got = [...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))];
      expect(got.map((m) => m.type)).toEqual(['hello', 'pong']);
    }
    expect(invalid.length).toBe(stream.length - 1);
  });

  it('encodes a length-prefixed UTF-8 frame', () => {
    const f = encodeFrame({ type: 'ping', seq: 1 });
    expect(f.readUInt32BE(0)).toBe(f.length - 4);
    expect(JSON.parse(f.subarray(4).toString())).toEqual({ type: 'ping', seq: 1 });
  });
});
