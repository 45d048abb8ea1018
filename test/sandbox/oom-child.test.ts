// common.make_child_oom_victim: the agent's own module, run by the host's python3 as the agent
// runs (not root, not dumpable). The kernel closes the exec-error pipe Popen waits on a moment
// before it makes the new program dumpable (its /proc files the user's), and a waking parent
// often runs in that moment: a plain write there failed 9 times in 10 in a probe container.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const AGENT = fileURLToPath(new URL('../../agent', import.meta.url));

const PROGRAM = [
  'import ctypes, os, subprocess, time',
  'from faas_agent.common import make_child_oom_victim',
  'if os.getuid() == 0:',
  '    os.setgid(65534); os.setuid(65534)',
  'ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0, as the agent',
  'got = []',
  'for _ in range(100):',
  '    p = subprocess.Popen(["sleep", "0.03"])',
  '    make_child_oom_victim(p.pid)',
  '    with open("/proc/%d/oom_score_adj" % p.pid) as f:',
  '        got.append(f.read().strip())',
  '    p.wait()',
  '# one that ended before it was asked (not reaped: its file is root\'s): no waiting for it',
  'p = subprocess.Popen(["true"])',
  'os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)',
  't = time.monotonic(); make_child_oom_victim(p.pid); waited = time.monotonic() - t',
  'p.wait()',
  'print(got.count("1000"), len(got), "quick" if waited < 0.008 else "waited %.1f ms" % (waited * 1000))',
].join('\n');

describe('make_child_oom_victim', () => {
  it('makes each program the agent starts the OOM killer\'s first pick, also when asked in the moment before its exec makes it dumpable; gives up at once on one that ended', () => {
    const out = execFileSync('python3', ['-c', PROGRAM], { cwd: AGENT, encoding: 'utf8', timeout: 60_000 }).trim();
    expect(out).toBe('100 100 quick');
  });
});
