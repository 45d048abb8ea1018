// Cached bash runs in a spare: a bash started ahead of time from an execute-only copy (so not
// dumpable while it waits) that sources its program once it arrives (agent/faas_agent/bash_spares.py).
// The program must see what `bash main.sh` started by the agent would — its variables verbatim
// (nothing in them evaluated), stdin, its own directory, a fresh SHLVL, `$0` and BASH_SOURCE —
// variables bash reads at start-up must work as they would there, and the agent must not fork
// itself per execution.
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

const bash = (code: string, extra: { envVars?: Record<string, string>; stdin?: string } = {}) =>
  engine.execute({ code, language: 'bash', mode: 'cached', ...extra }, { owner: 'bash-spare' });

describe('bash spares', () => {
  it('pass variables verbatim: quotes, newlines, $(…), backticks and globs are not evaluated', async () => {
    const tricky = {
      QUOTES: `it's "quoted" \\ back`,
      LINES: 'one\ntwo\n',
      SUBST: '$(touch /tmp/pwned) `touch /tmp/pwned2` ${HOME}',
      GLOB: '* ?',
      EMPTY: '',
    };
    const r = await bash('for v in QUOTES LINES SUBST GLOB EMPTY; do printf "%s=[%s]\\n" "$v" "${!v}"; done; ls /tmp/pwned /tmp/pwned2 2>&1 | wc -l', { envVars: tricky });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `QUOTES=[${tricky.QUOTES}]\nLINES=[${tricky.LINES}]\nSUBST=[${tricky.SUBST}]\nGLOB=[${tricky.GLOB}]\nEMPTY=[]\n2\n`, // 2: both ls errors, no file made
    );
  });

  it('a program sees its stdin, its own working directory, SHLVL 1 and its exit code goes back', async () => {
    const r = await bash('read -r a; echo "got $a"; echo "lvl $SHLVL"; pwd; echo "$0" | grep -c "main.sh$"; exit 3', { stdin: 'line\n' });
    expect(r.exitCode).toBe(3);
    const [got, lvl, pwd, named] = r.stdout.split('\n');
    expect([got, lvl, named]).toEqual(['got line', 'lvl 1', '1']);
    expect(pwd).toMatch(/^\/sandbox\/work\/run-/); // /workspace links there; bash reports the directory itself, as when the agent starts it
  });

  it('a pipeline ends as in a shell the agent starts: SIGPIPE and SIGXFSZ at their defaults, not ignored as python has them', async () => {
    const r = await bash('yes | head -1; echo "${PIPESTATUS[@]}"; awk \'/^SigIgn/ {print $2}\' /proc/$$/status');
    const [y, status, ignored] = r.stdout.trim().split('\n');
    expect([y, status, r.stderr]).toEqual(['y', '141 0', '']);
    const mask = BigInt(`0x${ignored}`);
    for (const sig of [13n, 25n]) expect((mask >> (sig - 1n)) & 1n).toBe(0n); // SIGPIPE, SIGXFSZ
  });

  it('runs in a bash started before its program arrived, named as `bash main.sh` would name it', async () => {
    const r = await bash('readlink /proc/$$/exe; echo "$0" "${BASH_SOURCE[0]}" | grep -c "^/tmp/.faas/[^/]*/main.sh /tmp/.faas/[^/]*/main.sh$"; f() { echo "line $LINENO"; }; f; nosuch');
    expect(r.stdout.split('\n').slice(0, 3)).toEqual(['/opt/faas-runtime/bash', '1', 'line 1']);
    expect(r.stderr).toMatch(/^\/tmp\/\.faas\/[^/]+\/main\.sh: line 1: nosuch: command not found\n$/);
    expect(r.exitCode).toBe(127);
  });

  it('variables bash itself reads at start-up work as with `bash main.sh`: such a program gets a bash of its own', async () => {
    await bash('printf \'echo "from BASH_ENV"\\n\' > /tmp/env.sh');
    const r = await bash('echo "lvl $SHLVL"; readlink /proc/$$/exe', { envVars: { BASH_ENV: '/tmp/env.sh', SHLVL: '4' } });
    expect(r.stdout).toBe('from BASH_ENV\nlvl 5\n/usr/bin/bash\n');
    const plain = await bash('echo "${FOO}"; readlink /proc/$$/exe', { envVars: { FOO: 'bar' } });
    expect(plain.stdout).toBe('bar\n/opt/faas-runtime/bash\n');
    // A waiting bash reads its prelude a byte at a time: large values go to a bash of their own.
    const big = await bash('echo "${#BIG}"; readlink /proc/$$/exe', { envVars: { BIG: 'x'.repeat(5000) } });
    expect(big.stdout).toBe('5000\n/usr/bin/bash\n');
  });

  it('runs in a spare forked ahead of time, not a fork of the agent, execution after execution', async () => {
    const outs = [];
    for (let i = 0; i < 12; i++) {
      const r = await bash(`echo $((${i} * 3)) $(awk '/^PPid/ {print $2}' /proc/$$/status)`);
      outs.push(r.stdout.trim().split(' '));
    }
    expect(outs.map((o) => o[0])).toEqual(Array.from({ length: 12 }, (_, i) => String(i * 3)));
    // The agent is PID 1; a spare's parent is the zygote.
    for (const o of outs) expect(Number(o[1])).toBeGreaterThan(1);
  });

  it("one execution cannot write into the waiting spare that runs the next one (not dumpable while it waits)", async () => {
    // Every process's fd 3 this program can open: a waiting spare's is its control pipe.
    const probe = await bash('n=0; for d in /proc/[0-9]*/fd/3; do case "$d" in /proc/$$/*) continue;; esac; if (printf \'{"cwd":"/","env":{},"source":"/dev/null"}\' > "$d") 2>/dev/null; then n=$((n+1)); fi; done; echo "$n"');
    expect(probe.stdout).toBe('0\n');
    // And not because there was nothing to find: the processes whose fds it cannot list are the
    // agent, the zygote and the waiting spare (none dumpable), at least three.
    const hidden = await bash('u=0; for p in /proc/[0-9]*; do [ "$p" = /proc/$$ ] && continue; ls "$p/fd" >/dev/null 2>&1 || u=$((u+1)); done; echo "$u"');
    expect(Number(hidden.stdout)).toBeGreaterThanOrEqual(3);
    const next = await bash('echo next');
    expect(next).toMatchObject({ exitCode: 0, stdout: 'next\n' });
  });
});
