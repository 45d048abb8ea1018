// Docker settings of an instance: the sandbox policy (src/sandbox/policy.ts: uid 65534,
// read-only root, all capabilities dropped, no-new-privileges, no network, one tmpfs), with
// what a long-lived dev box needs on top: labels that keep the engine's orphan sweep away,
// no container log (nothing accumulates on the host), a disk that is its own budget, and a
// main process that writes the owner's key and starts sshd.
import type Docker from 'dockerode';
import { INSTANCE_DB_LABEL, INSTANCE_LABEL, ROLE_LABEL } from '../labels.js';
import { containerOptions } from '../policy.js';
import { ResourcesSchema } from '../types.js';
import type { Language } from '../types.js';

// The label names live in ../labels.ts (one module for every label); re-exported for this folder.
export { INSTANCE_DB_LABEL, INSTANCE_LABEL, ROLE_LABEL };
export const INSTANCE_NETWORK = 'faas-instances';

/** Where sshd listens inside the instance (the devbox image's start-sshd). */
export const SSHD_PORT = 2222;
export const SSH_USER = 'sandbox';
export const HOME = '/home/sandbox';
export const AUTHORIZED_KEYS = '/sandbox/.faas/authorized_keys';
/** The devbox's sshd host key (start-sshd makes it on first start). */
export const HOST_KEY_FILE = '/sandbox/devbox/ssh/ssh_host_ed25519_key.pub';
export const DEVBOX = '/opt/faas/devbox';

export interface InstanceContainerSpec {
  id: string;
  image: string;
  language: Language;
  cpuCores: number;
  memoryMb: number;
  diskMb: number;
  pidsLimit: number;
  network: boolean;
  publicKey: string;
  dbIdentity: string;
}

/**
 * The main process: writes the owner's public key, starts sshd in the background (the devbox's
 * start-sshd: unprivileged, 127.0.0.1:2222, public keys only; the manager waits for its banner
 * through the relay), then idles for ever (docker-init reaps what the owner leaves behind).
 */
const MAIN = [
  'umask 077',
  'mkdir -p /sandbox/.faas /sandbox/tmp /sandbox/work /sandbox/home',
  'chmod 1777 /sandbox/tmp',
  `printf '%s\\n' "$FAAS_AUTHORIZED_KEY" > ${AUTHORIZED_KEYS}`,
  'umask 022',
  // In a subshell that exits at once: sshd's starter is reaped by docker-init, not left a zombie of idle.
  `(/opt/faas/devbox/start-sshd ${AUTHORIZED_KEYS} > /sandbox/.faas/sshd.out 2>&1 &)`,
  '[ -x /opt/faas/devbox/idle ] && exec /opt/faas/devbox/idle',
  'trap "exit 0" TERM INT',
  'while :; do sleep 86400 & wait $!; done',
].join('\n');

export function instanceContainerOptions(s: InstanceContainerSpec): Docker.ContainerCreateOptions {
  const base = containerOptions({
    image: s.image,
    language: s.language,
    resources: ResourcesSchema.parse({ cpuCores: s.cpuCores, memoryMb: s.memoryMb, diskMb: s.diskMb }),
    pidsLimit: s.pidsLimit,
    labels: {},
  });
  // The disk is a tmpfs, whose pages count against the memory cgroup: the limit is raised by
  // the disk's size, so a full disk never takes the memory the processes were given.
  const mem = (s.memoryMb + s.diskMb) * 1024 * 1024;
  return {
    ...base,
    name: `faas-${s.id}`,
    Cmd: ['sh', '-c', MAIN],
    Env: [...(base.Env ?? []).filter((e) => !e.startsWith('FAAS_IN_SANDBOX=')), `FAAS_INSTANCE_ID=${s.id}`, `FAAS_AUTHORIZED_KEY=${s.publicKey}`, 'TERM=xterm-256color'],
    Labels: { ...base.Labels, [ROLE_LABEL]: 'persistent', [INSTANCE_LABEL]: s.id, [INSTANCE_DB_LABEL]: s.dbIdentity },
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    OpenStdin: false,
    NetworkDisabled: !s.network,
    HostConfig: {
      ...base.HostConfig,
      NetworkMode: s.network ? INSTANCE_NETWORK : 'none',
      Memory: mem,
      MemorySwap: mem,
      Tmpfs: { '/sandbox': `rw,exec,nosuid,nodev,size=${s.diskMb}m,uid=65534,gid=65534,mode=0755` },
      // Long-lived: nothing it prints is kept by Docker (inbound access goes through the relay).
      LogConfig: { Type: 'none', Config: {} },
      RestartPolicy: { Name: 'no' },
    },
  };
}
