// A small tar (POSIX pax) writer and reader for the SDK's file copies: files, directories and
// symbolic links with their modes and modification times (sub-second, through pax headers),
// any byte content, streamed both ways. GNU tar in the instance reads and writes the same.
import { createReadStream } from 'node:fs';

export type TarType = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  /** Relative path with `/` (directories without a trailing slash). */
  name: string;
  type: TarType;
  /** Permission bits. */
  mode: number;
  mtimeMs: number;
  /** Bytes of a file (0 otherwise). */
  size: number;
  /** Target of a symbolic link. */
  linkname?: string;
}

const BLOCK = 512;
const ZERO = Buffer.alloc(BLOCK * 2);

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0').slice(-(width - 1)) + '\0';
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return Buffer.from(`${len}${body}`);
}

function header(name: string, type: string, size: number, mode: number, mtimeS: number, linkname = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name.slice(0, 99), 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(Math.max(0, Math.floor(mtimeS)), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(type, 156, 1, 'ascii');
  h.write(linkname.slice(0, 99), 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

const padding = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** The header blocks of one entry (a pax header carries the exact name, link and time). */
export function entryHeader(e: TarEntry): Buffer {
  const mtimeS = e.mtimeMs / 1000;
  const records = [paxRecord('path', e.type === 'dir' ? `${e.name}/` : e.name), paxRecord('mtime', mtimeS.toFixed(6))];
  if (e.linkname !== undefined) records.push(paxRecord('linkpath', e.linkname));
  if (e.size >= 0o77777777777) records.push(paxRecord('size', String(e.size)));
  const pax = Buffer.concat(records);
  const type = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
  return Buffer.concat([
    header(`PaxHeader/${e.name}`.slice(0, 99), 'x', pax.length, 0o644, mtimeS),
    pax,
    padding(pax.length),
    header(e.type === 'dir' ? `${e.name}/` : e.name, type, e.type === 'file' ? Math.min(e.size, 0o77777777777) : 0, e.mode, mtimeS, e.linkname ?? ''),
  ]);
}

/** Writes a tar stream of entries; a file's bytes come from `source` (a local path). */
export async function* writeTar(entries: AsyncIterable<TarEntry & { source?: string }> | Iterable<TarEntry & { source?: string }>): AsyncGenerator<Buffer> {
  for await (const e of entries) {
    yield entryHeader(e);
    if (e.type !== 'file') continue;
    let written = 0;
    if (e.size > 0 && e.source) {
      for await (const chunk of createReadStream(e.source, { highWaterMark: 256 * 1024, end: e.size - 1 }) as AsyncIterable<Buffer>) {
        written += chunk.length;
        yield chunk;
      }
    }
    if (written !== e.size) throw new Error(`${e.source ?? e.name} changed size while it was read (${e.size} → ${written} bytes)`);
    yield padding(e.size);
  }
  yield ZERO;
}

/** Pulls exact byte counts out of a stream of chunks. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private done = false;
  constructor(src: AsyncIterable<Buffer | Uint8Array>) {
    this.it = (src as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }
  private async fill(n: number): Promise<boolean> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length ? Buffer.concat([this.buf, Buffer.from(r.value)]) : Buffer.from(r.value);
    }
    return this.buf.length >= n;
  }
  async exact(n: number): Promise<Buffer | null> {
    if (!(await this.fill(n))) return null;
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Up to n bytes, in the pieces they come in. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!this.buf.length && !(await this.fill(1))) throw new Error('the tar stream ended inside an entry');
      const take = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(take.length);
      left -= take.length;
      yield take;
    }
  }
}

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.subarray(0, z < 0 ? len : z).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // base-256 (GNU, for big values)
    let v = b[off]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[off + i]!;
    return v;
  }
  const s = cstr(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString('ascii'));
    if (!len) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Reads a tar stream entry by entry; `body` yields a file's bytes and must be consumed (or it is
 * skipped) before the next entry. Hard links and devices are skipped.
 */
export async function* readTar(src: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<{ entry: TarEntry; body: AsyncGenerator<Buffer> }> {
  const r = new ByteReader(src);
  let pax: Record<string, string> = {};
  let longName: string | null = null;
  let longLink: string | null = null;
  for (;;) {
    const h = await r.exact(BLOCK);
    if (!h || h.every((b) => b === 0)) return;
    const typeflag = String.fromCharCode(h[156]!);
    let size = num(h, 124, 12);
    if (pax.size) size = Number(pax.size);
    const dataBlocks = Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      const data = await r.exact(dataBlocks);
      if (!data) throw new Error('the tar stream ended inside a header');
      const content = data.subarray(0, size);
      if (typeflag === 'x') pax = { ...pax, ...parsePax(content) };
      else if (typeflag === 'L') longName = cstr(content, 0, content.length);
      else if (typeflag === 'K') longLink = cstr(content, 0, content.length);
      continue;
    }
    const prefix = cstr(h, 345, 155);
    let name = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    const linkname = pax.linkpath ?? longLink ?? cstr(h, 157, 100);
    const mtimeMs = pax.mtime ? Number(pax.mtime) * 1000 : num(h, 136, 12) * 1000;
    const mode = num(h, 100, 8) & 0o7777;
    pax = {};
    longName = null;
    longLink = null;
    name = name.replace(/^\.\//, '').replace(/\/+$/, '');
    const type: TarType | null = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : null;
    let consumed = 0;
    const dataSize = size;
    const body = (async function* () {
      for await (const c of r.chunks(dataSize)) {
        consumed += c.length;
        yield c;
      }
    })();
    if (type && name && name !== '.') {
      yield { entry: { name, type, mode, mtimeMs, size: type === 'file' ? size : 0, ...(type === 'symlink' ? { linkname } : {}) }, body };
    }
    // What the consumer left of the data (all of it for what was skipped), then the padding.
    if (consumed < size) for await (const _ of r.chunks(size - consumed)) void _;
    const pad = dataBlocks - size;
    if (pad > 0) await r.exact(pad);
  }
}
