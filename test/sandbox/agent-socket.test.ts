// The direct host <-> agent channel (src/sandbox/agent-socket.ts, agent/faas_agent/host_socket.py):
// the host listens on a socket in a directory of its own per container (mounted read-only), the
// agent connects as it starts, the host takes that one connection and removes socket and
// directory before any user code runs — so user code finds nothing there, can store nothing on
// the host through the mount, and cannot reach the agent or the host.
import { chmodSync, mkdirSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OWNER_PID_LABEL } from '../../src/sandbox/index.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { docker, makeEngine, ourContainers } from '../helpers.js';

const ROOT = '/tmp/faas-agent-socket-test';
let engine: DockerSandboxEngine;
let attachOnly: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine({ FAAS_AGENT_SOCKET_DIR: ROOT });
  attachOnly = makeEngine({ FAAS_AGENT_SOCKET_DIR: 'off', FAAS_PREWARM_LANGUAGES: '' });
  await Promise.all([engine.start(), attachOnly.start()]);
});

afterAll(async () => {
  await Promise.all([engine.shutdown(), attachOnly.shutdown()]);
  expect(await ourContainers()).toEqual([]);
  expect(readdirSync(ROOT)).toEqual([]); // this process's directory went at shutdown
  rmSync(ROOT, { recursive: true });
});

const py = (e: DockerSandboxEngine, code: string, owner: string) => e.execute({ code, language: 'python', mode: 'cached' }, { owner });

describe('agent socket', () => {
  it('leaves user code nothing: the mount is read-only and empty, nothing can be stored there (O_TMPFILE too), no socket to reach', async () => {
    const r = await py(
      engine,
      [
        'import os, socket',
        'try:',
        '    print(os.listdir("/run/faas-agent"))',
        'except OSError as e:',
        '    print("list", e.errno)',
        'for how in ("file", "tmpfile"):',
        '    try:',
        '        if how == "file":',
        '            open("/run/faas-agent/fill", "w").write("x" * 4096)',
        '        else:',
        '            os.write(os.open("/run/faas-agent", os.O_TMPFILE | os.O_RDWR, 0o600), b"x" * 4096)',
        '        print(how, "written")',
        '    except OSError as e:',
        '        print(how, e.errno)',
        's = socket.socket(socket.AF_UNIX)',
        'try:',
        '    s.connect("/run/faas-agent/agent.sock")',
        '    print("connected")',
        'except OSError as e:',
        '    print("connect", e.errno)',
      ].join('\n'),
      'sock-a',
    );
    expect(r.exitCode, r.stderr).toBe(0);
    // The directory is root's (0711: not even listable) on a read-only mount, and it is gone.
    expect(r.stdout).toMatch(/^(list 13|\[\])\nfile (2|13|30)\ntmpfile (13|30)\nconnect 2\n$/); // ENOENT, EACCES or EROFS; O_TMPFILE refused; ENOENT
    // On the host: no container directory is left once its containers are up (each goes as its
    // agent connects; a pool refill may be starting one right now).
    const mine = readdirSync(ROOT).filter((d) => d.startsWith(`${process.pid}-`));
    expect(mine).toHaveLength(1); // this engine's
    let left = readdirSync(`${ROOT}/${mine[0]}`);
    for (let i = 0; i < 50 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = readdirSync(`${ROOT}/${mine[0]}`);
    }
    expect(left).toEqual([]);
  });

  it('carries every frame: executions, streaming and stdin work over it, many in a row', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await py(engine, `print(${i} * 2)`, 'sock-b');
      expect(r.stdout).toBe(`${i * 2}\n`);
    }
    const chunks: string[] = [];
    const s = await engine.execute(
      { code: 'import sys\nfor line in sys.stdin: print(line.strip().upper(), flush=True)', language: 'python', mode: 'cached', stdin: 'a\nb\n' },
      { owner: 'sock-b', onOutput: (_s, c) => chunks.push(c.toString()) },
    );
    expect(s.stdout).toBe('A\nB\n');
    expect(chunks.join('')).toBe('A\nB\n');
  });

  it('is what the agent talks over (one more socket than an agent on the attach stream holds)', async () => {
    await py(engine, 'print(1)', 'sock-c');
    await py(attachOnly, 'print(1)', 'sock-c');
    await new Promise((r) => setTimeout(r, 1500)); // pool refills started meanwhile are up
    const counts: number[] = [];
    const list = await docker.listContainers({ filters: { label: [`${OWNER_PID_LABEL}=${process.pid}`] } });
    for (const c of list) {
      const info = await docker.getContainer(c.Id).inspect();
      const env = info.Config.Env;
      const pid = info.State.Pid;
      const n = readdirSync(`/proc/${pid}/fd`).filter((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
        } catch {
          return false;
        }
      }).length;
      counts.push(env.some((v) => v.startsWith('FAAS_AGENT_SOCKET=')) ? n * 100 : n);
    }
    // With the socket: the zygote's socket pair end and the host's connection; without: the pair end.
    expect(counts.filter((n) => n >= 100).every((n) => n === 200)).toBe(true);
    expect(counts.filter((n) => n < 100).every((n) => n === 1)).toBe(true);
    expect(counts.some((n) => n >= 100) && counts.some((n) => n < 100)).toBe(true);
  });

  it('engines of one process keep directories of their own: one shutting down leaves the other working', async () => {
    const other = makeEngine({ FAAS_AGENT_SOCKET_DIR: ROOT, FAAS_PREWARM_LANGUAGES: '' });
    await other.start();
    expect((await py(other, 'print(2)', 'sock-d')).stdout).toBe('2\n');
    await other.shutdown();
    // A never-used container is started for an ephemeral run: its directory is made now.
    const r = await engine.execute({ code: 'print(3)', language: 'python', mode: 'ephemeral' }, { owner: 'sock-d' });
    expect(r.stdout).toBe('3\n');
    expect(readdirSync(ROOT).filter((d) => d.startsWith(`${process.pid}-`))).toHaveLength(1);
  });

  it('falls back to the attach stream where a socket cannot be had (a root path too long for a socket address)', async () => {
    const e = makeEngine({ FAAS_AGENT_SOCKET_DIR: `${ROOT}/${'x'.repeat(80)}`, FAAS_PREWARM_LANGUAGES: '' });
    await e.start();
    try {
      expect((await py(e, 'print(4)', 'sock-e')).stdout).toBe('4\n');
      expect(readdirSync(`${ROOT}/${'x'.repeat(80)}`)).toEqual([]); // nothing made there
    } finally {
      await e.shutdown();
      rmSync(`${ROOT}/${'x'.repeat(80)}`, { recursive: true, force: true });
    }
  });

  it('uses no root another user could write to (it would let them swap in links to host files): attach stream instead', async () => {
    const open = `${ROOT}-open`;
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const e = makeEngine({ FAAS_AGENT_SOCKET_DIR: open, FAAS_PREWARM_LANGUAGES: '' });
    await e.start();
    try {
      expect((await py(e, 'print(5)', 'sock-f')).stdout).toBe('5\n');
      expect(readdirSync(open)).toEqual([]);
    } finally {
      await e.shutdown();
      rmSync(open, { recursive: true, force: true });
    }
  });
});
