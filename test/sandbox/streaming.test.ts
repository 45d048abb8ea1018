// Interactive, streamable executions against the real engine: output as it is produced,
// stdin while running, pseudo-terminals and their size, progress reports, kill, and CPU
// usage from the container's cgroup — in ephemeral and cached mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  DockerSandboxEngine,
  ExecuteOptions,
  ExecuteRequestInput,
  ExecuteResult,
  ExecutionControl,
  ProgressEvent,
} from '../../src/sandbox/index.js';
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

/**
 * Runs a request; `react` sees all output so far (both streams) each time a chunk arrives,
 * with the control handed to onStart, and may steer the program from there.
 */
async function drive(
  req: ExecuteRequestInput,
  react: (output: string, control: ExecutionControl) => void = () => undefined,
  options: ExecuteOptions = {},
): Promise<{ r: ExecuteResult; chunks: Array<{ at: number; text: string }>; startedAt: number; endedAt: number }> {
  const t0 = performance.now();
  let control: ExecutionControl | undefined;
  let output = '';
  let startedAt = -1;
  const chunks: Array<{ at: number; text: string }> = [];
  const r = await engine.execute(req, {
    ...options,
    onStart: (c) => {
      startedAt = performance.now() - t0;
      control = c;
      react(output, c);
    },
    onOutput: (_stream, chunk) => {
      chunks.push({ at: performance.now() - t0, text: chunk.toString() });
      output += chunk.toString();
      react(output, control!);
    },
  });
  return { r, chunks, startedAt, endedAt: performance.now() - t0 };
}

