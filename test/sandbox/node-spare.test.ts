// Cached javascript / typescript run in a spare: a `node runner.cjs` booted ahead while the
// owner's previous execution runs, in the same sandbox and under the same uid. While it waits it
// must not be dumpable (runner.cjs makes itself so first thing; execve had made it dumpable):
// otherwise execution N could write into the next spare's stdin (fd 0) or status pipe (fd 4) —
// the bytes outlive N's processes, and N+1 would read injected input and report a forged exit
// code — or read N+1's program and environment. N tries exactly that and must get EACCES;
// N+1's output and exit code must be its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine({ FAAS_PREWARM_LANGUAGES: 'javascript' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

// Every waiting node spare in sight (`node runner.cjs LANGUAGE --spare`, or forked by the node
// zygote `node runner.cjs LANGUAGE --zygote`, which is probed too), once
// they have had time to boot: open its stdin and status pipe for writing (and, had that worked,
// inject a line into each), its control pipe, environment and memory for reading.
const probe = (ts: boolean) => `
const fs = require('fs');
const { O_WRONLY, O_RDONLY, O_NONBLOCK } = fs.constants;
const found${ts ? ': Record<string, Record<string, string>>' : ''} = {};
setTimeout(() => {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid) || Number(pid) === process.pid) continue;
    let cmdline${ts ? ': string' : ''};
    try { cmdline = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf8'); } catch { continue; }
    if (!cmdline.includes('runner.cjs') || !(cmdline.includes('--spare') || cmdline.includes('--zygote'))) continue;
    const tried${ts ? ': Record<string, string>' : ''} = {};
    for (const [file, flags, inject] of [['fd/0', O_WRONLY, 'injected stdin\\n'], ['fd/4', O_WRONLY, '{"exit":0,"cpu":0,"maxrss":0}\\n'], ['fd/3', O_RDONLY, ''], ['environ', O_RDONLY, ''], ['mem', O_RDONLY, '']]${ts ? ' as [string, number, string][]' : ''}) {
      try {
        const fd = fs.openSync('/proc/' + pid + '/' + file, flags | O_NONBLOCK);
        if (inject) fs.writeSync(fd, inject);
        fs.closeSync(fd);
        tried[file] = 'opened';
      } catch (e) {
        tried[file] = (e${ts ? ' as NodeJS.ErrnoException' : ''}).code ?? String(e);
      }
    }
    found[pid] = tried;
  }
  console.log(JSON.stringify(found));
}, 500);
`;

// N+1: echoes its own stdin and ends with its own code.
const victim = (ts: boolean) => `
const chunks${ts ? ': Buffer[]' : ''} = [];
process.stdin.on('data', (c${ts ? ': Buffer' : ''}) => chunks.push(c));
process.stdin.on('end', () => { console.log('own:' + Buffer.concat(chunks).toString()); process.exitCode = 7; });
`;

describe.each([
  ['javascript', false],
  ['typescript', true],
] as const)('%s spares', (language, ts) => {
  const owner = { owner: `node-spare-${language}` };

  it('one execution cannot open the waiting spare’s pipes, environment or memory; the next runs as its own', async () => {
    // Warm the owner's sandbox so spares are waiting beside the probe.
    await engine.execute({ code: 'console.log(1)', language, mode: 'cached' }, owner);
    const r = await engine.execute({ code: probe(ts), language, mode: 'cached' }, owner);
    expect(r.exitCode, r.stderr).toBe(0);
    const found = JSON.parse(r.stdout) as Record<string, Record<string, string>>;
    const spares = Object.values(found);
    expect(spares.length).toBeGreaterThan(0); // it saw a waiting spare: the checks below checked something
    for (const tried of spares) {
      expect(tried).toEqual({ 'fd/0': 'EACCES', 'fd/4': 'EACCES', 'fd/3': 'EACCES', environ: 'EACCES', mem: 'EACCES' });
    }
    for (let i = 0; i < 3; i++) {
      const next = await engine.execute({ code: victim(ts), language, mode: 'cached', stdin: `mine ${i}` }, owner);
      expect(next).toMatchObject({ exitCode: 7, stdout: `own:mine ${i}\n` });
    }
  });
});

// In a sandbox of at most one core, a node spare's boot (100-250 ms of CPU) beside a short
// execution used up the container's CPU quota early in the period, and the execution waited out
// the rest (agent/faas_agent/spares.py, PACE_NODE_BOOTS). Booting spares are held (stopped)
// while an execution is in its first moments, and boot once it has run a while. The probe runs
// right after another execution, whose replacement spare is then booting: it looks for a
// stopped process at its start, and again 200 ms later.
const stoppedProbe = `
const fs = require('fs');
function stopped() {
  let n = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const stat = fs.readFileSync('/proc/' + pid + '/stat', 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('T')) n++;
    } catch { /* gone */ }
  }
  return n;
}
const t = Date.now();
let held = 0;
while (!held && Date.now() - t < 10) held = stopped();
setTimeout(() => console.log(JSON.stringify({ held, later: stopped() })), 200);
`;

