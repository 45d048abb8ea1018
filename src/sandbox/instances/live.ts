// What the instance manager holds for one running (or paused) instance besides its record.
import type { Server, Socket } from 'node:net';
import type Docker from 'dockerode';
import type { InstanceRecord } from '../../store/index.js';
import type { CpuCounter } from '../cgroup.js';
import type { Mux } from './mux.js';

/** What the operator holds for one live instance besides its record. */
export class Live {
  mux: Mux | null = null;
  muxStarting: Promise<Mux> | null = null;
  sshServer: Server | null = null;
  readonly sshSockets = new Set<Socket>();
  cpu: CpuCounter | null = null;
  lastActivity = Date.now();
  /** Calls under way (exec, copies): an instance with work in flight is not idle. */
  busy = 0;
  stopping: Promise<void> | null = null;
  hostKey: Promise<string | null> | null = null;
  resumed: { promise: Promise<void>; resolve: () => void } | null = null;
  constructor(
    public rec: InstanceRecord,
    readonly container: Docker.Container,
  ) {}
}
