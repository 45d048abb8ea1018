// The sandbox policy: what a request may ask for on this operator, and the container
// settings every sandbox runs under. Each line here is covered by a test in test/sandbox.
import type Docker from 'dockerode';
import type { z } from 'zod';
import type { SandboxLimits } from '../config.js';
import { ResourceUnavailableError, ValidationError } from '../errors.js';
import { ExecuteRequestSchema } from './types.js';
import type { ExecuteRequest, ExecuteRequestInput, Language, Resources } from './types.js';
import { MANAGED_LABEL } from './images.js';
import { familySeccompProfile } from './seccomp.js';

/** The unprivileged user every sandbox process runs as (nobody:nogroup). */
export const SANDBOX_USER = '65534:65534';

function fieldOf(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(String(p))) out += out ? `.${String(p)}` : String(p);
    else out += `[${JSON.stringify(String(p))}]`; // a record key such as a file name
  }
  return out || 'request';
}

/** Turns zod's first issue into a ValidationError naming the field at fault. */
export function validationErrorFrom(error: z.ZodError): ValidationError {
  const issue = error.issues[0]!;
  const path = issue.path;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') message = `unknown field(s): ${issue.keys.join(', ')}`;
  return new ValidationError(fieldOf(path), message);
}

/** Parses and checks a request against the schema and this operator's limits. Starts nothing. */
export function validateRequest(input: ExecuteRequestInput | unknown, limits: SandboxLimits): ExecuteRequest {
  const parsed = ExecuteRequestSchema.safeParse(input);
  if (!parsed.success) throw validationErrorFrom(parsed.error);
  const req = parsed.data;
  const r = req.resources;
  const over = (field: keyof Resources, max: number, unit: string) => {
    if (r[field] > max) {
      throw new ResourceUnavailableError(`resources.${field}`, `${r[field]} ${unit} is over this operator's maximum of ${max} ${unit}`);
    }
  };
  if (r.gpuCount > limits.gpuCount) {
    throw new ResourceUnavailableError(
      'resources.gpuCount',
      limits.gpuCount === 0 ? 'this operator has no GPUs; ask for gpuCount 0' : `at most ${limits.gpuCount} GPUs are available here`,
    );
  }
  over('cpuCores', limits.maxCpuCores, 'cores');
  over('memoryMb', limits.maxMemoryMb, 'MiB');
  over('timeoutMs', limits.maxTimeoutMs, 'ms');
  over('diskMb', limits.maxDiskMb, 'MiB');
  let filesBytes = 0;
  for (const v of Object.values(req.files)) filesBytes += typeof v === 'string' ? Buffer.byteLength(v) : v.byteLength;
  if (filesBytes > limits.maxFilesBytes) {
    throw new ValidationError('files', `${filesBytes} bytes in all is over the maximum of ${limits.maxFilesBytes}`);
  }
  if (filesBytes > r.diskMb * 1024 * 1024) {
    throw new ValidationError('files', `${filesBytes} bytes do not fit in resources.diskMb = ${r.diskMb}`);
  }
  return req;
}

/** A key for "same configuration": warm containers are only reused for an identical one. */
export function configKey(language: Language, r: Resources): string {
  return `${language}|cpu=${r.cpuCores}|mem=${r.memoryMb}|disk=${r.diskMb}`;
}

export interface ContainerSpec {
  image: string;
  language: Language;
  resources: Resources;
  pidsLimit: number;
  labels: Record<string, string>;
  /**
   * A family container (stateful contexts): the family agent, the seccomp profile that lets it
   * make namespaces, no log (it lives long; every frame would be kept), and room for
   * `contexts` contexts at the request's memory and disk each.
   */
  family?: { contexts: number };
}

/** Docker create options for one sandbox: the policy in one place. */
export function containerOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const scale = spec.family?.contexts ?? 1;
  const mem = spec.resources.memoryMb * 1024 * 1024 * scale;
  return {
    Image: spec.image,
    Cmd: spec.family ? ['python3', '/opt/faas/family.py'] : ['python3', '/opt/faas/agent.py', '--language', spec.language],
    User: SANDBOX_USER,
    WorkingDir: '/sandbox',
    Env: ['FAAS_IN_SANDBOX=1', 'HOME=/home/sandbox', 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin', 'PYTHONDONTWRITEBYTECODE=1'],
    Labels: { [MANAGED_LABEL]: 'true', ...spec.labels },
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: true,
    StdinOnce: false,
    Tty: false,
    NetworkDisabled: true,
    HostConfig: {
      NetworkMode: 'none',
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: spec.family ? ['no-new-privileges', `seccomp=${familySeccompProfile()}`] : ['no-new-privileges'],
      PidsLimit: spec.pidsLimit * scale,
      Memory: mem,
      MemorySwap: mem, // equal to Memory: no swap
      NanoCpus: Math.round(spec.resources.cpuCores * 1e9),
      // The only writable place: /tmp, HOME and the work root live here (see docker/*/Dockerfile).
      Tmpfs: { '/sandbox': `rw,exec,nosuid,nodev,size=${spec.resources.diskMb * scale}m,uid=65534,gid=65534,mode=0755` },
      ShmSize: 16 * 1024 * 1024,
      Ulimits: [{ Name: 'nofile', Soft: 4096, Hard: 4096 }],
      Init: true, // docker-init reaps orphans of user code
      IpcMode: 'private',
      AutoRemove: false,
      ...(spec.family ? { LogConfig: { Type: 'none', Config: {} } } : {}),
    },
  };
}