for (const mode of ['ephemeral', 'cached'] as const) {
  describe(`${mode} mode`, () => {
    it('streams output as it is produced, not at the end', async () => {
      const { r, chunks, startedAt, endedAt } = await drive({
        code: 'import time\nprint("first")\ntime.sleep(1)\nprint("second")',
        language: 'python',
        mode,
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('first\nsecond\n');
      expect(startedAt).toBeGreaterThanOrEqual(0);
      expect(chunks[0]!.text).toBe('first\n');
      expect(chunks[0]!.at).toBeGreaterThanOrEqual(startedAt);
      expect(endedAt - chunks[0]!.at).toBeGreaterThan(800);
      expect(chunks.map((c) => c.text).join('')).toBe(r.stdout);
    });

    it('takes stdin while the program runs, then EOF', async () => {
      let step = 0;
      const { r } = await drive(
        {
          code: 'import sys\nfor line in sys.stdin:\n    print("echo:" + line.strip())\nprint("eof")',
          language: 'python',
          mode,
          stdin: 'hello\n', // the request's stdin comes first and stdin stays open
        },
        (out, c) => {
          // Each line goes in only once the previous one came back: a real round trip.
          if (step === 0 && out.includes('echo:hello\n')) {
            step = 1;
            c.sendInput(new TextEncoder().encode('world\n'));
          } else if (step === 1 && out.includes('echo:world\n')) {
            step = 2;
            c.closeInput();
          }
        },
        { interactive: true },
      );
      expect(step).toBe(2);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('echo:hello\necho:world\neof\n');
    });

    it('runs on a pseudo-terminal of the requested size (stderr merged)', async () => {
      const r = await engine.execute({
        code: 'tput cols\ntput lines\necho "to stderr" >&2\n[ -t 0 ] && [ -t 1 ] && echo "a tty, TERM=$TERM"',
        language: 'bash',
        mode,
        tty: { cols: 123, rows: 45 },
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('123\r\n45\r\nto stderr\r\na tty, TERM=xterm-256color\r\n');
      expect(r.stderr).toBe('');
    });

    it('resizes the terminal: the program gets SIGWINCH and sees the new size', async () => {
      const code = [
        'import os, signal',
        'signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGWINCH})',
        's = os.get_terminal_size()',
        'print(f"size {s.columns}x{s.lines}", flush=True)',
        'signal.sigwait({signal.SIGWINCH})',
        's = os.get_terminal_size()',
        'print(f"resized {s.columns}x{s.lines}")',
      ].join('\n');
      let resized = false;
      const { r } = await drive({ code, language: 'python', mode, tty: { cols: 80, rows: 24 } }, (out, c) => {
        if (!resized && out.includes('size 80x24')) {
          resized = true;
          c.resize(132, 50);
        }
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('size 80x24\r\nresized 132x50\r\n');
    });

    it('kill() ends a long program at once with exit 137', async () => {
      for (const [language, code] of [
        ['bash', 'echo started\nsleep 60'],
        ['python', 'import time\nprint("started", flush=True)\ntime.sleep(60)'],
      ] as const) {
        const { r, endedAt } = await drive({ code, language, mode }, (out, c) => {
          if (out.includes('started')) c.kill();
        });
        expect(r.exitCode, language).toBe(137);
        expect(r.timedOut).toBe(false);
        expect(r.stdout).toBe('started\n');
        expect(endedAt).toBeLessThan(5_000);
      }
      if (mode === 'cached') {
        const after = await engine.execute({ code: 'print("still fine")', language: 'python', mode });
        expect(after.stdout).toBe('still fine\n');
      }
    });

    it('passes on progress reports from the bash, python and javascript helpers', async () => {
      const cases: Array<[ExecuteRequestInput['language'], string, ProgressEvent[]]> = [
        [
          'bash',
          'faas-progress 10 "bash: starting"\nfaas-progress 55.5 half way there\necho done',
          [
            { percent: 10, message: 'bash: starting' },
            { percent: 55.5, message: 'half way there' },
          ],
        ],
        [
          'python',
          'from faas import progress\nprogress(40, "loading")\nprogress(150, "clamped")\nprint("done")',
          [
            { percent: 40, message: 'loading' },
            { percent: 100, message: 'clamped' },
          ],
        ],
        [
          'javascript',
          "const { progress } = require('faas');\nprogress(70, 'js \"quoted\"');\nprogress(-3);\nconsole.log('done')",
          [
            { percent: 70, message: 'js "quoted"' },
            { percent: 0, message: '' },
          ],
        ],
      ];
      for (const [language, code, want] of cases) {
        const got: ProgressEvent[] = [];
        const r = await engine.execute({ code, language, mode }, { onProgress: (p) => got.push(p) });
        expect(r.stderr, language).toBe('');
        expect(r.stdout).toBe('done\n');
        expect(got, language).toEqual(want);
      }
    });

    it('counts CPU from the cgroup: a busy loop near its CPU time, a sleep near nothing', async () => {
      const busy = await engine.execute({
        code: 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass',
        language: 'python',
        mode,
      });
      expect(busy.usage.cpuSeconds).toBeGreaterThan(0.45);
      expect(busy.usage.cpuSeconds).toBeLessThan(1.0);
      const sleep = await engine.execute({ code: 'import time\ntime.sleep(1)', language: 'python', mode });
      expect(sleep.durationMs).toBeGreaterThan(1000);
      expect(sleep.usage.cpuSeconds).toBeLessThan(0.2);
      expect(sleep.usage.memoryPeakMb).toBeGreaterThan(0);
      // A child the program never waits for is invisible to rusage; the cgroup counts it.
      const orphan = await engine.execute({
        code: [
          'import subprocess, sys, time',
          'subprocess.Popen([sys.executable, "-c", "import time\\nt = time.process_time()\\nwhile time.process_time() - t < 0.4: pass"])',
          'time.sleep(0.9)',
        ].join('\n'),
        language: 'python',
        mode,
      });
      expect(orphan.exitCode).toBe(0);
      expect(orphan.usage.cpuSeconds).toBeGreaterThan(0.35);
      expect(orphan.usage.cpuSeconds).toBeLessThan(1.0);
    });
  });
}

describe('interactive terminal and ids', () => {
  it('a program on a terminal reads typed input (echoed, as a terminal does)', async () => {
    const { r } = await drive(
      { code: 'name = input("name? ")\nprint(f"hi {name}")', language: 'python', mode: 'cached', tty: { cols: 80, rows: 24 } },
      (out, c) => {
        if (out === 'name? ') c.sendInput('Ada\r');
      },
      { interactive: true },
    );
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('name? Ada\r\nhi Ada\r\n');
  });

  it('on a terminal the request stdin ends with EOF (Ctrl-D), also without a final newline', async () => {
    const r = await engine.execute({
      code: 'import sys\ndata = sys.stdin.read()\nprint(repr(data))',
      language: 'python',
      mode: 'ephemeral',
      tty: { cols: 80, rows: 24 },
      stdin: 'abc',
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("abc'abc'\r\n"); // the echo, then what the program read
  });

  it('without interactive, stdin is the request stdin then EOF (sendInput comes too late)', async () => {
    const { r } = await drive(
      { code: 'import sys\nprint(repr(sys.stdin.read()))', language: 'python', mode: 'cached', stdin: 'only this' },
      (_out, c) => c.sendInput('ignored'),
    );
    expect(r.stdout).toBe("'only this'\n");
  });

  it('uses the execution id it is given, and refuses a bad one', async () => {
    const r = await engine.execute({ code: 'import os; print(os.environ["FAAS_EXECUTION_ID"])', language: 'python', mode: 'cached' }, { id: 'api-exec-42' });
    expect(r.executionId).toBe('api-exec-42');
    expect(r.stdout).toBe('api-exec-42\n');
    await expect(engine.execute({ code: 'print(1)', language: 'python' }, { id: '../escape' })).rejects.toMatchObject({ code: 'VALIDATION_ERROR' });
  });

  it('one execution cannot report progress for the next; bad reports are dropped', async () => {
    // Write forged reports into every progress pipe in reach (the waiting spares hold theirs
    // as fd 5, but cannot be opened), plus garbage into our own; none of it may surface, the
    // agent carries on.
    const forger = [
      'import os',
      'me, n = os.getpid(), 0',
      'for pid in filter(str.isdigit, os.listdir("/proc")):',
      '    try:',
      '        if int(pid) == me or not os.readlink(f"/proc/{pid}/fd/5").startswith("pipe:"): continue',
      '        fd = os.open(f"/proc/{pid}/fd/5", os.O_WRONLY | os.O_NONBLOCK)',
      '        os.write(fd, b\'{"percent": 13, "message": "forged"}\\n\'); os.close(fd); n += 1',
      '    except OSError: pass',
      'os.write(int(os.environ["FAAS_PROGRESS_FD"]), b\'not json\\n{"percent": "abc"}\\n{"percent": NaN}\\n[1]\\n{"percent": 20, "message": 7}\\n\' + b"x" * 10000 + b"\\n")',
      'print(n)',
    ].join('\n');
    const seen: ProgressEvent[] = [];
    const a = await engine.execute({ code: forger, language: 'python', mode: 'cached' }, { owner: 'forger', onProgress: (p) => seen.push(p) });
    expect(a.exitCode).toBe(0);
    // Waiting spares are not dumpable (issue 13): no other execution's pipe is in reach any more.
    expect(a.stdout).toBe('0\n');
    expect(seen).toEqual([{ percent: 20, message: '7' }]); // only its one well-formed report
    for (let i = 0; i < 2; i++) {
      const next: ProgressEvent[] = [];
      const b = await engine.execute(
        { code: 'from faas import progress\nprogress(50, "mine")', language: 'python', mode: 'cached' },
        { owner: 'forger', onProgress: (p) => next.push(p) },
      );
      expect(b.exitCode).toBe(0);
      expect(next).toEqual([{ percent: 50, message: 'mine' }]);
    }
  });
});