describe.each(['javascript', 'typescript'] as const)('%s spares booting beside an execution', (language) => {
  const owner = { owner: `node-boots-${language}` };

  it('wait while it starts, and boot once it has run a while', async () => {
    // A forked spare is ready 20-35 ms after its fork: the probe may start after that, so the
    // scene is played up to 8 times; some run must see the replacement held, and none may see
    // a spare still stopped 200 ms on.
    await engine.execute({ code: 'console.log(1)', language, mode: 'cached' }, owner);
    const runs: { held: number; later: number }[] = [];
    while (runs.length < 8 && !runs.some((x) => x.held > 0)) {
      await engine.execute({ code: 'console.log(2)', language, mode: 'cached' }, owner);
      const r = await engine.execute({ code: stoppedProbe, language, mode: 'cached' }, owner);
      expect(r.exitCode, r.stderr).toBe(0);
      runs.push(JSON.parse(r.stdout) as { held: number; later: number });
    }
    expect(runs.some((x) => x.held > 0)).toBe(true);
    for (const x of runs) expect(x.later).toBe(0);
    // The held spare booted: the next executions run as usual.
    for (let i = 0; i < 3; i++) expect((await engine.execute({ code: `console.log(${i})`, language, mode: 'cached' }, owner)).stdout).toBe(`${i}\n`);
  });
});

// Node spares are forks of a node zygote that booted once (runner.cjs --zygote; where pidfds
// work and V8 runs single-threaded): what node keeps per process must still be the spare's own,
// and a fork must end as `node main.js` would, whatever way its program ends.
describe.each(['javascript', 'typescript'] as const)('%s spares forked from the node zygote', (language) => {
  const owner = { owner: `node-zygote-${language}` };
  const run = (code: string) => engine.execute({ code, language, mode: 'cached' }, owner);

  it('are forks of it, with their own pid, their own random numbers (Math.random, crypto), and no fd of the zygote', async () => {
    const show = `const fs = require('fs');
const parent = fs.readFileSync('/proc/' + process.ppid + '/cmdline', 'utf8').split('\\0');
const links = fs.readdirSync('/proc/self/fd').map((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f); } catch { return ''; } });
console.log(JSON.stringify({
  forked: parent.includes('--zygote'),
  pid: process.pid === Number(fs.readlinkSync('/proc/self')),
  random: Math.random(),
  bytes: require('crypto').randomBytes(8).toString('hex'),
  zygoteFds: links.filter((l) => l.startsWith('socket:') || l.includes('pidfd')),
}));`;
    const seen = [];
    for (let i = 0; i < 3; i++) {
      const r = await run(show);
      expect(r.exitCode, r.stderr).toBe(0);
      seen.push(JSON.parse(r.stdout) as { forked: boolean; pid: boolean; random: number; bytes: string; zygoteFds: string[] });
    }
    for (const s of seen) expect(s).toMatchObject({ forked: true, pid: true, zygoteFds: [] });
    expect(new Set(seen.map((s) => s.random)).size).toBe(3);
    expect(new Set(seen.map((s) => s.bytes)).size).toBe(3);
  });

  it('end as node would: exit codes, exit listeners, an uncaught exception with its trace, a signal', async () => {
    expect(await run('console.log("a")')).toMatchObject({ exitCode: 0, stdout: 'a\n' });
    expect(await run('process.on("exit", (c) => console.log("listener", c)); console.log("b"); process.exit(3)')).toMatchObject({ exitCode: 3, stdout: 'b\nlistener 3\n' });
    expect(await run('process.exitCode = 5; console.log("c")')).toMatchObject({ exitCode: 5, stdout: 'c\n' });
    const thrown = await run('console.log("d"); setTimeout(() => { throw new Error("boom") }, 1)');
    expect(thrown).toMatchObject({ exitCode: 1, stdout: "d\n" });
    expect(thrown.stderr).toContain('Error: boom');
    expect(thrown.stderr).toContain('Node.js v');
    const killed = await run('process.kill(process.pid, "SIGTERM"); setTimeout(() => {}, 5000)');
    expect(killed).toMatchObject({ exitCode: 143, timedOut: false });
    const child = await run('console.log(require("child_process").execFileSync("node", ["-e", "console.log(process.argv.length, typeof process.pid)"]).toString().trim())');
    expect(child).toMatchObject({ exitCode: 0, stdout: '1 number\n' });
  });
});
