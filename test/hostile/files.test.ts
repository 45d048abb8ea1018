// Downloads from an instance whose code is hostile: it writes trees of symbolic links aimed at
// the caller's disk, and makes the path being copied a link itself. copyFiles and syncFiles
// (TypeScript SDK, real gateway, real instance) must not write outside the local target, and
// must never turn the local target into a link. (The Python SDK's twin is in
// sdk/python/tests/test_instances.py; offline hostile archives in sdk/typescript/src/client/tar.test.ts.)
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSClient } from '../../src/index.js';
import type { InstanceInfo } from '../../src/api/index.js';
import { startInstanceGateway } from '../instances/fixtures.js';
import type { InstanceGateway } from '../instances/fixtures.js';

let gw: InstanceGateway;
let sdk: FaaSClient;
let inst: InstanceInfo;
const work = mkdtempSync(join(tmpdir(), 'faas-hostile-files-'));
const outside = join(work, 'outside');

beforeAll(async () => {
  gw = await startInstanceGateway();
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: gw.keys.create('hostile-files').key });
  inst = await sdk.instances.start({ resources: { diskGb: 0.1 } });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'untouched');
  // Code in the instance: a tree of links aimed at the caller's disk (absolute, and relative to
  // where the caller's copy will sit), and a copy source that is itself a link.
  const script = [
    'set -e',
    'mkdir -p ~/hs/tree/d ~/hs/outside',
    'echo inside > ~/hs/outside/secret',
    `ln -s ${JSON.stringify(outside)} ~/hs/tree/abs`,
    'ln -s ../outside ~/hs/tree/up',
    `ln -s ${JSON.stringify(join(outside, 'secret'))} ~/hs/tree/d/file-link`,
    'echo hi > ~/hs/tree/d/x',
    `ln -s ${JSON.stringify(outside)} ~/hs/evil`,
    'ln -s ../outside ~/hs/evil-rel',
  ].join('\n');
  const r = await sdk.instances.exec(inst.id, { command: script });
  expect(r.exitCode, r.stderr).toBe(0);
}, 240_000);

afterAll(async () => {
  await gw?.close();
  rmSync(work, { recursive: true, force: true });
});

function assertOutsideUntouched(): void {
  expect(readdirSync(outside)).toEqual(['secret']);
  expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('untouched');
}

describe('downloads from a hostile instance', () => {
  it('copyFiles refuses a copy source that is a link, and keeps the local target a directory', async () => {
    for (const src of ['/home/sandbox/hs/evil', '/home/sandbox/hs/evil-rel']) {
      const local = join(work, 'copy');
      mkdirSync(local, { recursive: true });
      writeFileSync(join(local, 'mine'), 'keep me');
      await expect(sdk.instances.copyFiles(inst.id, { direction: 'download', remotePath: src, localPath: local })).rejects.toThrow(/replace the target by a symbolic link/);
      expect(lstatSync(local).isDirectory()).toBe(true);
      expect(readFileSync(join(local, 'mine'), 'utf8')).toBe('keep me');
      assertOutsideUntouched();
    }
  });

  it('copyFiles and syncFiles keep links to outside as links, never followed', async () => {
    const local = join(work, 'copied');
    const r = await sdk.instances.copyFiles(inst.id, { direction: 'download', remotePath: '/home/sandbox/hs/tree', localPath: local });
    expect(r.files).toBe(1);
    expect(readlinkSync(join(local, 'abs'))).toBe(outside);
    expect(readlinkSync(join(local, 'up'))).toBe('../outside');
    expect(readlinkSync(join(local, 'd', 'file-link'))).toBe(join(outside, 'secret'));
    assertOutsideUntouched();

    const synced = join(work, 'target');
    const s = await sdk.instances.syncFiles(inst.id, { localDir: synced, remoteDir: '/home/sandbox/hs/tree', direction: 'download' });
    expect(s.downloaded.sort()).toEqual(['abs', 'd', 'd/file-link', 'd/x', 'up']);
    expect(lstatSync(synced).isDirectory()).toBe(true);
    expect(readlinkSync(join(synced, 'up'))).toBe('../outside');
    expect(readFileSync(join(synced, 'd', 'x'), 'utf8')).toBe('hi\n');
    assertOutsideUntouched();

    // The instance now turns the synced directory `d` into a link to the caller's disk and puts
    // a file under it: the next sync replaces the local `d` by the link and writes nothing there.
    const flip = await sdk.instances.exec(inst.id, { command: `rm -rf ~/hs/tree/d && ln -s ${JSON.stringify(outside)} ~/hs/tree/d && echo new > ~/hs/tree/new` });
    expect(flip.exitCode, flip.stderr).toBe(0);
    await sdk.instances.syncFiles(inst.id, { localDir: synced, remoteDir: '/home/sandbox/hs/tree', direction: 'download' });
    expect(readlinkSync(join(synced, 'd'))).toBe(outside);
    expect(readFileSync(join(synced, 'new'), 'utf8')).toBe('new\n');
    expect(existsSync(join(outside, 'x'))).toBe(false);
    assertOutsideUntouched();
  });
});
