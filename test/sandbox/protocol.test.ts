// The agent protocol: one protocol.json names the version and frame types for both ends, and
// frames survive any chunking.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  AGENT_FRAME_TYPES,
  AgentMessageSchema,
  encodeFrame,
  FrameDecoder,
  HOST_FRAME_TYPES,
  PROTOCOL_VERSION,
} from '../../src/sandbox/protocol.js';
import type { HostMessage } from '../../src/sandbox/protocol.js';

function agentFrame(obj: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

const agentDir = new URL('../../agent/', import.meta.url);
/** Every Python source of the in-sandbox programs, by path under agent/. */
function pythonSources(): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(agentDir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.py')) continue;
    const path = `${e.parentPath}/${e.name}`;
    out.set(path.slice(path.indexOf('/agent/') + 1), readFileSync(path, 'utf8'));
  }
  return out;
}

describe('agent protocol', () => {
  it('protocol.json is the one source of the version and frame types, for the host and the agents', () => {
    const spec = JSON.parse(readFileSync(new URL('protocol.json', agentDir), 'utf8')) as { version: number };
    expect(PROTOCOL_VERSION).toBe(spec.version);
    // The host's schema of agent frames, and its HostMessage union (every member listed here,
    // or tsc fails), name exactly protocol.json's types.
    expect(AgentMessageSchema.options.map((o) => o.shape.type.value).sort()).toEqual([...AGENT_FRAME_TYPES].sort());
    const hostTypes: Record<HostMessage['type'], true> = { exec: true, ctx: true, ping: true, stdin: true, kill: true, resize: true, shutdown: true };
    expect(Object.keys(hostTypes).sort()).toEqual([...HOST_FRAME_TYPES].sort());
    // The agents define no version of their own, send only agent frame types and handle only host ones.
    const sources = pythonSources();
    expect(sources.size).toBeGreaterThan(10);
    for (const [path, text] of sources) {
      expect(text, path).not.toMatch(/PROTOCOL_VERSION\s*=\s*\d/);
      for (const m of text.matchAll(/self\.send\(\{"type": "(\w+)"/g)) expect(AGENT_FRAME_TYPES, path).toContain(m[1]);
      for (const m of text.matchAll(/\bt == "(\w+)"/g)) expect(HOST_FRAME_TYPES, path).toContain(m[1]);
    }
    expect(sources.get('agent/faas_agent/common.py')).toMatch(/PROTOCOL_VERSION = _PROTOCOL\["version"\]/);
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
