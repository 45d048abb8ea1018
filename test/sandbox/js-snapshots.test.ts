// JavaScript and TypeScript contexts keep their heap in snapshots (node_holder.py, ctx-hold.cjs):
// restore and branch see the same globals, loaded modules and closures; branches share no
// mutable memory with each other or their origin. Real engine, real family containers.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Language } from '../../src/sandbox/types.js';
import { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { docker, makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;
const A = 'owner-a';

beforeAll(async () => {
  engine = makeEngine({ FAAS_KEY_MAX_FAMILY_CONTAINERS: '64', FAAS_KEY_MAX_CONTEXTS: '256' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
});

async function run(executionId: string, code: string, language: Language = 'javascript'): Promise<string> {
  const r = await engine.execute({ language, executionId, code }, { owner: A });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return r.stdout.trim();
}

// A module of the work directory with state of its own, a closure over a counter, and a global.
const SETUP = [
  'const fs = require("fs");',
  'fs.writeFileSync("counter.js", "let n = 0; module.exports = { bump: () => ++n };");',
  'globalThis.mod = require("./counter.js"); mod.bump(); mod.bump();',
  'globalThis.next = (() => { let c = 100; return () => ++c; })(); next();',
  'globalThis.data = Array.from({ length: 1000 }, (_, i) => i);',
  'console.log("ready");',
].join('\n');
const PROBE = 'console.log(mod.bump(), next(), data.length, require("./counter.js") === mod)';

async function jsContext(): Promise<string> {
  const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: SETUP }, { owner: A });
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('ready\n');
  return r.executionId;
}

describe('javascript snapshots keep the heap', () => {
  it('globals, a required module\'s state and closures survive snapshot → restore; the context goes on independently', async () => {
    const id = await jsContext();
    const snap = await engine.createSnapshot(A, id);
    expect(snap).toMatchObject({ executionId: id, hasMemory: true, language: 'javascript' });
    // the origin changes its memory after the snapshot
    expect(await run(id, 'data.length = 1; ' + PROBE)).toBe('3 102 1 true');
    const restored = await engine.restoreSnapshot(A, snap.id);
    expect(restored).toMatchObject({ snapshotId: snap.id, hasMemory: true });
    expect(await run(restored.executionId, PROBE)).toBe('3 102 1000 true');
    // and again: the restored context has its own memory, the origin its own
    expect(await run(restored.executionId, PROBE)).toBe('4 103 1000 true');
    expect(await run(id, PROBE)).toBe('4 103 1 true');
  });

  it('4 branches of one snapshot, made at once, each keep their own memory; the origin keeps its own', async () => {
    const id = await jsContext();
    const snap = await engine.createSnapshot(A, id);
    const branches = await Promise.all([0, 1, 2, 3].map(() => engine.createBranch(A, snap.id)));
    expect(new Set(branches.map((b) => b.executionId)).size).toBe(4);
    for (const b of branches) expect(b).toMatchObject({ snapshotId: snap.id, hasMemory: true });
    await Promise.all(branches.map((b, i) => run(b.executionId, `data.fill(${i}); for (let k = 0; k < ${i}; k++) mod.bump(); globalThis.mine = ${i}`)));
    const seen = await Promise.all(branches.map((b) => run(b.executionId, 'console.log(data[0], data[999], mod.bump(), next(), mine)')));
    expect(seen).toEqual([0, 1, 2, 3].map((i) => `${i} ${i} ${3 + i} 102 ${i}`));
    expect(await run(id, 'console.log(data[5], mod.bump(), typeof mine)')).toBe('5 3 undefined');
  });

  it('a branch of a branch keeps the memory of its own snapshot', async () => {
    const snap = await engine.createSnapshot(A, await jsContext());
    const b = await engine.createBranch(A, snap.id);
    await run(b.executionId, 'globalThis.level = "branch"; mod.bump()');
    const snap2 = await engine.createSnapshot(A, b.executionId);
    expect(snap2.hasMemory).toBe(true);
    const bb = await engine.createBranch(A, snap2.id);
    expect(await run(bb.executionId, 'console.log(level, ' + PROBE.slice('console.log('.length))).toBe('branch 4 102 1000 true');
  });

  it('a snapshot does not run the program\'s timers while it is held; its restores do', async () => {
    const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: 'globalThis.ticks = 0; globalThis.timer = setInterval(() => ticks++, 20); console.log("on")' }, { owner: A });
    const snap = await engine.createSnapshot(A, r.executionId);
    const atSnapshot = Number(await run(r.executionId, 'clearInterval(timer); console.log(ticks)'));
    await new Promise((res) => setTimeout(res, 500));
    const restored = await engine.restoreSnapshot(A, snap.id);
    const first = Number(await run(restored.executionId, 'console.log(ticks)'));
    expect(first).toBeLessThanOrEqual(atSnapshot + 5); // the held heap did not tick for 500 ms
    await new Promise((res) => setTimeout(res, 300));
    expect(Number(await run(restored.executionId, 'clearInterval(timer); console.log(ticks)'))).toBeGreaterThan(first);
  });

  it('a context that used the thread pool (fs.promises, crypto) snapshots once that work is done, and its branch uses the pool again; work in flight is refused with the reason', async () => {
    const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: 'require("fs").promises.readFile("/etc/hostname", "utf8").then(() => { globalThis.text = "read"; console.log(text); })' }, { owner: A });
    expect(r.stderr).toBe('');
    const snap = await engine.createSnapshot(A, r.executionId);
    const b = await engine.createBranch(A, snap.id);
    expect(await run(b.executionId, 'require("fs").promises.readdir("/").then((l) => new Promise((ok) => require("crypto").pbkdf2("a", "b", 10, 8, "sha256", (e, k) => ok(console.log(text, l.length > 0, k.length)))))')).toBe('read true 8');
    // an fs request still running (a thread-pool thread blocked opening a FIFO nobody writes yet)
    await run(r.executionId, 'require("child_process").execFileSync("mkfifo", ["/tmp/fifo"]); globalThis.pending = require("fs").promises.readFile("/tmp/fifo", "utf8"); undefined');
    const refused = await engine.createSnapshot(A, r.executionId).then(() => null, (e: unknown) => e as Error);
    expect(refused).not.toBeNull();
    expect(refused!.message).toMatch(/work running on other threads \(.*FSReqPromise/);
    // the context goes on: the write end opened, the read finishes, and now it snapshots
    expect(await run(r.executionId, 'require("fs").writeFileSync("/tmp/fifo", "late"); pending.then((v) => console.log(v, text))')).toBe('late read');
    expect((await engine.createSnapshot(A, r.executionId)).hasMemory).toBe(true);
  });

  it('the seed README\'s checkpointed and branched examples: the loaded data is there after restore and in each branch', async () => {
    const helpers = 'function loadLargeDataset() { return Array.from({ length: 100000 }, (_, i) => ({ i })); }\nfunction processData(d) { globalThis.processed = d.length; }\n';
    const result = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: `${helpers}\n// Heavy initialization\nconst data = loadLargeDataset();\nprocessData(data);\n` }, { owner: A });
    expect(result.exitCode).toBe(0);
    const snapshot = await engine.createSnapshot(A, result.executionId);
    const restored = await engine.restoreSnapshot(A, snapshot.id);
    expect(await run(restored.executionId, 'console.log(data.length, processed)')).toBe('100000 100000');
    const branch1 = await engine.createBranch(A, snapshot.id);
    const branch2 = await engine.createBranch(A, snapshot.id);
    await run(branch1.executionId, 'data.length = 10');
    await run(branch2.executionId, 'data.push({ i: -1 })');
    expect(await run(branch1.executionId, 'console.log(data.length)')).toBe('10');
    expect(await run(branch2.executionId, 'console.log(data.length)')).toBe('100001');
    expect(await run(restored.executionId, 'console.log(data.length)')).toBe('100000');
  });
});

