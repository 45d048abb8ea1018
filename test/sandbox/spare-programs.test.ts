// What a program handed to a spare gets (agent/faas_agent/spares.py): the zygote prepares the
// python spare's stdio, environment and __main__ once, and a spare only applies what differs
// for its program. These check that the program still sees what `python3 main.py` (or
// `bash main.sh`) started by the agent would: its own variables and nothing of the previous
// execution's, the agent's progress pipe, a fresh __main__ without threading imported,
// the OOM killer's first pick once it runs — and a program larger than a pipe holds.
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DockerSandboxEngine, MANAGED_LABEL, OWNER_PID_LABEL, runtimeImageTag } from '../../src/sandbox/index.js';
import { docker, makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;
const owner = { owner: 'spare-programs' };

beforeAll(async () => {
  engine = makeEngine({ FAAS_PREWARM_LANGUAGES: 'python,bash' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

const python = (code: string, envVars?: Record<string, string>) => engine.execute({ code, language: 'python', mode: 'cached', envVars }, owner);

describe('python spares', () => {
  it("apply the program's variables over the base environment, and none of the previous execution's", async () => {
    const show = 'import os, json\nprint(json.dumps({k: os.environ.get(k) for k in ("FIRST", "LANG", "PATH", "HOME", "FAAS_PROGRESS_FD")}))';
    const first = await python(show, { FIRST: 'one', LANG: 'en_US.UTF-8', FAAS_PROGRESS_FD: '9' });
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ FIRST: 'one', LANG: 'en_US.UTF-8', PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/sandbox', FAAS_PROGRESS_FD: '5' });
    for (let i = 0; i < 3; i++) {
      // Each in a spare of its own: the first one's variables are gone, the base ones back.
      const next = await python(show);
      expect(JSON.parse(next.stdout)).toEqual({ FIRST: null, LANG: 'C.UTF-8', PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/home/sandbox', FAAS_PROGRESS_FD: '5' });
    }
    const id = await python('import os\nprint(os.environ["FAAS_EXECUTION_ID"] != "")');
    expect(id.stdout).toBe('True\n');
  });

  it('start without threading or subprocess imported (as under python3 main.py), with usable stdio and a fresh __main__', async () => {
    const code = [
      'import sys',
      // (imported in the zygote they would cost every spare threading's fork hook)
      'print(sorted(m for m in ("threading", "subprocess") if m in sys.modules))',
      'print(__name__, sys.argv[0].endswith("main.py"), "leftover" in globals())',
      'leftover = 1',
      'name = sys.stdin.readline().strip()',
      'print("hello", name)',
      'print("to stderr", file=sys.stderr)',
    ].join('\n');
    for (let i = 0; i < 2; i++) {
      const r = await engine.execute({ code, language: 'python', mode: 'cached', stdin: `n${i}\n` }, owner);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe(`[]\n__main__ True False\nhello n${i}\n`);
      expect(r.stderr).toBe('to stderr\n');
    }
  });

  it('are the OOM killer’s first pick once their program runs (python and bash)', async () => {
    const py = await python('print(open("/proc/self/oom_score_adj").read().strip())');
    expect(py.stdout).toBe('1000\n');
    const sh = await engine.execute({ code: 'cat /proc/self/oom_score_adj; cat /proc/$$/oom_score_adj', language: 'bash', mode: 'cached' }, owner);
    expect(sh.stdout).toBe('1000\n1000\n');
  });

  it('take a program larger than their control pipe holds (python, bash)', async () => {
    // ~300 KiB of source: several times a pipe's 64 KiB, written as the spare reads it.
    const lines = Array.from({ length: 20000 }, (_, i) => `x${i} = ${i}`);
    const py = await python(`${lines.join('\n')}\nprint(x19999 + 1)`);
    expect(py.exitCode, py.stderr).toBe(0);
    expect(py.stdout).toBe('20000\n');
    const sh = await engine.execute({ code: `${lines.map((l) => l.replace(' = ', '=')).join('\n')}\necho $x19999`, language: 'bash', mode: 'cached' }, owner);
    expect(sh.exitCode, sh.stderr).toBe(0);
    expect(sh.stdout).toBe('19999\n');
  });
});

/** An engine of its own whose log keeps what its agents say (their stderr reaches the engine's
 *  log at debug level); `run` executes python for one owner and returns its stdout. */
async function engineHearingAgents(owner: string) {
  const agentLines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void agentLines.push(String((JSON.parse(line) as { agent?: string }).agent ?? '')) });
  const own = new DockerSandboxEngine(loadConfig({ FAAS_PREWARM_LANGUAGES: 'python' }), log);
  await own.start();
  const run = async (code: string) => {
    const r = await own.execute({ code, language: 'python', mode: 'cached', resources: { timeoutMs: 60_000 } }, { owner });
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  return { own, run, said: () => agentLines.join('\n') };
}

describe('the zygote (agent/native/_native.c)', () => {
  it('forks python spares from its C loop, each mapping up front the pages its rehearsal spare touched', async () => {
    const { own, run, said } = await engineHearingAgents('zygote-rehearsal');
    try {
      for (let i = 0; i < 3; i++) expect(await run(`print(${i})`)).toBe(String(i));
      const learned = said().match(/python spares will map (\d+) pages up front, (\d+) of them only read/);
      expect(learned, said().slice(-2000)).not.toBeNull();
      // What a spare touches from its fork to its program's end: ~170 pages written and the
      // interpreter's code it runs, measured.
      expect(Number(learned![1])).toBeGreaterThan(50);
      // And the pages of the zygote's memory it only read, traced in the rehearsal (smaps'
      // Referenced per one-page mapping, hot_pages.c; this kernel has clear_refs): ~60 measured.
      expect(Number(learned![2])).toBeGreaterThan(10);
      expect(Number(learned![2])).toBeLessThan(Number(learned![1]));
      // Files' pages are those it read (~150), not those the kernel mapped around them as it
      // faulted (~1,000): ~360 in all here, 1,250 when files were learned from what was present.
      expect(Number(learned![1])).toBeLessThan(800);
    } finally {
      await own.shutdown();
    }
  });

  it('stays when a fork fails for want of processes (same-uid code lowered its RLIMIT_NPROC), and forks again once it can', async () => {
    const { own, run, said } = await engineHearingAgents('zygote-eagain');
    try {
      // A spare's parent is the zygote. From here it may fork no more (the uid has processes
      // already): the refill the agent asks for once this execution has answered fails.
      const [zygote, hard] = (await run('import os, resource\nz = os.getppid()\nhard = resource.prlimit(z, resource.RLIMIT_NPROC)[1]\nresource.prlimit(z, resource.RLIMIT_NPROC, (1, hard))\nprint(z, hard)')).split(' ');
      // The other spare made before takes this one while the zygote tries again; then the limit is back.
      expect(await run(`import os, resource, time\ntime.sleep(0.5)\nresource.prlimit(${zygote}, resource.RLIMIT_NPROC, (${hard}, ${hard}))\nprint(os.getppid())`)).toBe(zygote);
      const parents: string[] = [];
      for (let i = 0; i < 4; i++) parents.push(await run('import os\nprint(os.getppid())'));
      expect(parents).toEqual([zygote, zygote, zygote, zygote]); // (an agent-forked spare's parent is 1)
      expect(said(), said().slice(-2000)).toContain('zygote: cannot fork a spare for now');
      expect(said()).toContain('zygote: forking spares again');
      expect(said()).not.toContain('zygote is gone');
    } finally {
      await own.shutdown();
    }
  });

  it('ends after 10 s of failed forks (a hard limit lowered for good), and the agent forks spares itself', async () => {
    const { own, run, said } = await engineHearingAgents('zygote-stuck');
    try {
      await run('import os, resource\nresource.prlimit(os.getppid(), resource.RLIMIT_NPROC, (1, 1))');
      // The second spare made before serves the next; the one after waits for the agent's own.
      const parents: string[] = [];
      for (let i = 0; i < 3; i++) parents.push(await run('import os\nprint(os.getppid())'));
      expect(parents.slice(1)).toEqual(['1', '1']); // forked by the agent (PID 1)
      expect(said(), said().slice(-2000)).toContain('zygote: cannot fork a spare for now');
      expect(said()).toContain('zygote: no fork for 10 s');
      expect(said()).toContain('zygote is gone');
    } finally {
      await own.shutdown();
    }
  }, 60_000);

  it('is needed by a python sandbox: without its native module the agent refuses to start, and says why', async () => {
    // An empty /opt/faas-runtime over the image's: the module's link in faas_agent dangles.
    const c = await docker.createContainer({
      Image: runtimeImageTag('python'),
      Cmd: ['python3', '/opt/faas/agent.py'],
      User: '65534:65534',
      Labels: { [MANAGED_LABEL]: 'true', [OWNER_PID_LABEL]: String(process.pid) },
      NetworkDisabled: true,
      HostConfig: { NetworkMode: 'none', CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges'], Tmpfs: { '/opt/faas-runtime': '', '/sandbox': 'size=16m,uid=65534,gid=65534,mode=0755' } },
    });
    try {
      await c.start();
      const { StatusCode } = (await c.wait()) as { StatusCode: number };
      const logs = (await c.logs({ stdout: true, stderr: true })).toString();
      expect(StatusCode).not.toBe(0);
      expect(logs).toContain("this image lacks the agent's native module");
    } finally {
      await c.remove({ force: true });
    }
  });
});
