// The sandbox policy: what a request may ask for on this operator, and the container
// settings every sandbox runs under. Each line here is covered by a test in test/sandbox.
import type Docker from 'dockerode';
import type { z } from 'zod';
import type { SandboxLimits } from '../config.js';
import { ResourceUnavailableError, ValidationError } from '@faas/sdk/errors';
import { completeGoProgram } from './go-snippet.js';
import { ExecuteRequestSchema } from './types.js';
import type { ExecuteRequest, ExecuteRequestInput, Isolation, Language, Resources } from './types.js';
import { MANAGED_LABEL } from './labels.js';
import { familySeccompProfile } from './seccomp.js';
import { AGENT_SOCKET_MOUNT, AGENT_SOCKET_PATH } from './agent-socket.js';

/** The unprivileged user of instances, and of a sandbox given no uid of its own (nobody:nogroup). */
export const SANDBOX_USER = '65534:65534';

// Every execution and family container runs as a host uid of its own (issue 13): the kernel's
// per-uid counts (inotify instances and watches, message queue bytes, pending signals, user
// namespaces, RLIMIT_NPROC) are then never shared by two containers, so never by two tenants.
// Docker's userns-remap would not give that (one remapped range for every container) and would
// move every image and volume; see the README ("Isolation").
export const SANDBOX_UID_BASE = 2_000_000;
export const SANDBOX_UID_SPAN = 1 << 24;
let nextUid = SANDBOX_UID_BASE + Math.floor(Math.random() * SANDBOX_UID_SPAN);

/** A host uid no other container of this process has had (from a random start per process). */
export function allocateSandboxUid(): number {
  const uid = nextUid;
  nextUid = nextUid + 1 >= SANDBOX_UID_BASE + SANDBOX_UID_SPAN ? SANDBOX_UID_BASE : nextUid + 1;
  return uid;
}

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
  if (req.language === 'go') req.code = completeGoProgram(req.code);
  if (req.isolation !== undefined && !limits.isolation.allowed.includes(req.isolation)) {
    throw new ResourceUnavailableError('isolation', `${req.isolation} is not offered by this operator (allowed: ${limits.isolation.allowed.join(', ')})`);
  }
  // Stateful contexts run under either tier (under gvisor: agent/faas_agent/gvisor.py); a context
  // that exists keeps the tier it was made under.
  const tier = req.isolation ?? (req.executionId === undefined ? limits.isolation.default : 'runc');
  // gVisor's pty master never reads EIO once the program is gone, which is how the agent
  // knows a terminal's output has ended: a tty execution would hang until its timeout.
  if (req.tty && tier === 'gvisor') {
    throw new ResourceUnavailableError('tty', 'terminals do not run under gvisor (its pseudo-terminal never reports the end of the program); ask for isolation "runc" or no tty');
  }
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
export function configKey(language: Language, r: Resources, isolation: Isolation = 'runc'): string {
  return `${language}|cpu=${r.cpuCores}|mem=${r.memoryMb}|disk=${r.diskMb}|iso=${isolation}`;
}

/** The Docker runtime of an isolation tier (setup-host registers `runsc`). */
export const RUNTIME_OF_ISOLATION: Record<Isolation, string> = { runc: 'runc', gvisor: 'runsc' };

export interface ContainerSpec {
  image: string;
  language: Language;
  resources: Resources;
  pidsLimit: number;
  labels: Record<string, string>;
  /** The container's own host uid (and gid); default 65534. */
  uid?: number;
  /** The isolation tier (default runc): gvisor runs the container under runsc. */
  isolation?: Isolation;
  /**
   * A family container (stateful contexts): the family agent, the seccomp profile that lets it
   * make namespaces, no log (it lives long; every frame would be kept), and room for
   * `contexts` contexts at the request's memory and disk each, capped at the operator's
   * maxima (`FAAS_MAX_MEMORY_MB`, `FAAS_MAX_DISK_MB`, `FAAS_PIDS_LIMIT`): a family never holds
   * more than one request may ask for (issue 13).
   */
  family?: { contexts: number; maxMemoryMb: number; maxDiskMb: number; maxPids: number };
  /** An execution container's socket directory on the host (agent-socket.ts), mounted for its agent. */
  agentSocketDir?: string;
}

/** Memory (MiB), disk (MiB) and process limits of a container: a family's are capped. */
export function containerLimits(spec: ContainerSpec): { memoryMb: number; diskMb: number; pids: number } {
  const f = spec.family;
  if (!f) return { memoryMb: spec.resources.memoryMb, diskMb: spec.resources.diskMb, pids: spec.pidsLimit };
  return {
    memoryMb: Math.min(spec.resources.memoryMb * f.contexts, Math.max(spec.resources.memoryMb, f.maxMemoryMb)),
    diskMb: Math.min(spec.resources.diskMb * f.contexts, Math.max(spec.resources.diskMb, f.maxDiskMb)),
    pids: Math.min(spec.pidsLimit * f.contexts, Math.max(spec.pidsLimit, f.maxPids)),
  };
}

