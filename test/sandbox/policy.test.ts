// The sandbox policy, each line proven against the real engine from inside a sandbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine({ FAAS_PIDS_LIMIT: '64', FAAS_MAX_OUTPUT_BYTES: String(64 * 1024) });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

const py = (code: string, extra: Record<string, unknown> = {}) =>
  engine.execute({ code, language: 'python', mode: 'ephemeral', ...extra });

describe('sandbox policy', () => {
  it('has no network: only the loopback interface, no routes', async () => {
    const r = await py('print(sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))\nprint(len(open("/proc/net/route").readlines()))');
    expect(r.stdout).toBe("['lo']\n1\n"); // the route table holds only its header line
  });

  it('runs as a non-root user', async () => {
    // a host uid of its own per container (issue 13: per-uid kernel counts are not shared)
    const r = await engine.execute({ code: 'id -u; id -g', language: 'bash', mode: 'cached' });
    const [uid, gid] = r.stdout.trim().split('\n').map(Number);
    expect(uid).toBe(gid);
    expect(uid).toBeGreaterThanOrEqual(2_000_000);
  });

  it('drops all capabilities and sets no-new-privileges', async () => {
    const r = await py('s = dict(l.split(":", 1) for l in open("/proc/self/status"))\nprint(s["CapEff"].strip(), s["CapBnd"].strip(), s["NoNewPrivs"].strip())');
    expect(r.stdout).toBe('0000000000000000 0000000000000000 1\n');
  });

  it('has a read-only root; only the size-limited tmpfs is writable', async () => {
    const r = await engine.execute({
      code: [
        'for p in ["/usr/evil", "/etc/evil", "/opt/faas/evil"]:',
        '    try:',
        '        open(p, "w"); print("WROTE", p)',
        '    except OSError as e:',
        '        print(e.errno)',
        'open("ok.txt", "w").write("fine"); print(open("ok.txt").read())',
        'import os; print(os.statvfs(".").f_blocks * os.statvfs(".").f_frsize // (1 << 20))',
      ].join('\n'),
      language: 'python',
      mode: 'ephemeral',
      resources: { diskMb: 32 },
    });
    expect(r.stdout).toBe('30\n30\n30\nfine\n32\n'); // EROFS for each, a 32 MiB work tmpfs
  });

  it('fills the disk limit without harming the host', async () => {
    const r = await engine.execute({
      code: 'dd if=/dev/zero of=big bs=1M count=64 2>&1; echo "exit=$?"',
      language: 'bash',
      mode: 'ephemeral',
      resources: { diskMb: 16, memoryMb: 256 },
    });
    expect(r.stdout).toMatch(/No space left on device/);
    expect(r.stdout).toMatch(/exit=1/);
  });

  it('limits processes: a fork bomb ends and the host stays fine', async () => {
    const bomb = await engine.execute(
      { code: 'bomb() { bomb | bomb & }; bomb; sleep 2; echo survived', language: 'bash', mode: 'cached', resources: { timeoutMs: 5000 } },
      { owner: 'bomber' },
    );
    expect(bomb.exitCode === 0 || bomb.timedOut).toBe(true);
    expect(bomb.stderr).toMatch(/Resource temporarily unavailable|retry: /);
    // The same warm sandbox serves the owner again, with its process table clean.
    const after = await engine.execute({ code: 'echo alive; ps -e --no-headers | wc -l', language: 'bash', mode: 'cached' }, { owner: 'bomber' });
    expect(after.stdout.split('\n')[0]).toBe('alive');
    expect(Number(after.stdout.split('\n')[1])).toBeLessThan(10);
  });

  it('limits memory without swap: a memory hog ends with oomKilled', async () => {
    const r = await engine.execute({
      code: 'chunks = []\nwhile True:\n    chunks.append(bytearray(b"\\x01") * (16 << 20))',
      language: 'python',
      mode: 'cached',
      resources: { memoryMb: 128, timeoutMs: 20_000 },
    });
    expect(r.oomKilled).toBe(true);
    expect(r.exitCode).toBe(137);
    expect(r.timedOut).toBe(false);
    const after = await engine.execute({ code: 'print("recovered")', language: 'python', mode: 'cached', resources: { memoryMb: 128 } });
    expect(after.stdout).toBe('recovered\n');
  });

  it('applies the cpu quota from cpuCores', async () => {
    // Two busy threads for 1.5 s of wall time: with 0.5 cores they get about 0.75 s of CPU.
    const code = [
      'import threading, time',
      'def spin():',
      '    t = time.time()',
      '    while time.time() - t < 1.5: pass',
      'ts = [threading.Thread(target=spin) for _ in range(2)]',
      '[t.start() for t in ts]; [t.join() for t in ts]',
      'print(round(time.process_time(), 2))',
    ].join('\n');
    const half = await py(code, { resources: { cpuCores: 0.5 } });
    expect(Number(half.stdout)).toBeGreaterThan(0.4);
    expect(Number(half.stdout)).toBeLessThan(1.05);
    expect(half.usage.cpuSeconds).toBeLessThan(1.1);
  });

  it('caps output per stream and keeps the sandbox running cleanly', async () => {
    const r = await engine.execute(
      { code: 'import sys\nsys.stdout.write("x" * 200_000)\nsys.stderr.write("e" * 100)\nprint("done", file=sys.stderr)', language: 'python', mode: 'cached' },
      { owner: 'chatty' },
    );
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(64 * 1024);
    expect(r.stderr).toBe('e'.repeat(100) + 'done\n');
    expect(r.exitCode).toBe(0);
    const next = await engine.execute({ code: 'print("next")', language: 'python', mode: 'cached' }, { owner: 'chatty' });
    expect(next.stdout).toBe('next\n');
    expect(next.truncated).toBe(false);
  });
});
