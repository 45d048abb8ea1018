// A program of the same uid as the agent's helpers can stop them (SIGSTOP) and write to the
// status pipe its own spare reports on (fd 4). Neither may hang or end the agent, nor change
// the next execution's result: a stopped spare is continued when it gets a program (and the
// zygote when it is asked for spares), and a status line that is not a report is ignored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine({ FAAS_PREWARM_LANGUAGES: 'python,javascript' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

// Stops every process of the sandbox it can signal (all but itself; the agent is PID 1 of its
// namespace, which ignores SIGSTOP from inside it) once the zygote and the next spare are there
// (a spare is forked or booted after the previous execution), and prints how many.
const stopAll = {
  python: `import os, signal, time
others = lambda: [int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) not in (os.getpid(), 1)]
until = time.time() + 5
while len(others()) < 2 and time.time() < until: time.sleep(0.01)  # the zygote and the next spare
n = 0
for p in others():
    try: os.kill(p, signal.SIGSTOP); n += 1
    except OSError: pass
print(n)
`,
  javascript: `const others = () => require('fs').readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p) && Number(p) !== process.pid && p !== '1');
const until = Date.now() + 5000;
while (others().length < 2 && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10); // the zygote and the next spare
let n = 0;
for (const p of others()) {
  try { process.kill(Number(p), 'SIGSTOP'); n++; } catch { /* gone */ }
}
console.log(n);
`,
};

// Lines a program writes into its own status pipe: not reports, or reports of the wrong types.
const forge = {
  python: `import os
for line in (b'5\\n', b'[1]\\n', b'{"baseline": "x"}\\n', b'{"exit": "x", "cpu": 0}\\n', b'{"exit": 1, "cpu": "y"}\\n', b'{"exit": true}\\n'):
    os.write(4, line)
print('forged')
`,
  javascript: `const fs = require('fs');
for (const line of ['5', '[1]', '{"baseline":"x"}', '{"exit":"x","cpu":0}', '{"exit":1,"cpu":"y"}', '{"exit":true}']) fs.writeSync(4, line + '\\n');
console.log('forged');
`,
};

const hello = { python: (i: number) => `print(${i})`, javascript: (i: number) => `console.log(${i})` };

describe.each(['python', 'javascript'] as const)('%s', (language) => {
  it('a program that stops the spares and the zygote does not hang the next executions', async () => {
    const owner = { owner: `stopped-spares-${language}` };
    await engine.execute({ code: hello[language](0), language, mode: 'cached' }, owner);
    const r = await engine.execute({ code: stopAll[language], language, mode: 'cached' }, owner);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(Number(r.stdout)).toBeGreaterThan(1); // the zygote and at least one spare were stopped
    for (let i = 1; i <= 4; i++) {
      const next = await engine.execute({ code: hello[language](i), language, mode: 'cached' }, owner);
      expect(next).toMatchObject({ exitCode: 0, stdout: `${i}\n`, timedOut: false });
    }
  });

  it('lines forged into the status pipe are ignored: the agent answers, with the real exit code', async () => {
    const owner = { owner: `forged-status-${language}` };
    const r = await engine.execute({ code: forge[language], language, mode: 'cached' }, owner);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'forged\n', timedOut: false });
    const next = await engine.execute({ code: hello[language](7), language, mode: 'cached' }, owner);
    expect(next).toMatchObject({ exitCode: 0, stdout: '7\n' });
  });
});

// SIGUSR1 starts node's inspector unless node runs with --disable-sigusr1: sent to the node
// zygote (every fork after it would start one) or to a waiting spare, it would open a debugger
// on 127.0.0.1:9229 that a program still running could drive into the next execution.
it('javascript: SIGUSR1 to the zygote and the spares opens no debugger for the next executions', async () => {
  const owner = { owner: 'sigusr1-node' };
  const run = (code: string) => engine.execute({ code, language: 'javascript', mode: 'cached' }, owner);
  await run('console.log(0)');
  const signalled = await run(stopAll.javascript.replace("'SIGSTOP'", "'SIGUSR1'"));
  expect(Number(signalled.stdout)).toBeGreaterThan(1);
  const probe = `require('net').connect(9229, '127.0.0.1').on('connect', () => { console.log('open'); process.exit(0); }).on('error', (e) => console.log(e.code));`;
  for (let i = 0; i < 3; i++) {
    const next = await run(probe);
    expect(next).toMatchObject({ exitCode: 0, stdout: 'ECONNREFUSED\n', stderr: '' });
  }
});