/**
 * Host tasks per process of a family container under gVisor: with the ptrace platform each
 * process inside costs gVisor host threads and a stub process (measured: about 18 host tasks
 * per branch, whose PID 1 and interpreter are 2 processes), and the pids limit counts host
 * tasks. At the limit gVisor itself stops, with the family container (its own lineage only).
 */
export const GVISOR_HOST_TASKS_PER_PROCESS = 10;

/** Docker's default masked paths outside /proc, kept for family containers. */
export const FAMILY_MASKED_PATHS = ['/sys/firmware', '/sys/devices/virtual/powercap'];

/** Docker create options for one sandbox: the policy in one place. */
export function containerOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const limits = containerLimits(spec);
  // A family under gVisor runs as uid 0 of gVisor's own kernel with the three capabilities
  // its agent makes contexts with (agent/faas_agent/gvisor.py says why); the host sees runsc's
  // unprivileged sandbox process either way.
  const gvisorFamily = Boolean(spec.family) && spec.isolation === 'gvisor';
  const uid = gvisorFamily ? 0 : (spec.uid ?? 65534);
  const mem = limits.memoryMb * 1024 * 1024;
  return {
    Image: spec.image,
    Cmd: spec.family ? ['python3', '/opt/faas/family.py'] : ['python3', '/opt/faas/agent.py', '--language', spec.language],
    User: gvisorFamily ? '0:0' : spec.uid === undefined ? SANDBOX_USER : `${spec.uid}:${spec.uid}`,
    WorkingDir: '/sandbox',
    Env: ['FAAS_IN_SANDBOX=1', 'HOME=/home/sandbox', 'LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin', 'PYTHONDONTWRITEBYTECODE=1',
      ...(gvisorFamily ? ['FAAS_FAMILY_ISOLATION=gvisor'] : []),
      ...(spec.agentSocketDir ? [`FAAS_AGENT_SOCKET=${AGENT_SOCKET_PATH}`] : []),
      `FAAS_CPU_CORES=${spec.resources.cpuCores}`],
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
      ...(gvisorFamily ? { CapAdd: ['SYS_ADMIN', 'SYS_CHROOT', 'SETPCAP'] } : {}),
      SecurityOpt: spec.family ? ['no-new-privileges', `seccomp=${familySeccompProfile()}`] : ['no-new-privileges'],
      PidsLimit: gvisorFamily ? limits.pids * GVISOR_HOST_TASKS_PER_PROCESS : limits.pids,
      Memory: mem,
      MemorySwap: mem, // equal to Memory: no swap
      NanoCpus: Math.round(spec.resources.cpuCores * 1e9),
      // The only writable place: /tmp, HOME and the work root live here (see docker/runtime/Dockerfile).
      Tmpfs: { '/sandbox': `rw,exec,nosuid,nodev,size=${limits.diskMb}m,uid=${uid},gid=${uid},mode=0755` },
      // Read-only: the container connects to the host's socket there and can write nothing
      // (`Mounts`, not `Binds`: a missing source is an error, not a directory made for it).
      ...(spec.agentSocketDir ? { Mounts: [{ Type: 'bind' as const, Source: spec.agentSocketDir, Target: AGENT_SOCKET_MOUNT, ReadOnly: true }] } : {}),
      ShmSize: 16 * 1024 * 1024,
      Ulimits: [{ Name: 'nofile', Soft: 4096, Hard: 4096 }],
      // The agent is PID 1 (it reaps orphans of user code, and is not dumpable): docker-init
      // would be a dumpable PID 1 of the sandbox uid holding the host channel as its stdio,
      // which user code could open as /proc/1/fd/1 and forge frames into. A family's contexts
      // run in user namespaces of their own, which cannot open another namespace's /proc/<pid>/fd,
      // so the family agent keeps docker-init.
      Init: Boolean(spec.family),
      // A family's contexts each mount a /proc of their own PID namespace (so none sees the
      // agent, docker-init or another context). The kernel refuses a new proc mount while
      // Docker's masks cover parts of the container's /proc; the masked and read-only files
      // there are root's and the container has neither root nor capabilities, so those masks
      // go. Docker's /sys masks stay (they do not stand in the way).
      ...(spec.family ? { MaskedPaths: FAMILY_MASKED_PATHS, ReadonlyPaths: [] } : {}),
      IpcMode: 'private',
      ...(spec.isolation === 'gvisor' ? { Runtime: RUNTIME_OF_ISOLATION.gvisor } : {}),
      AutoRemove: false,
      ...(spec.family ? { LogConfig: { Type: 'none', Config: {} } } : {}),
    },
  };
}