// The context nodes of one container (docker top, from the host): each runs ctx-runner.cjs.
async function nodeCount(containerId: string): Promise<number> {
  const top = (await docker.getContainer(containerId).top({ ps_args: '-eo pid,args' })) as { Processes?: string[][] };
  return (top.Processes ?? []).filter((p) => (p[1] ?? '').includes('ctx-runner.cjs')).length;
}

describe('javascript branches made ahead (agent/faas_agent/branch_spares.py)', () => {
  it('each branch taken from the one made ahead has memory of its own, and the one made ahead ends with its snapshot', async () => {
    const B = 'owner-spares'; // its own key: a family container of its own, whose processes are counted
    const before = new Set(await ourContainers());
    const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: SETUP }, { owner: B });
    expect(r.stdout).toBe('ready\n');
    const family = (await ourContainers()).filter((c) => !before.has(c));
    expect(family).toHaveLength(1);
    const snap = await engine.createSnapshot(B, r.executionId);
    const runB = async (id: string, code: string) => {
      const x = await engine.execute({ language: 'javascript', executionId: id, code }, { owner: B });
      expect(x.stderr).toBe('');
      return x.stdout.trim();
    };
    // The first is made on request; each after it is the one made ahead after the one before.
    const branches = [];
    for (let i = 0; i < 4; i++) branches.push(await engine.createBranch(B, snap.id));
    for (const [i, b] of branches.entries()) {
      expect(await runB(b.executionId, `console.log(typeof mark, mod.bump(), data.length); globalThis.mark = ${i}; data.length = ${i}`)).toBe('undefined 3 1000');
    }
    for (const [i, b] of branches.entries()) expect(await runB(b.executionId, 'console.log(mark, data.length, mod.bump())')).toBe(`${i} ${i} 4`);
    // nodes: the origin's, the held one, 4 branches', the one made ahead (made in the background)
    let nodes = 0;
    for (let t = 0; t < 100 && nodes !== 7; t++) {
      nodes = await nodeCount(family[0]!);
      if (nodes !== 7) await new Promise((res) => setTimeout(res, 100));
    }
    expect(nodes).toBe(7);
    await engine.deleteSnapshot(B, snap.id);
    for (let t = 0; t < 100 && nodes !== 5; t++) {
      await new Promise((res) => setTimeout(res, 100));
      nodes = await nodeCount(family[0]!);
    }
    expect(nodes).toBe(5); // the held node and the one made ahead ended; the branches and the origin go on
    for (const [i, b] of branches.entries()) expect(await runB(b.executionId, 'console.log(mark)')).toBe(String(i));
  });
});

