// The process guard of the operator's entry points, in a child process of its own: an error
// thrown in an event callback and an unhandled rejection are logged with pino and the process
// keeps serving; without the guard the same process dies (what it prevents).
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const script = (guarded: boolean) => `
import { createLogger } from './src/log.ts';
import { installProcessGuard, guardedErrors } from './src/guard.ts';
${guarded ? "installProcessGuard(createLogger('error', 'guard-test'));" : ''}
setTimeout(() => { throw new Error('thrown in a timer callback'); }, 10);
setTimeout(() => void Promise.reject(new Error('rejected, never handled')), 20);
setTimeout(() => { process.stdout.write('still serving after ' + guardedErrors() + ' errors\\n'); process.exit(0); }, 300);
`;

function run(guarded: boolean): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('node', ['--import', 'tsx', '--input-type=module', '-e', script(guarded)], { cwd: new URL('..', import.meta.url).pathname }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('process guard', () => {
  it('logs an uncaught exception and an unhandled rejection with pino, and the process keeps serving', async () => {
    const r = await run(true);
    expect(r.stdout).toBe('still serving after 2 errors\n');
    expect(r.code).toBe(0);
    const logs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; err: { message: string } });
    expect(logs.map((l) => [l.level, l.msg, l.err.message])).toEqual([
      [50, 'uncaught exception: the operator keeps serving', 'thrown in a timer callback'],
      [50, 'unhandled promise rejection: the operator keeps serving', 'rejected, never handled'],
    ]);
  });

  it('without it, the same error ends the process', async () => {
    const r = await run(false);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('thrown in a timer callback');
  });
});
