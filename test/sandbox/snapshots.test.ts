// Stateful contexts, snapshots, branches and merges on the real engine (family containers).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { FaaSError } from '@faas/sdk/errors';
import { createLogger } from '../../src/log.js';
import { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { openDatabase } from '../../src/store/index.js';
import { makeEngine } from '../helpers.js';

let engine: DockerSandboxEngine;
const A = 'owner-a';
const B = 'owner-b';

beforeAll(async () => {
  // One owner makes many contexts here: room above the per-key quotas (test/hostile tests those).
  engine = makeEngine({ FAAS_KEY_MAX_FAMILY_CONTAINERS: '64', FAAS_KEY_MAX_CONTEXTS: '256' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
});

async function py(executionId: string, code: string, owner = A): Promise<string> {
  const r = await engine.execute({ language: 'python', executionId, code }, { owner });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout.trim();
}

async function rejection(p: Promise<unknown>): Promise<FaaSError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).not.toBeNull();
  return e as FaaSError;
}

/** A python context with a file and, in memory, a variable and a loaded module. */
async function context(owner = A): Promise<string> {
  const r = await engine.execute(
    { language: 'python', mode: 'checkpointed', code: 'import json\nx = 41\nopen("state.txt", "w").write("base")\nopen("gone.txt", "w").write("x")\nprint("ready")' },
    { owner },
  );
  expect(r.stdout).toBe('ready\n');
  return r.executionId;
}

describe('stateful contexts', () => {
  it('a later execute with the executionId sees the files and the memory the earlier one left', async () => {
    const id = await context();
    expect(await py(id, 'x += 1\nprint(x, open("state.txt").read(), "json" in dir())')).toBe('42 base True');
    // every run's id names the same context
    const r = await engine.execute({ language: 'python', executionId: id, code: 'y = x * 2' }, { owner: A });
    expect(await py(r.executionId, 'print(y)')).toBe('84');
  });

  it('a javascript context keeps its globals', async () => {
    const r = await engine.execute({ language: 'javascript', mode: 'persistent', code: 'globalThis.counter = 1; var seen = ["a"]; console.log("ok")' }, { owner: A });
    expect(r.stdout).toBe('ok\n');
    const r2 = await engine.execute({ language: 'javascript', executionId: r.executionId, code: 'counter += 1; seen.push("b"); console.log(counter, seen.join())' }, { owner: A });
    expect(r2.stdout).toBe('2 a,b\n');
  });

  it("a program past its time is stopped and the context keeps its state", async () => {
    const id = await context();
    const r = await engine.execute({ language: 'python', executionId: id, code: 'x = 7\nimport time\ntime.sleep(30)', resources: { timeoutMs: 500 } }, { owner: A });
    expect(r.timedOut).toBe(true);
    expect(await py(id, 'print(x)')).toBe('7');
  });

  it("another owner's context is NOT_FOUND, and so is a language that is not the context's", async () => {
    const id = await context();
    expect((await rejection(engine.execute({ language: 'python', executionId: id, code: 'print(x)' }, { owner: B }))).code).toBe('NOT_FOUND');
    const e = await rejection(engine.execute({ language: 'javascript', executionId: id, code: '1' }, { owner: A }));
    expect(e.code).toBe('VALIDATION_ERROR');
    expect(e.message).toContain('language');
  });
});

describe('snapshots', () => {
  it('files and variables survive snapshot → restore, and the context goes on independently', async () => {
    const id = await context();
    const snap = await engine.createSnapshot(A, id);
    expect(snap).toMatchObject({ executionId: id, hasMemory: true, language: 'python' });
    expect(snap.id).toMatch(/^snap_/);
    expect(snap.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(snap.sizeBytes).toBe(5); // "base" + "x"
    expect(Date.parse(snap.createdAt)).toBeGreaterThan(Date.now() - 60_000);
    await py(id, 'x = 1000\nopen("state.txt", "w").write("changed later")');
    const restored = await engine.restoreSnapshot(A, snap.id);
    expect(restored).toMatchObject({ snapshotId: snap.id, hasMemory: true });
    expect(await py(restored.executionId, 'print(x, json.dumps([1]), open("state.txt").read())')).toBe('41 [1] base');
    expect(await py(id, 'print(x, open("state.txt").read())')).toBe('1000 changed later');
    expect(engine.listSnapshots(A).map((s) => s.id)).toContain(snap.id);
    expect(engine.getSnapshot(A, snap.id)).toEqual(snap);
  });

  it('a javascript snapshot keeps the files and the memory (a fork of its node: test/sandbox/js-snapshots.test.ts), and says so', async () => {
    const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: 'require("fs").writeFileSync("kept.txt", "js file"); globalThis.counter = 7' }, { owner: A });
    const snap = await engine.createSnapshot(A, r.executionId);
    expect(snap).toMatchObject({ hasMemory: true, language: 'javascript', sizeBytes: 7 });
    const back = await engine.restoreSnapshot(A, snap.id);
    expect(back.hasMemory).toBe(true);
    const out = await engine.execute({ language: 'javascript', executionId: back.executionId, code: 'console.log(require("fs").readFileSync("kept.txt", "utf8"), counter)' }, { owner: A });
    expect(out.stdout).toBe('js file 7\n');
    // the context itself goes on with its memory
    const same = await engine.execute({ language: 'javascript', executionId: r.executionId, code: 'console.log(counter)' }, { owner: A });
    expect(same.stdout).toBe('7\n');
  });

  it('two snapshots of identical files share a content hash (and storage)', async () => {
    const id = await context();
    const s1 = await engine.createSnapshot(A, id);
    await py(id, 'x = 5'); // memory differs, files do not
    const s2 = await engine.createSnapshot(A, id);
    expect(s2.contentHash).toBe(s1.contentHash);
    await py(id, 'open("state.txt", "a").write("!")');
    const s3 = await engine.createSnapshot(A, id);
    expect(s3.contentHash).not.toBe(s1.contentHash);
  });

  it('4 branches of one snapshot, made at once, each see only their own writes to the same file and variable', async () => {
    const snap = await engine.createSnapshot(A, await context());
    const branches = await Promise.all([0, 1, 2, 3].map(() => engine.createBranch(A, snap.id)));
    expect(new Set(branches.map((b) => b.executionId)).size).toBe(4);
    for (const b of branches) expect(b).toMatchObject({ snapshotId: snap.id, hasMemory: true });
    await Promise.all(branches.map((b, i) => py(b.executionId, `x = ${i}\nopen("state.txt", "w").write("branch ${i}")\nimport threading\nopen("mine-${i}.txt", "w").write("")`)));
    const seen = await Promise.all(branches.map((b) => py(b.executionId, 'import os\nprint(x, open("state.txt").read(), sorted(f for f in os.listdir(".") if f.startswith("mine")))')));
    expect(seen).toEqual([0, 1, 2, 3].map((i) => `${i} branch ${i} ['mine-${i}.txt']`));
  });

  it('a branch sees no other context: not their files, not the snapshot store, not their processes', async () => {
    const origin = await context();
    const snap = await engine.createSnapshot(A, origin);
    const [b1, b2] = await Promise.all([engine.createBranch(A, snap.id), engine.createBranch(A, snap.id)]);
    // b1 starts a process; neither its sibling b2 nor the context the snapshot was taken of
    // can find it: the processes that exist in a context's PID namespace are its own only.
    await py(b1.executionId, 'import subprocess\nproc = subprocess.Popen(["sleep", "60"])');
    const visible = [
      'import os',
      'def exists(p):',
      '    try:',
      '        os.kill(p, 0); return True',
      '    except ProcessLookupError: return False',
      '    except PermissionError: return True',
      'print(sorted(p for p in range(1, 4096) if exists(p)), os.getpid())',
    ].join('\n');
    for (const id of [b2.executionId, origin]) expect(await py(id, visible)).toBe('[1, 2] 2'); // the namespace's init and the context
    expect(await py(b1.executionId, visible)).toMatch(/^\[1, 2, \d+\] 2$/); // and its own sleep
    expect(await py(b2.executionId, 'import os\nprint(os.listdir("."), os.listdir("/sandbox/.frozen"), os.listdir("/sandbox/.ctx"))')).toBe(
      "['state.txt', 'gone.txt'] [] []",
    );
    expect(await py(b1.executionId, 'print(proc.poll())')).toBe('None'); // still running, untouched
  });

  it('merging branches that changed different files carries every change over', async () => {
    const snap = await engine.createSnapshot(A, await context());
    const [b1, b2] = await Promise.all([engine.createBranch(A, snap.id), engine.createBranch(A, snap.id)]);
    await py(b1.executionId, 'open("from-b1.txt", "w").write("one")\nimport os\nos.remove("gone.txt")\nx = 99');
    await py(b2.executionId, 'os_dir = __import__("os").makedirs("sub/dir")\nopen("sub/dir/from-b2.bin", "wb").write(bytes(range(256)))');
    const merged = await engine.mergeBranches(A, [b1.id, b2.id]);
    expect(merged).toMatchObject({ memoryFrom: 'base', strategy: 'fail', conflicts: [], hasMemory: true, baseSnapshotId: snap.id });
    expect(merged.summary).toEqual({ added: 2, changed: 0, deleted: 1 });
    const r = await engine.restoreSnapshot(A, merged.id);
    expect(await py(r.executionId, 'import os\nprint(sorted(os.listdir(".")), open("from-b1.txt").read(), open("sub/dir/from-b2.bin", "rb").read() == bytes(range(256)), x)')).toBe(
      "['from-b1.txt', 'state.txt', 'sub'] one True 41",
    );
  });

  it('conflicting branches fail with the paths listed; ours and theirs resolve them', async () => {
    const snap = await engine.createSnapshot(A, await context());
    const [b1, b2] = await Promise.all([engine.createBranch(A, snap.id), engine.createBranch(A, snap.id)]);
    await py(b1.executionId, 'open("state.txt", "w").write("b1")\nopen("same.txt", "w").write("same")');
    await py(b2.executionId, 'open("state.txt", "w").write("b2")\nopen("same.txt", "w").write("same")');
    const e = await rejection(engine.mergeBranches(A, [b1.id, b2.id]));
    expect(e.code).toBe('MERGE_CONFLICT');
    expect(e.details?.conflicts).toEqual(['state.txt']); // the same change in both is no conflict
    expect(e.message).toContain('state.txt');
    expect(engine.listSnapshots(A).filter((s) => s.baseSnapshotId === snap.id)).toEqual([]); // nothing created
    const ours = await engine.mergeBranches(A, [b1.id, b2.id], 'ours');
    const theirs = await engine.mergeBranches(A, [b1.id, b2.id], 'theirs');
    expect(ours.conflicts).toEqual(['state.txt']);
    for (const [m, want] of [[ours, 'b1'], [theirs, 'b2']] as const) {
      const r = await engine.restoreSnapshot(A, m.id);
      expect(await py(r.executionId, 'print(open("state.txt").read(), open("same.txt").read())')).toBe(`${want} same`);
    }
  });

  it('a directory deleted in one branch and added to in another is a conflict at the directory; ours and theirs keep one side whole', async () => {
    const id = await context();
    await py(id, 'import os\nos.makedirs("d")\nopen("d/x", "w").write("x")\nos.symlink("/usr/bin/env", "link")');
    const snap = await engine.createSnapshot(A, id);
    const [b1, b2] = await Promise.all([engine.createBranch(A, snap.id), engine.createBranch(A, snap.id)]);
    await py(b1.executionId, 'import shutil\nshutil.rmtree("d")');
    await py(b2.executionId, 'open("d/new", "w").write("new")');
    const e = await rejection(engine.mergeBranches(A, [b1.id, b2.id]));
    expect(e.details?.conflicts).toEqual(['d']);
    const list = 'import os\nprint(sorted(os.listdir(".")), sorted(os.listdir("d")) if os.path.isdir("d") else None, os.readlink("link"))';
    const ours = await engine.restoreSnapshot(A, (await engine.mergeBranches(A, [b1.id, b2.id], 'ours')).id);
    expect(await py(ours.executionId, list)).toBe("['gone.txt', 'link', 'state.txt'] None /usr/bin/env");
    const theirs = await engine.restoreSnapshot(A, (await engine.mergeBranches(A, [b1.id, b2.id], 'theirs')).id);
    expect(await py(theirs.executionId, list)).toBe("['d', 'gone.txt', 'link', 'state.txt'] ['new', 'x'] /usr/bin/env");
  });

  it('a snapshot ends what earlier runs left running, and refuses while threads run', async () => {
    const id = await context();
    await py(id, 'import subprocess\nbg = subprocess.Popen(["sleep", "60"])');
    await engine.createSnapshot(A, id);
    expect(await py(id, 'import os\ntry:\n    os.kill(bg.pid, 0); print("alive")\nexcept ProcessLookupError:\n    print("gone")')).toBe('gone');
    await py(id, 'import threading, time\nstop = threading.Event()\nt = threading.Thread(target=stop.wait)\nt.start()');
    const e = await rejection(engine.createSnapshot(A, id));
    expect(e.message).toContain('threads');
    await py(id, 'stop.set()\nt.join()');
    expect((await engine.createSnapshot(A, id)).hasMemory).toBe(true);
    expect(await py(id, 'print(x)')).toBe('41'); // the context went on through all of it
  });

  it('branches of different snapshots cannot be merged; bad strategies and ids are clear errors', async () => {
    const id = await context();
    const s1 = await engine.createSnapshot(A, id);
    const s2 = await engine.createSnapshot(A, id);
    const [b1, b2] = await Promise.all([engine.createBranch(A, s1.id), engine.createBranch(A, s2.id)]);
    const e = await rejection(engine.mergeBranches(A, [b1.id, b2.id]));
    expect(e.code).toBe('VALIDATION_ERROR');
    expect(e.message).toContain('different snapshots');
    expect((await rejection(engine.mergeBranches(A, [b1.id]))).message).toContain('branchIds');
    expect((await rejection(engine.mergeBranches(A, [b1.id, b1.id], 'mine' as 'ours'))).message).toContain('strategy');
    expect((await rejection(engine.mergeBranches(A, [b1.id, 'br_nope']))).code).toBe('NOT_FOUND');
  });

  it('restoring an unknown or deleted snapshot is NOT_FOUND; deleting frees its stored files', async () => {
    const id = await context();
    await py(id, 'open("big.bin", "wb").write(bytes(2_000_000))');
    const snap = await engine.createSnapshot(A, id);
    const bytes = engine.contexts.storedBytes(A, snap.contentHash);
    expect(bytes).toBeGreaterThan(2_000_000);
    await engine.deleteSnapshot(A, snap.id);
    expect(engine.contexts.storedBytes(A, snap.contentHash)).toBe(0);
    for (const sid of [snap.id, 'snap_unknown']) {
      const e = await rejection(engine.restoreSnapshot(A, sid));
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toContain(sid);
    }
    expect(engine.listSnapshots(A).map((s) => s.id)).not.toContain(snap.id);
  });

  it('equal trees of two keys are stored apart: a stored tree is trusted only by its own key', async () => {
    const unique = `open("u.txt", "w").write("${Math.random()}")`;
    const [ca, cb] = [await context(A), await context(B)];
    await py(ca, unique, A);
    const same = (await engine.execute({ language: 'python', executionId: ca, code: 'print(open("u.txt").read())' }, { owner: A })).stdout.trim();
    await py(cb, `open("u.txt", "w").write("${same}")`, B);
    const [a, b] = [await engine.createSnapshot(A, ca), await engine.createSnapshot(B, cb)];
    expect(a.contentHash).toBe(b.contentHash);
    expect(engine.contexts.storedBytes(A, a.contentHash)).toBeGreaterThan(0);
    expect(engine.contexts.storedBytes(B, b.contentHash)).toBeGreaterThan(0);
    await engine.deleteSnapshot(A, a.id);
    expect(engine.contexts.storedBytes(A, a.contentHash)).toBe(0);
    expect(engine.contexts.storedBytes(B, b.contentHash)).toBeGreaterThan(0);
  });

  it("another owner's snapshot or context is refused as NOT_FOUND", async () => {
    const id = await context();
    const snap = await engine.createSnapshot(A, id);
    expect((await rejection(engine.createSnapshot(B, id))).code).toBe('NOT_FOUND');
    expect((await rejection(engine.restoreSnapshot(B, snap.id))).code).toBe('NOT_FOUND');
    expect((await rejection(engine.createBranch(B, snap.id))).code).toBe('NOT_FOUND');
    expect((await rejection(engine.deleteSnapshot(B, snap.id))).code).toBe('NOT_FOUND');
    expect(engine.listSnapshots(B).map((s) => s.id)).not.toContain(snap.id);
  });
});

