// The sandbox engine against the real Docker engine: languages, modes, inputs and outputs.
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine, ExecuteRequestInput, Language } from '../../src/sandbox/index.js';
import { imageIds, makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;
let imagesBefore: string[];
let tmpBefore: string[];

beforeAll(async () => {
  imagesBefore = await imageIds();
  tmpBefore = readdirSync(tmpdir());
  engine = makeEngine();
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  // Nothing the suite did may outlive it: no container, no image layer, no temp dir.
  expect(await ourContainers()).toEqual([]);
  expect(await imageIds()).toEqual(imagesBefore);
  const leaked = readdirSync(tmpdir()).filter((f) => !tmpBefore.includes(f) && /faas|sandbox/i.test(f));
  expect(leaked).toEqual([]);
});

const HELLO: Record<Language, string> = {
  python: 'print("hello from python")',
  javascript: 'console.log("hello from javascript")',
  typescript: 'const who: string = "typescript";\nconsole.log(`hello from ${who}`);',
  bash: 'echo "hello from bash"',
  go: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
};

describe('hello world', () => {
  for (const mode of ['ephemeral', 'cached'] as const) {
    for (const language of Object.keys(HELLO) as Language[]) {
      it(`${language} in ${mode} mode`, async () => {
        const r = await engine.execute({ code: HELLO[language], language, mode });
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe(`hello from ${language}\n`);
        expect(r.exitCode).toBe(0);
        expect(r.timedOut).toBe(false);
        expect(r.oomKilled).toBe(false);
        expect(r.truncated).toBe(false);
        expect(r.executionId).toMatch(/^[0-9a-f-]{36}$/);
        expect(r.durationMs).toBeGreaterThan(0);
        expect(r.usage.cpuSeconds).toBeGreaterThanOrEqual(0);
        expect(r.usage.memoryPeakMb).toBeGreaterThan(0);
      });
    }
  }
});

describe('inputs', () => {
  it('passes env vars', async () => {
    const r = await engine.execute({
      code: 'import os; print(os.environ["GREETING"], os.environ["N"])',
      language: 'python',
      mode: 'cached',
      envVars: { GREETING: 'hi there', N: '42' },
    });
    expect(r.stdout).toBe('hi there 42\n');
  });

  it('env vars reach javascript and bash too', async () => {
    const js = await engine.execute({ code: 'console.log(process.env.FOO)', language: 'javascript', envVars: { FOO: 'bar' } });
    expect(js.stdout).toBe('bar\n');
    const sh = await engine.execute({ code: 'echo "$FOO"', language: 'bash', mode: 'cached', envVars: { FOO: 'baz' } });
    expect(sh.stdout).toBe('baz\n');
  });

  it('writes input files (text, binary, nested) into the working directory', async () => {
    const binary = new Uint8Array([0, 1, 2, 253, 254, 255]);
    const r = await engine.execute({
      code: [
        'import hashlib',
        'print(open("data.txt").read().strip())',
        'print(list(open("bin/blob.dat", "rb").read()))',
        'import os; print(sorted(os.listdir(".")))',
      ].join('\n'),
      language: 'python',
      mode: 'ephemeral',
      files: { 'data.txt': 'file content\n', 'bin/blob.dat': binary },
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("file content\n[0, 1, 2, 253, 254, 255]\n['bin', 'data.txt']\n");
  });

  it('feeds stdin', async () => {
    const py = await engine.execute({
      code: 'import sys\nfor line in sys.stdin: print(line.strip().upper())',
      language: 'python',
      mode: 'cached',
      stdin: 'one\ntwo\n',
    });
    expect(py.stdout).toBe('ONE\nTWO\n');
    const js = await engine.execute({
      code: "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(s.split('\\n').filter(Boolean).reverse().join(',')))",
      language: 'javascript',
      mode: 'cached',
      stdin: 'a\nb\nc\n',
    });
    expect(js.stdout).toBe('c,b,a\n');
    const sh = await engine.execute({ code: 'wc -l', language: 'bash', stdin: '1\n2\n3\n' });
    expect(sh.stdout.trim()).toBe('3');
  });
});

describe('outcomes', () => {
  it('a non-zero exit is a normal result with its stderr', async () => {
    const r = await engine.execute({ code: 'import sys\nprint("before")\nsys.stderr.write("bad thing\\n")\nsys.exit(3)', language: 'python', mode: 'cached' });
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toBe('before\n');
    expect(r.stderr).toBe('bad thing\n');
    const sh = await engine.execute({ code: 'echo oops >&2; exit 7', language: 'bash' });
    expect(sh.exitCode).toBe(7);
    expect(sh.stderr).toBe('oops\n');
  });

  it('an uncaught exception exits 1 with a traceback naming the line', async () => {
    const r = await engine.execute({ code: 'x = 1\nraise ValueError("boom")', language: 'python', mode: 'cached' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('ValueError: boom');
    expect(r.stderr).toContain('line 2');
    expect(r.stderr).toContain('raise ValueError("boom")');
    const js = await engine.execute({ code: 'throw new Error("kaboom")', language: 'javascript', mode: 'cached' });
    expect(js.exitCode).toBe(1);
    expect(js.stderr).toContain('Error: kaboom');
  });

  const syntaxErrors: Array<[Language, string, RegExp]> = [
    ['python', 'def f(:\n  pass', /SyntaxError/],
    ['javascript', 'function (', /SyntaxError/],
    ['typescript', 'let x: number = ;', /ERR_INVALID_TYPESCRIPT_SYNTAX/], // node's type stripping, no tsc
    ['go', 'package main\nfunc main() { fmt.Println( }', /syntax error|undefined/],
    ['bash', 'if then fi (', /syntax error/],
  ];
  for (const [language, code, pattern] of syntaxErrors) {
    it(`a ${language} syntax error is a result with the message`, async () => {
      const r = await engine.execute({ code, language, mode: 'cached' });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(pattern);
      expect(r.timedOut).toBe(false);
      expect(r.compileError).toBe(true);
    });
  }

  const runtimeErrors: Array<[Language, string]> = [
    ['python', 'import json\njson.loads("{not json")'],
    ['javascript', 'JSON.parse("{not json")'],
    ['typescript', 'const n: number = JSON.parse("{x");'],
    ['bash', 'exit 2'],
    ['go', 'package main\nimport "os"\nfunc main() { os.Exit(2) }'],
  ];
  for (const [language, code] of runtimeErrors) {
    it(`a ${language} program that compiled and then failed is not a compile error`, async () => {
      const r = await engine.execute({ code, language, mode: 'cached' });
      expect(r.exitCode).not.toBe(0);
      expect(r.compileError).toBe(false);
    });
  }

  it('kills a program at its timeout and says so; the sandbox stays usable', async () => {
    const t0 = Date.now();
    const r = await engine.execute({
      code: 'import time\nprint("started", flush=True)\ntime.sleep(30)',
      language: 'python',
      mode: 'cached',
      resources: { timeoutMs: 1500 },
    });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(r.stdout).toBe('started\n');
    expect(Date.now() - t0).toBeLessThan(10_000);
    const after = await engine.execute({ code: 'print("still fine")', language: 'python', mode: 'cached' });
    expect(after.stdout).toBe('still fine\n');
  });

  it('measures cpu time of the program only', async () => {
    const r = await engine.execute({
      code: 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass',
      language: 'python',
      mode: 'cached',
    });
    expect(r.usage.cpuSeconds).toBeGreaterThan(0.45);
    expect(r.usage.cpuSeconds).toBeLessThan(1.5);
  });
});

describe('cached mode', () => {
  it('reuses the owner’s container: HOME persists, the working directory is fresh', async () => {
    const a1 = await engine.execute(
      { code: 'import os\nopen(os.path.expanduser("~/note"), "w").write("kept")\nopen("scratch", "w").write("x")\nprint(os.getcwd())', language: 'python', mode: 'cached' },
      { owner: 'alice' },
    );
    const a2 = await engine.execute(
      { code: 'import os\nprint(open(os.path.expanduser("~/note")).read())\nprint(os.path.exists("scratch"), os.listdir("."))\nprint(os.getcwd())', language: 'python', mode: 'cached' },
      { owner: 'alice' },
    );
    expect(a2.stdout.split('\n').slice(0, 2)).toEqual(['kept', 'False []']);
    expect(a2.stdout.split('\n')[2]).not.toBe(a1.stdout.trim()); // a new directory per execution
  });

  it('never shares a container between owners', async () => {
    await engine.execute({ code: 'open("/home/sandbox/secret", "w").write("alice only")', language: 'python', mode: 'cached' }, { owner: 'alice' });
    const b = await engine.execute(
      { code: 'import os\nprint(os.path.exists("/home/sandbox/secret"))', language: 'python', mode: 'cached' },
      { owner: 'bob' },
    );
    expect(b.stdout).toBe('False\n');
  });

  it('kills what a program left running when it ends', async () => {
    await engine.execute(
      { code: 'sleep 300 &\nsetsid sleep 301 &\necho started', language: 'bash', mode: 'cached' },
      { owner: 'carol' },
    );
    const ps = await engine.execute({ code: 'ps -eo args | grep -c "^sleep 30" || true', language: 'bash', mode: 'cached' }, { owner: 'carol' });
    expect(ps.stdout.trim()).toBe('0');
  });

  it('kills a process that left its session even after a program killed the zygote (the count of known processes follows)', async () => {
    const owner = 'erin';
    const killZygote = 'import os\nfor p in os.listdir("/proc"):\n    if p.isdigit() and int(p) != os.getpid():\n        try:\n            st = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()\n            cmd = open(f"/proc/{p}/cmdline", "rb").read()\n        except OSError:\n            continue\n        if st[1] == "1" and b"agent.py" in cmd:\n            os.kill(int(p), 9)\n            print("killed")\n            break';
    const k = await engine.execute({ code: killZygote, language: 'python', mode: 'cached' }, { owner });
    expect(k.stdout).toBe('killed\n');
    await engine.execute({ code: 'import subprocess\nsubprocess.run("setsid -f sleep 308 >/dev/null 2>&1 </dev/null", shell=True)', language: 'python', mode: 'cached' }, { owner });
    const ps = await engine.execute({ code: 'import subprocess\nprint(subprocess.run("ps -eo args | grep -c \'^sleep 308\' || true", shell=True, capture_output=True, text=True).stdout.strip())', language: 'python', mode: 'cached' }, { owner });
    expect(ps.stdout).toBe('0\n');
  });

  it('makes every program the OOM killer\'s first pick, in a spare or started for it; node programs see the node `node main.js` runs', async () => {
    // A spare has it from its start; a bash of its own (SHLVL is bash's) gets it from the agent
    // just after its exec (so read it a moment later). Several times: the agent once lost the
    // race with the kernel, which makes an exec'd program dumpable (its file writable) only a
    // moment after Popen returns.
    const runs: [Record<string, string>, string][] = [[{}, 'cat /proc/$$/oom_score_adj']];
    for (let i = 0; i < 6; i++) runs.push([{ SHLVL: String(3 + i) }, 'sleep 0.2; cat /proc/$$/oom_score_adj']);
    for (const [envVars, code] of runs) {
      const r = await engine.execute({ code, language: 'bash', mode: 'cached', envVars }, { owner: 'frank' });
      expect(r.stdout, JSON.stringify(envVars)).toBe('1000\n');
    }
    expect((await engine.execute({ code: 'print(open("/proc/self/oom_score_adj").read().strip())', language: 'python', mode: 'cached' }, { owner: 'frank' })).stdout).toBe('1000\n');
    const js = await engine.execute({ code: 'console.log(require("fs").readFileSync("/proc/self/oom_score_adj", "utf8").trim(), process.execPath, process.argv[0])', language: 'javascript', mode: 'cached' }, { owner: 'frank' });
    expect(js.stdout).toBe('1000 /opt/faas-runtime/node /opt/faas-runtime/node\n');
  });

  it('kills what a python or node program left running, with or without its output pipes, once its answer has gone', async () => {
    // A spare's exit report can come before its children end: with the pipes still held the
    // group is killed first (so they close), without them the answer goes first, then the kill.
    // And one that left its session (setsid -f): found by the agent's sweep once the program is
    // reaped, even when it answered from its exit report before.
    const py = 'import subprocess as s\nfor held in (True, False):\n    s.Popen(["sleep", "302" if held else "303"], **({} if held else dict(stdout=s.DEVNULL, stderr=s.DEVNULL)))\ns.run("setsid -f sleep 306 >/dev/null 2>&1 </dev/null", shell=True)\nprint("started")';
    const js = 'const { spawn, execSync } = require("child_process");\nspawn("sleep", ["304"], { stdio: "inherit" }).unref();\nspawn("sleep", ["305"], { stdio: "ignore" }).unref();\nexecSync("setsid -f sleep 307 >/dev/null 2>&1 </dev/null");\nconsole.log("started")';
    const count = {
      python: 'import subprocess\nprint(subprocess.run("ps -eo args | grep -c \'^sleep 30\' || true", shell=True, capture_output=True, text=True).stdout.strip())',
      javascript: 'console.log(require("child_process").execSync("ps -eo args | grep -c \'^sleep 30\' || true").toString().trim())',
    };
    for (const [language, code] of [['python', py], ['javascript', js]] as const) {
      const r = await engine.execute({ code, language, mode: 'cached' }, { owner: 'dave' });
      expect([r.stdout, r.exitCode]).toEqual(['started\n', 0]);
      const ps = await engine.execute({ code: count[language], language, mode: 'cached' }, { owner: 'dave' }); // the same container
      expect(ps.stdout).toBe('0\n');
    }
  });
});

describe('go in a cached container', () => {
  it('runs a program it built before from its binary (same source and GO* settings), and builds anything else', async () => {
    const owner = 'go-binary-cache';
    const prog = (word: string) => `package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("${word}") }\n`;
    const first = await engine.execute({ code: prog('one'), language: 'go', mode: 'cached' }, { owner });
    expect(first.stdout).toBe('one\n');
    const again = await engine.execute({ code: prog('one'), language: 'go', mode: 'cached' }, { owner });
    expect(again.stdout).toBe('one\n');
    // no build the second time: far below a build's cost (a build here is hundreds of ms)
    expect(again.durationMs).toBeLessThan(first.durationMs / 2);
    const other = await engine.execute({ code: prog('two'), language: 'go', mode: 'cached' }, { owner });
    expect(other.stdout).toBe('two\n');
    const flags = await engine.execute({ code: prog('one'), language: 'go', mode: 'cached', envVars: { GOFLAGS: '-buildvcs=false -trimpath' } }, { owner });
    expect(flags.stdout).toBe('one\n');
    const broken = await engine.execute({ code: 'package main\nfunc main() { undefined() }\n', language: 'go', mode: 'cached' }, { owner });
    expect(broken.exitCode).not.toBe(0);
    expect(broken.compileError).toBe(true);
    const brokenAgain = await engine.execute({ code: 'package main\nfunc main() { undefined() }\n', language: 'go', mode: 'cached' }, { owner });
    expect(brokenAgain.compileError).toBe(true);
  });
});

describe('ephemeral mode', () => {
  it('leaves nothing behind: its container is gone after the result', async () => {
    const before = new Set(await ourContainers());
    const r = await engine.execute({ code: 'import socket; print(socket.gethostname())', language: 'python', mode: 'ephemeral' });
    const hostname = r.stdout.trim();
    expect(hostname).toMatch(/^[0-9a-f]{12}$/);
    // The container that ran it is removed (removal runs right after the result).
    await expect.poll(async () => (await ourContainers()).some((id) => id.startsWith(hostname)), { timeout: 10_000 }).toBe(false);
    expect(before.has(hostname)).toBe(false);
  });

  it('two ephemeral executions never see each other', async () => {
    await engine.execute({ code: 'open("/home/sandbox/left", "w").write("x")', language: 'python', mode: 'ephemeral' });
    const r = await engine.execute({ code: 'import os; print(os.path.exists("/home/sandbox/left"))', language: 'python', mode: 'ephemeral' });
    expect(r.stdout).toBe('False\n');
  });
});

describe('concurrency', () => {
  it('runs a batch of 20 mixed executions in parallel, all correct', async () => {
    const langs: Language[] = ['python', 'javascript', 'bash', 'typescript'];
    const jobs: Array<{ req: ExecuteRequestInput; want: string }> = [];
    for (let i = 0; i < 20; i++) {
      const language = langs[i % langs.length]!;
      const mode = i % 2 === 0 ? 'cached' : 'ephemeral';
      const code =
        language === 'python' ? `print(${i} * 2)` : language === 'bash' ? `echo $((${i} * 2))` : `console.log(${i} * 2)`;
      jobs.push({ req: { code, language, mode, stdin: String(i) }, want: `${i * 2}\n` });
    }
    const results = await Promise.all(jobs.map((j, i) => engine.execute(j.req, { owner: `owner-${i % 3}` })));
    results.forEach((r, i) => {
      expect(r.exitCode, `job ${i}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(jobs[i]!.want);
    });
    expect(new Set(results.map((r) => r.executionId)).size).toBe(20);
  });
});
