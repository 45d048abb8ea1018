// A program races the birth of the spares that will run the next executions of the same owner:
// it kills the waiting spares (the agent asks for new ones at once) and polls the new pids'
// /proc/<pid>/fd/3 — a spare's control pipe, which carries the next program — to write its own
// program there. A spare must never be dumpable with its pipes in place: not between fork and
// execve, not during node's boot. (A security read-through found both windows open: a bash
// program got its text run by the next execution, a node one replaced the next program.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine();
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

/** Python run by the attacking program: prints how many newborn spares' control pipes it opened. */
const race = (marker: string, payload: string) => `
import os, time
def pids(): return [int(e) for e in os.listdir('/proc') if e.isdigit()]
def waiting():
    out = []
    for p in pids():
        try: cmd = open('/proc/%d/cmdline' % p, 'rb').read()
        except OSError: continue
        if ${JSON.stringify(marker)}.encode() in cmd and p not in (os.getpid(), os.getppid()): out.append(p)
    return out
old = waiting(); base = max(pids())
for p in old: os.kill(p, 9)
opened = {}
until = time.time() + 2
while time.time() < until and len(opened) < 2:
    for pid in range(base + 1, base + 5):
        try: opened[pid] = os.open('/proc/%d/fd/3' % pid, os.O_WRONLY | os.O_NONBLOCK)
        except OSError: pass
for fd in opened.values(): os.write(fd, ${JSON.stringify(payload)}.encode())
print(len(old), len(opened))
`;

describe('the birth of a spare', () => {
  it('bash: a program cannot write into the control pipe of a spare being born', async () => {
    const run = (code: string) => engine.execute({ code, language: 'bash', mode: 'cached' }, { owner: 'birth-bash' });
    await run('echo warm');
    const attack = await run(`python3 - <<'EOF'\n${race('faas_handover', 'echo INJECTED >&2\n')}\nEOF`);
    const [killed, opened] = attack.stdout.trim().split(' ').map(Number);
    expect(killed).toBeGreaterThanOrEqual(1); // it did find waiting spares to kill
    expect(opened).toBe(0);
    for (let i = 0; i < 3; i++) expect(await run(`echo victim ${i}`)).toMatchObject({ stdout: `victim ${i}\n`, stderr: '', exitCode: 0 });
  });

  it('javascript: a program cannot hand the next execution a program of its own', async () => {
    const run = (code: string) => engine.execute({ code, language: 'javascript', mode: 'cached' }, { owner: 'birth-node' });
    await run('console.log(1)');
    const forged = JSON.stringify({ cwd: '/tmp', env: {}, source: '/tmp/evil.js', code: "console.log('FORGED')" }) + '\n';
    const attack = await run(`console.log(require('child_process').execFileSync('python3', ['-c', ${JSON.stringify(race('runner.cjs', forged))}]).toString().trim())`);
    const [killed, opened] = attack.stdout.trim().split(' ').map(Number);
    expect(killed).toBeGreaterThanOrEqual(1);
    expect(opened).toBe(0);
    for (let i = 0; i < 3; i++) expect(await run(`console.log('victim ${i}')`)).toMatchObject({ stdout: `victim ${i}\n`, exitCode: 0 });
  });
});
