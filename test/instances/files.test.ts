// File copies and sync with a persistent instance, through the SDK and the gateway: a tree with
// a binary file up and back down byte-identical with its modes and links; sync one way with
// excludes, a deletion and a dry run; two-way with changes and deletions on both sides.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSClient, NotFoundError } from '../../src/index.js';
import type { InstanceInfo } from '../../src/api/index.js';
import { startInstanceGateway } from './fixtures.js';
import type { InstanceGateway } from './fixtures.js';

let gw: InstanceGateway;
let sdk: FaaSClient;
let inst: InstanceInfo;
const tmp = mkdtempSync(join(tmpdir(), 'faas-inst-files-'));

beforeAll(async () => {
  gw = await startInstanceGateway();
  sdk = new FaaSClient({ endpoint: gw.url, apiKey: gw.keys.create('files').key });
  inst = await sdk.instances.start({ resources: { diskGb: 0.25 } });
});

afterAll(async () => {
  await gw?.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Every entry under a directory: type, mode, bytes (files) or target (links). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      const rel = relative(dir, p);
      if (st.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${(st.mode & 0o777).toString(8)}`;
        walk(p);
      } else out[rel] = `file ${(st.mode & 0o777).toString(8)} ${readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir);
  return out;
}

const remote = async (command: string) => (await sdk.instances.exec(inst.id, { command })).stdout;

describe('copyFiles', () => {
  it('uploads a tree with a binary file and downloads it back byte-identical, modes and links kept', async () => {
    const src = join(tmp, 'tree');
    mkdirSync(join(src, 'sub', 'deeper'), { recursive: true });
    const binary = randomBytes(300_000);
    binary[0] = 0;
    binary[1] = 0xff;
    writeFileSync(join(src, 'data.bin'), binary);
    writeFileSync(join(src, 'run.sh'), '#!/bin/sh\necho ran\n');
    chmodSync(join(src, 'run.sh'), 0o755);
    writeFileSync(join(src, 'sub', 'secret.txt'), 'only me\n');
    chmodSync(join(src, 'sub', 'secret.txt'), 0o600);
    writeFileSync(join(src, 'sub', 'deeper', `név with spaces ${'x'.repeat(120)}.txt`), 'a long UTF-8 name\n');
    writeFileSync(join(src, 'empty'), '');
    symlinkSync('sub/secret.txt', join(src, 'link'));
    chmodSync(join(src, 'sub'), 0o750);

    const up = await sdk.instances.copyFiles(inst.id, { direction: 'upload', localPath: src, remotePath: 'project' });
    expect(up.files).toBe(5);
    expect(await remote('cd ~/project && sha256sum data.bin && stat -c "%a %n" run.sh sub sub/secret.txt && ./run.sh && readlink link')).toBe(
      `${(await import('node:crypto')).createHash('sha256').update(binary).digest('hex')}  data.bin\n755 run.sh\n750 sub\n600 sub/secret.txt\nran\nsub/secret.txt\n`,
    );

    const back = join(tmp, 'back');
    const down = await sdk.instances.copyFiles(inst.id, { direction: 'download', remotePath: '/home/sandbox/project', localPath: back });
    expect(down.files).toBe(5);
    expect(snapshot(back)).toEqual(snapshot(src));

    // A single file, both ways, under another name.
    await sdk.instances.copyFiles(inst.id, { direction: 'upload', localPath: join(src, 'data.bin'), remotePath: '/sandbox/work/copy.bin' });
    await sdk.instances.copyFiles(inst.id, { direction: 'download', remotePath: '/workspace/copy.bin', localPath: join(tmp, 'one.bin') });
    expect(readFileSync(join(tmp, 'one.bin')).equals(binary)).toBe(true);
    await expect(sdk.instances.copyFiles(inst.id, { direction: 'download', remotePath: 'no/such/file', localPath: join(tmp, 'x') })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('syncFiles', () => {
  it('one way: excludes, a deletion, a dry run that moves nothing, a summary', async () => {
    const dir = join(tmp, 'sync1');
    mkdirSync(join(dir, 'node_modules', 'pkg'), { recursive: true });
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'main.py'), 'print(1)\n');
    writeFileSync(join(dir, 'src', 'util.py'), 'X = 1\n');
    writeFileSync(join(dir, 'debug.log'), 'noise\n');
    writeFileSync(join(dir, 'node_modules', 'pkg', 'index.js'), 'big\n');
    writeFileSync(join(dir, 'README.md'), '# hi\n');
    const opts = { localDir: dir, remoteDir: 'sync1', exclude: ['*.log', 'node_modules/'] };

    const first = await sdk.instances.syncFiles(inst.id, opts);
    expect(first.uploaded.sort()).toEqual(['README.md', 'src', 'src/main.py', 'src/util.py']);
    expect(first.deletedRemote).toEqual([]);
    expect(await remote('cd ~/sync1 && find . -type f | sort')).toBe('./README.md\n./src/main.py\n./src/util.py\n');

    // Nothing changed: nothing moves.
    const again = await sdk.instances.syncFiles(inst.id, opts);
    expect([again.uploaded, again.deletedRemote]).toEqual([[], []]);

    // A local deletion and a change: the dry run reports them and moves nothing.
    rmSync(join(dir, 'src', 'util.py'));
    writeFileSync(join(dir, 'README.md'), '# hi again\n');
    const dry = await sdk.instances.syncFiles(inst.id, { ...opts, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, uploaded: ['README.md'], deletedRemote: ['src/util.py'] });
    expect(await remote('cat ~/sync1/README.md; ls ~/sync1/src')).toBe('# hi\nmain.py\nutil.py\n');
    const real = await sdk.instances.syncFiles(inst.id, opts);
    expect(real).toMatchObject({ dryRun: false, uploaded: ['README.md'], deletedRemote: ['src/util.py'] });
    expect(real.bytesUploaded).toBe(11);
    expect(await remote('cat ~/sync1/README.md; ls ~/sync1/src')).toBe('# hi again\nmain.py\n');

    // .gitignore rules when asked.
    writeFileSync(join(dir, '.gitignore'), 'build/\n*.tmp\n!keep.tmp\n');
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'out.bin'), 'x');
    writeFileSync(join(dir, 'a.tmp'), 'x');
    writeFileSync(join(dir, 'keep.tmp'), 'x');
    const gi = await sdk.instances.syncFiles(inst.id, { ...opts, useGitignore: true });
    expect(gi.uploaded.sort()).toEqual(['.gitignore', 'keep.tmp']);
  });

  it('two ways: new and changed files both sides, newest wins, deletions both sides', async () => {
    const dir = join(tmp, 'sync2');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'shared.txt'), 'v1\n');
    writeFileSync(join(dir, 'local-only.txt'), 'from local\n');
    writeFileSync(join(dir, 'doomed-remote.txt'), 'delete me over there\n');
    writeFileSync(join(dir, 'doomed-local.txt'), 'delete me here\n');
    const opts = { localDir: dir, remoteDir: '/sandbox/work/sync2', bidirectional: true, exclude: ['*.swp'] };
    const statePath = join(tmp, 'sync2-state.json');
    const first = await sdk.instances.syncFiles(inst.id, { ...opts, statePath });
    expect(first.uploaded.sort()).toEqual(['doomed-local.txt', 'doomed-remote.txt', 'local-only.txt', 'shared.txt']);

    // Remote: a new file, an edit, a deletion, an excluded file. Local: a deletion and a newer edit of the same file.
    await remote('cd /sandbox/work/sync2 && echo "from remote" > remote-only.txt && echo v2-remote > shared.txt && touch -d "2020-01-01" shared.txt && rm doomed-local.txt && echo x > junk.swp');
    rmSync(join(dir, 'doomed-remote.txt'));
    writeFileSync(join(dir, 'shared.txt'), 'v2-local\n');
    const later = new Date(Date.now() + 1000);
    utimesSync(join(dir, 'shared.txt'), later, later);

    const dry = await sdk.instances.syncFiles(inst.id, { ...opts, statePath, dryRun: true });
    expect(dry).toMatchObject({ downloaded: ['remote-only.txt'], uploaded: ['shared.txt'], deletedRemote: ['doomed-remote.txt'], deletedLocal: ['doomed-local.txt'], conflicts: [{ path: 'shared.txt', winner: 'local' }] });
    expect(existsSync(join(dir, 'doomed-local.txt'))).toBe(true);

    const r = await sdk.instances.syncFiles(inst.id, { ...opts, statePath });
    expect(r).toMatchObject({ dryRun: false, downloaded: ['remote-only.txt'], uploaded: ['shared.txt'], deletedRemote: ['doomed-remote.txt'], deletedLocal: ['doomed-local.txt'] });
    expect(readFileSync(join(dir, 'remote-only.txt'), 'utf8')).toBe('from remote\n');
    expect(existsSync(join(dir, 'doomed-local.txt'))).toBe(false);
    expect(existsSync(join(dir, 'junk.swp'))).toBe(false);
    expect(await remote('cd /sandbox/work/sync2 && cat shared.txt && ls')).toBe('v2-local\njunk.swp\nlocal-only.txt\nremote-only.txt\nshared.txt\n');

    // In step: nothing moves.
    const quiet = await sdk.instances.syncFiles(inst.id, { ...opts, statePath });
    expect([quiet.uploaded, quiet.downloaded, quiet.deletedLocal, quiet.deletedRemote]).toEqual([[], [], [], []]);
  });
});
