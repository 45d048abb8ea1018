// A start request against the operator's limits, Docker-free: each refusal is typed and names
// its field; within the limits the request comes back with its disk in MiB and its ttl.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { checkInstanceSpec } from './spec.js';

const config = loadConfig({ FAAS_MAX_CPU_CORES: '2', FAAS_MAX_MEMORY_MB: '2048', FAAS_MAX_DISK_MB: '1024' });
const settings = { allowNetwork: false, defaultTtlS: 3600, maxTtlS: 7200 };

function refusal(input: unknown): { code: string; field?: string } {
  try {
    checkInstanceSpec(input as Parameters<typeof checkInstanceSpec>[0], config.limits, settings);
  } catch (err) {
    const e = err as { code: string; field?: string };
    return { code: e.code, field: e.field };
  }
  throw new Error('accepted');
}

describe('checkInstanceSpec', () => {
  it('accepts a request within the limits: defaults filled, disk in MiB, the default ttl', () => {
    const r = checkInstanceSpec({ resources: { cpuCores: 1, memoryMb: 512, diskGb: 0.5 } }, config.limits, settings);
    expect(r.diskMb).toBe(512);
    expect(r.ttl).toBe(3600);
    expect(r.spec.network).toBe(false);
  });

  it('refuses what is over the operator, naming the field', () => {
    expect(refusal({ resources: { cpuCores: 3 } })).toEqual({ code: 'RESOURCE_UNAVAILABLE', field: 'resources.cpuCores' });
    expect(refusal({ resources: { memoryMb: 4096 } })).toEqual({ code: 'RESOURCE_UNAVAILABLE', field: 'resources.memoryMb' });
    expect(refusal({ resources: { diskGb: 2 } })).toEqual({ code: 'RESOURCE_UNAVAILABLE', field: 'resources.diskGb' });
    expect(refusal({ resources: { gpuCount: 1 } })).toEqual({ code: 'RESOURCE_UNAVAILABLE', field: 'resources.gpuCount' });
    expect(refusal({ network: true })).toEqual({ code: 'RESOURCE_UNAVAILABLE', field: 'network' });
    expect(refusal({ ttl: 7201 })).toEqual({ code: 'RESOURCE_UNAVAILABLE', field: 'ttl' });
  });

  it('a malformed request is a VALIDATION_ERROR naming the field', () => {
    expect(refusal({ resources: { cpuCores: 'many' } })).toMatchObject({ code: 'VALIDATION_ERROR', field: 'resources.cpuCores' });
  });
});
