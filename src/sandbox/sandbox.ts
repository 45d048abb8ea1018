// One sandbox over one Docker client: the engine (executions, contexts, snapshots) and the
// persistent instances beside it. The gateway and the operator take this instead of building
// an instance manager themselves and reaching into the engine for its Docker client.
import Docker from 'dockerode';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { InstanceRecord, InstanceStore } from '../store/index.js';
import { DockerSandboxEngine } from './engine.js';
import type { EngineState } from './engine.js';
import { InstanceManager } from './instances/index.js';

export interface SandboxOptions {
  log: Logger;
  /** The Docker client (default: the local engine, or DOCKER_HOST as dockerode reads it). */
  docker?: Docker;
  /** Where contexts and snapshots are kept (durableState); absent: only while this process runs. */
  state?: EngineState;
}

export interface InstanceManagerOptions {
  /** The records of one database: a manager finds that database's instances again on start. */
  store: InstanceStore;
  /** Called once an instance has stopped, with its final record (usage is written here). */
  onStopped?: (r: InstanceRecord) => void;
}

export interface Sandbox {
  /** The one client the engine and every instance manager use. */
  readonly docker: Docker;
  readonly engine: DockerSandboxEngine;
  /**
   * The persistent-instance manager for one database, over the same client. Not started: its
   * calls wait for `start()`, which finds the database's instances again. One engine may serve
   * several operators (each its own database), so there is one manager per database.
   */
  instanceManager(o: InstanceManagerOptions): InstanceManager;
}

export function createSandbox(config: Config, o: SandboxOptions): Sandbox {
  const docker = o.docker ?? new Docker();
  const engine = new DockerSandboxEngine(config, o.log, docker, o.state);
  return {
    docker,
    engine,
    instanceManager: ({ store, onStopped }) =>
      new InstanceManager({ docker, store, settings: { ...config.instances, listenHost: config.api.host }, limits: config.limits, log: o.log, onStopped }),
  };
}