// Host pid, ps state and CPU seconds (from /proc: utime+stime) of each context node of a container.
async function nodeStates(containerId: string): Promise<{ pid: number; state: string; cpu: number }[]> {
  const top = (await docker.getContainer(containerId).top({ ps_args: '-eo pid,stat,args' })) as { Processes?: string[][] };
  const nodes = (top.Processes ?? []).filter((p) => (p[2] ?? '').includes('ctx-runner.cjs'));
  return nodes.map((p) => {
    const pid = Number(p[0]);
    let cpu = NaN;
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      cpu = (Number(fields[11]) + Number(fields[12])) / 100;
    } catch { /* ended meanwhile */ }
    return { pid, state: p[1] ?? '', cpu };
  });
}

describe('a javascript branch made ahead waits stopped (branch_spares.py)', () => {
  it('uses no CPU while it waits, though its snapshot left a busy timer; once taken, its timers run', async () => {
    const C = 'owner-spares-stopped'; // a family container of its own
    const before = new Set(await ourContainers());
    const busy = 'globalThis.ticks = 0; setInterval(() => { ticks++; const t = Date.now(); while (Date.now() - t < 150); }, 200); console.log("ready");';
    const r = await engine.execute({ language: 'javascript', mode: 'checkpointed', code: busy }, { owner: C });
    expect(r.stdout).toBe('ready\n');
    const family = (await ourContainers()).filter((c) => !before.has(c));
    expect(family).toHaveLength(1);
    const snap = await engine.createSnapshot(C, r.executionId);
    const runC = async (id: string, code: string) => {
      const x = await engine.execute({ language: 'javascript', executionId: id, code }, { owner: C });
      expect(x.stderr).toBe('');
      return x.stdout.trim();
    };
    await engine.restoreSnapshot(C, snap.id); // made on request; the next is made ahead
    let stopped: { pid: number; state: string; cpu: number }[] = [];
    for (let t = 0; t < 100 && stopped.length !== 1; t++) {
      stopped = (await nodeStates(family[0]!)).filter((n) => n.state.startsWith('T'));
      if (stopped.length !== 1) await new Promise((res) => setTimeout(res, 100));
    }
    expect(stopped).toHaveLength(1); // the one made ahead
    const spare = stopped[0]!;
    await new Promise((res) => setTimeout(res, 2000)); // its timer would burn ~1.5 s of CPU in this time
    const later = (await nodeStates(family[0]!)).find((n) => n.pid === spare.pid)!;
    expect(later.state.startsWith('T')).toBe(true);
    expect(later.cpu - spare.cpu).toBeLessThan(0.05);
    const oomScoreAdj = (pid: number) => Number(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8').trim());
    expect(oomScoreAdj(spare.pid)).toBe(1000); // the OOM killer's first pick while it waits
    // Taken by the next restore: it runs again, and so do its timers.
    const taken = await engine.restoreSnapshot(C, snap.id);
    const now = (await nodeStates(family[0]!)).find((n) => n.pid === spare.pid)!;
    expect(now.state.startsWith('T')).toBe(false);
    expect(oomScoreAdj(spare.pid)).not.toBe(1000);
    const t0 = Number(await runC(taken.executionId, 'console.log(ticks)'));
    await new Promise((res) => setTimeout(res, 1500));
    const t1 = Number(await runC(taken.executionId, 'console.log(ticks)'));
    expect(t1).toBeGreaterThan(t0 + 2);
    // The next one made ahead (stopped) ends with its snapshot: a stopped process would not by itself.
    stopped = [];
    for (let t = 0; t < 100 && stopped.length !== 1; t++) {
      stopped = (await nodeStates(family[0]!)).filter((n) => n.state.startsWith('T') && n.pid !== spare.pid);
      if (stopped.length !== 1) await new Promise((res) => setTimeout(res, 100));
    }
    expect(stopped).toHaveLength(1);
    await engine.deleteSnapshot(C, snap.id);
    let left = stopped;
    for (let t = 0; t < 100 && left.length > 0; t++) {
      await new Promise((res) => setTimeout(res, 100));
      left = (await nodeStates(family[0]!)).filter((n) => n.pid === stopped[0]!.pid);
    }
    expect(left).toEqual([]);
  });
});

describe('typescript snapshots keep the heap', () => {
  it('a typescript context (node type stripping: annotations, an enum, a class) keeps its memory through snapshot, restore and branch', async () => {
    const code = 'enum Color { Red, Green }\nclass Box { constructor(public n: number) {} }\nconst boxes: Box[] = [new Box(1), new Box(2)];\nlet favourite: Color = Color.Green;\nconsole.log("ready");';
    const r = await engine.execute({ language: 'typescript', mode: 'checkpointed', code }, { owner: A });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ready\n');
    const snap = await engine.createSnapshot(A, r.executionId);
    expect(snap).toMatchObject({ hasMemory: true, language: 'typescript' });
    await run(r.executionId, 'boxes.push(new Box(3)); favourite = Color.Red;', 'typescript');
    const restored = await engine.restoreSnapshot(A, snap.id);
    const branch = await engine.createBranch(A, snap.id);
    const probe = 'const total: number = boxes.reduce((s: number, b: Box) => s + b.n, 0);\nconsole.log(total, Color[favourite]);';
    expect(await run(restored.executionId, probe, 'typescript')).toBe('3 Green');
    expect(await run(branch.executionId, probe.replace('const total', 'const total2').replace('(total', '(total2'), 'typescript')).toBe('3 Green');
    expect(await run(r.executionId, probe, 'typescript')).toBe('6 Red');
  });
});