describe('idle contexts', () => {
  it('a context idle past FAAS_CONTEXT_IDLE_MS is ended; its snapshot stays restorable', async () => {
    const short = makeEngine({ FAAS_CONTEXT_IDLE_MS: '1500' });
    await short.start();
    try {
      const r = await short.execute({ language: 'python', mode: 'checkpointed', code: 'x = 5' }, { owner: A });
      const snap = await short.createSnapshot(A, r.executionId);
      await new Promise((res) => setTimeout(res, 4_500)); // idle 1.5 s, checked every 1.5 s
      const gone = await short.execute({ language: 'python', executionId: r.executionId, code: 'print(x)' }, { owner: A }).then(() => null, (e: FaaSError) => e);
      expect(gone?.code).toBe('NOT_FOUND');
      const back = await short.restoreSnapshot(A, snap.id);
      expect((await short.execute({ language: 'python', executionId: back.executionId, code: 'print(x)' }, { owner: A })).stdout).toBe('5\n');
    } finally {
      await short.shutdown();
    }
  });
});

describe('across an operator restart', () => {
  it('snapshots and contexts are found again, memory included; a lost family container is restored from the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faas-restart-'));
    const state = () => ({ db: openDatabase(join(dir, 'operator.db')), dir: join(dir, 'snapshots') });
    const config = loadConfig({ FAAS_PREWARM_LANGUAGES: 'python', FAAS_LOG_LEVEL: 'warn' });
    const log = createLogger('warn', 'test');
    let first: DockerSandboxEngine | null = new DockerSandboxEngine(config, log, undefined, state());
    let second: DockerSandboxEngine | null = null;
    try {
      await first.start();
      const r = await first.execute({ language: 'python', mode: 'checkpointed', code: 'x = 41\nopen("state.txt", "w").write("kept")' }, { owner: A });
      const snap = await first.createSnapshot(A, r.executionId);
      await first.shutdown();
      first = null;

      second = new DockerSandboxEngine(config, log, undefined, state());
      await second.start();
      expect(second.listSnapshots(A).map((s) => s.id)).toEqual([snap.id]);
      const restored = await second.restoreSnapshot(A, snap.id);
      const again = await second.execute({ language: 'python', executionId: restored.executionId, code: 'print(x, open("state.txt").read())' }, { owner: A });
      expect(again.stdout).toBe('41 kept\n');
      const ctx = await second.execute({ language: 'python', executionId: r.executionId, code: 'print(x + 1)' }, { owner: A });
      expect(ctx.stdout).toBe('42\n'); // the original context too

      // The family container is lost (a Docker restart, a host reboot): the files come back.
      await second.contexts.purge();
      const fromFiles = await second.restoreSnapshot(A, snap.id);
      expect(fromFiles.hasMemory).toBe(false);
      const files = await second.execute({ language: 'python', executionId: fromFiles.executionId, code: 'print("x" in globals(), open("state.txt").read())' }, { owner: A });
      expect(files.stdout).toBe('False kept\n');
      expect(second.getSnapshot(A, snap.id).hasMemory).toBe(false);
    } finally {
      await first?.shutdown();
      await second?.contexts.purge();
      await second?.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
    expect(existsSync(dir)).toBe(false);
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('faas-restart-'))).toEqual([]);
  });
});
