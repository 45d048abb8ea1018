// Bad requests get a typed error naming the field, and start nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaaSError } from '@faas/sdk/errors';
import { loadConfig } from '../../src/config.js';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { makeEngine, ourContainers } from '../helpers.js';

let engine: DockerSandboxEngine;

beforeAll(async () => {
  engine = makeEngine({ FAAS_MAX_MEMORY_MB: '1024', FAAS_MAX_CPU_CORES: '2', FAAS_MAX_TIMEOUT_MS: '60000' });
  await engine.start();
});

afterAll(async () => {
  await engine.shutdown();
  expect(await ourContainers()).toEqual([]);
});

async function rejection(p: Promise<unknown>): Promise<FaaSError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FaaSError);
  return err as FaaSError;
}

const ok = { code: 'print(1)', language: 'python' } as const;
const cases: Array<[string, Record<string, unknown>, string, string]> = [
  ['memory over the operator maximum', { ...ok, resources: { memoryMb: 4096 } }, 'RESOURCE_UNAVAILABLE', 'resources.memoryMb'],
  ['cpu over the operator maximum', { ...ok, resources: { cpuCores: 8 } }, 'RESOURCE_UNAVAILABLE', 'resources.cpuCores'],
  ['timeout over the operator maximum', { ...ok, resources: { timeoutMs: 600_000 } }, 'RESOURCE_UNAVAILABLE', 'resources.timeoutMs'],
  ['a GPU on a host without GPUs', { ...ok, resources: { gpuCount: 1 } }, 'RESOURCE_UNAVAILABLE', 'resources.gpuCount'],
  ['an unknown language', { code: 'print(1)', language: 'cobol' }, 'VALIDATION_ERROR', 'language'],
  ['an unknown mode', { ...ok, mode: 'turbo' }, 'VALIDATION_ERROR', 'mode'],
  ['empty code', { code: '   \n', language: 'python' }, 'VALIDATION_ERROR', 'code'],
  ['code over 1 MiB', { code: 'a'.repeat((1 << 20) + 1), language: 'python' }, 'VALIDATION_ERROR', 'code'],
  ['a bad env var name', { ...ok, envVars: { '1BAD': 'x' } }, 'VALIDATION_ERROR', 'envVars["1BAD"]'],
  ['an env var name with "="', { ...ok, envVars: { 'A=B': 'x' } }, 'VALIDATION_ERROR', 'envVars["A=B"]'],
  ['an env var value with a lone surrogate', { ...ok, envVars: { A: 'x\ud800y' } }, 'VALIDATION_ERROR', 'envVars.A'],
  ['a file name with ..', { ...ok, files: { '../escape.txt': 'x' } }, 'VALIDATION_ERROR', 'files["../escape.txt"]'],
  ['a nested file name with ..', { ...ok, files: { 'a/../../b': 'x' } }, 'VALIDATION_ERROR', 'files["a/../../b"]'],
  ['an absolute file name', { ...ok, files: { '/etc/passwd': 'x' } }, 'VALIDATION_ERROR', 'files["/etc/passwd"]'],
  ['an unknown field', { ...ok, sudo: true }, 'VALIDATION_ERROR', 'request'],
  ['a negative memory size', { ...ok, resources: { memoryMb: -5 } }, 'VALIDATION_ERROR', 'resources.memoryMb'],
  ['a missing language', { code: 'print(1)' }, 'VALIDATION_ERROR', 'language'],
];

describe('request validation', () => {
  for (const [name, request, code, field] of cases) {
    it(`refuses ${name} with ${code} naming ${field}`, async () => {
      const before = engine.stats().executions;
      const err = await rejection(engine.execute(request as never));
      expect(err.code).toBe(code);
      expect(err.message.startsWith(field)).toBe(true);
      expect((err.toJSON() as { field?: string }).field ?? err.details?.field).toBe(field);
      expect(engine.stats().executions).toBe(before); // nothing was started
    });
  }

  it('an executionId that names no context is NOT_FOUND, and nothing is started', async () => {
    for (const executionId of ['no-such-context', 'snap_00000000-0000-0000-0000-000000000000']) {
      const err = await rejection(engine.execute({ ...ok, executionId }));
      expect(err.code).toBe('NOT_FOUND');
      expect(err.message).toContain(executionId);
    }
    const bad = await rejection(engine.createSnapshot('anonymous', '../etc' as string));
    expect(bad.code).toBe('VALIDATION_ERROR');
    expect(bad.message).toContain('executionId');
  });

  it('a full queue is a retryable QUEUE_FULL, not a hang', async () => {
    const small = makeEngine({ FAAS_MAX_CONCURRENT: '1', FAAS_MAX_QUEUED: '1' });
    await small.start();
    try {
      const slow = { code: 'import time; time.sleep(1.5); print("slow")', language: 'python', mode: 'cached' } as const;
      const running = small.execute(slow);
      const queued = small.execute(slow);
      const err = await rejection(small.execute(slow));
      expect(err.code).toBe('QUEUE_FULL');
      expect(err.retryable).toBe(true);
      expect((await running).stdout).toBe('slow\n');
      expect((await queued).stdout).toBe('slow\n');
      // Once the queue has room the same request runs.
      expect((await small.execute(ok)).stdout).toBe('1\n');
    } finally {
      await small.shutdown();
    }
  });
});

describe('config validation', () => {
  it('names the variable and the bad value', () => {
    expect(() => loadConfig({ FAAS_MAX_CONCURRENT: 'lots' })).toThrowError(/FAAS_MAX_CONCURRENT.*"lots"/);
    expect(() => loadConfig({ FAAS_PREWARM_LANGUAGES: 'python,cobol' })).toThrowError(/FAAS_PREWARM_LANGUAGES/);
    expect(loadConfig({}).queue.concurrency).toBe(8);
  });
});
