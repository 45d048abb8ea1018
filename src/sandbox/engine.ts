// The sandbox engine on a Docker host: validates a request, queues it, and runs it in the
// container its mode calls for. Everything outside src/sandbox talks to the SandboxEngine
// interface only, so another backend (Kubernetes, remote hosts) can stand in later.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Docker from 'dockerode';
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { QueueFullError, SandboxError, ShuttingDownError, ValidationError } from '@faas/sdk/errors';
import { ContextStore, openDatabase } from '../store/index.js';
import type { Db } from '../store/index.js';
import { ContextManager, FAMILY_ROLE } from './contexts.js';
import type { BranchInfo, MergeInfo, MergeStrategy, RestoreInfo, SnapshotInfo } from './snapshot-info.js';
import { AgentSocketDirs } from './agent-socket.js';
import { execHandlers, SandboxContainer } from './container.js';
import { IMAGE_OF_LANGUAGE, RUNTIME_IMAGES, runtimeImageTag } from './images.js';
import { LoadedImages } from './loaded-images.js';
import { MANAGED_LABEL, OWNER_PID_LABEL, ROLE_LABEL } from './labels.js';
import type { RuntimeImage } from './images.js';
import { allocateSandboxUid, configKey, containerOptions, validateRequest } from './policy.js';
import type { ContainerSpec } from './policy.js';
import { FreshPool, WarmPool } from './pools.js';
import type { AgentResult, ExecMessage } from './protocol.js';
import { EXECUTION_ID_PATTERN, ResourcesSchema } from './types.js';
import type { ExecuteOptions, ExecuteRequest, ExecuteRequestInput, ExecuteResult, Isolation, Language, Owner } from './types.js';

const STATEFUL_MODES: ReadonlySet<string> = new Set(['checkpointed', 'branched', 'persistent']);

export interface EngineStats {
  running: number;
  queued: number;
  freshContainers: number;
  warmContainers: number;
  executions: number;
}

/** What the operator and the API need from a sandbox backend. */
export interface SandboxEngine {
  /** Checks the images, clears what a crashed run left, and fills the prewarmed pools. */
  start(): Promise<void>;
  /** Runs one request; throws a FaaSError (with a `code`) for a request it will not run. */
  execute(request: ExecuteRequestInput, options?: ExecuteOptions): Promise<ExecuteResult>;
  /** Throws at once (QUOTA_EXCEEDED, or 429 where waiting helps) when this owner may not start
   *  this request now — its per-owner quotas (warm containers over all configurations, stateful
   *  contexts and family containers); `execute` enforces them too, this only tells before
   *  anything is queued. Optional: a backend without such quotas has nothing to say. */
  admit?(request: ExecuteRequest, owner: Owner): void;
  /** The language of an owner's stateful context (what a run in it without `language` uses); undefined when it has none by that id. */
  contextLanguage?(owner: Owner, executionId: string): Language | undefined;
  /** The content hash (`0x` + 64 hex: the Docker image id) of the runtime image a language runs
   *  in, as found at start — what an operator binds into the statement it signs. */
  imageHash(language: Language): `0x${string}`;
  stats(): EngineStats;
  /** Finishes running work, then removes every container this engine started. */
  shutdown(): Promise<void>;
}

/**
 * Snapshots, branches and merges of stateful contexts (checkpointed / branched / persistent
 * modes). `owner` scopes every id: another owner's snapshot, branch or context is NOT_FOUND.
 */
export interface SnapshotEngine {
  /** Captures a context's files and (python) interpreter memory. */
  createSnapshot(owner: Owner, executionId: string): Promise<SnapshotInfo>;
  getSnapshot(owner: Owner, snapshotId: string): SnapshotInfo;
  listSnapshots(owner: Owner): SnapshotInfo[];
  /** Deletes a snapshot and frees its storage (its files, when no other snapshot shares them). */
  deleteSnapshot(owner: Owner, snapshotId: string): Promise<void>;
  /** A new context with the snapshot's files and memory. */
  restoreSnapshot(owner: Owner, snapshotId: string): Promise<RestoreInfo>;
  /** A new, independent context from a snapshot, recorded as a branch (for merges). */
  createBranch(owner: Owner, snapshotId: string): Promise<BranchInfo>;
  /** Three-way merge of branches of one snapshot into a new snapshot. */
  mergeBranches(owner: Owner, branchIds: string[], strategy?: MergeStrategy): Promise<MergeInfo>;
  /** A snapshot's files as a tar (paths relative to the context's work directory). */
  snapshotFiles(owner: Owner, snapshotId: string): Buffer;
}

/** Where an engine keeps stateful contexts' records and snapshot files. */
export interface EngineState {
  db: Db;
  /** Snapshot files, one tar per content hash. */
  dir: string;
}

/**
 * An operator's durable state: the records in its database, the files beside it (or in
 * FAAS_SNAPSHOT_DIR). With it, contexts and snapshots outlive the operator process.
 */
export function durableState(dbPath: string, snapshotDir: string | null): EngineState {
  return { db: openDatabase(dbPath), dir: snapshotDir ?? join(dirname(dbPath), 'snapshots') };
}

const ANONYMOUS = 'anonymous';

export class DockerSandboxEngine implements SandboxEngine, SnapshotEngine {
  readonly docker: Docker;
  private readonly queue: PQueue;
  private readonly fresh: FreshPool;
  private readonly warm: WarmPool;
  private readonly prewarmKeys = new Set<string>();
  private reaper: NodeJS.Timeout | null = null;
  private stopping = false;
  private executions = 0;
  /** The runtime images loaded, and those announced as coming (expectImages). */
  readonly images = new LoadedImages();
  /** Container removals under way; shutdown waits for them so nothing is left behind. */
  private readonly removals = new Set<Promise<void>>();
  /** Execution containers' direct channels (agent-socket.ts); null: attach streams only. */
  private agentSockets: AgentSocketDirs | null;
  readonly contexts: ContextManager;
  /** Without a state given, contexts live only as long as this engine (a throw-away store). */
  private readonly ownState: { dir: string | null } | null;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    docker?: Docker,
    state?: EngineState,
  ) {
    this.docker = docker ?? new Docker();
    this.ownState = state ? null : { dir: null };
    this.contexts = new ContextManager({
      docker: this.docker,
      log,
      store: new ContextStore(state?.db ?? openDatabase(':memory:')),
      dir: () => state?.dir ?? (this.ownState!.dir ??= mkdtempSync(join(tmpdir(), 'faas-state-'))),
      spec: (language, resources, isolation) => ({
        ...this.spec(language, resources, isolation ?? config.limits.isolation.default),
        labels: { [OWNER_PID_LABEL]: String(process.pid), [ROLE_LABEL]: FAMILY_ROLE },
        family: {
          contexts: config.stateful.familyContexts,
          maxMemoryMb: config.limits.maxMemoryMb,
          maxDiskMb: config.limits.maxDiskMb,
          maxPids: config.limits.pidsLimit,
        },
      }),
      maxOutputBytes: config.limits.maxOutputBytes,
      quotas: { familyContainers: config.quotas.familyContainers, contexts: config.quotas.contexts, snapshotBytes: config.quotas.snapshotBytes },
      maxFrameBytes: config.limits.maxFrameBytes,
    });
    this.queue = new PQueue({ concurrency: config.queue.concurrency });
    this.agentSockets = AgentSocketDirs.open(config.agentSocketDir, config.dockerHost, log);
    this.fresh = new FreshPool(
      async (spec) => {
        const uid = allocateSandboxUid();
        // gVisor keeps the attach stream (a host socket through its gofer is not set up here).
        const dirs = spec.isolation === 'gvisor' ? null : this.agentSockets;
        const socket = dirs ? await dirs.listen(uid).catch((err: Error) => void this.log.warn({ err: err.message }, 'no agent socket: attach stream')) : undefined;
        try {
          const options = containerOptions({ ...spec, uid, agentSocketDir: socket?.hostDir });
          return await SandboxContainer.start(this.docker, options, spec.language, this.log, config.limits.maxFrameBytes, socket);
        } catch (err) {
          socket?.close();
          // A Docker engine that cannot see our directory (the operator in a container of its
          // own, a rootless engine) refuses the mount: attach streams from now on.
          if (!socket || !/mount|bind source/i.test((err as Error).message)) throw err;
          this.log.warn({ err: (err as Error).message }, 'the Docker engine cannot mount agent sockets: attach streams from now on');
          this.agentSockets = null;
          return SandboxContainer.start(this.docker, containerOptions({ ...spec, uid }), spec.language, this.log, config.limits.maxFrameBytes);
        }
      },
      log,
      // Configurations nobody prewarmed (any key can ask for many) keep no more started
      // containers waiting, in all, than can run at once.
      { pinned: this.prewarmKeys, maxUnpinned: config.queue.concurrency },
    );
    this.warm = new WarmPool(this.fresh, {
      maxPerOwner: config.pools.ownerMaxContainers,
      poolTarget: config.pools.warmPoolSize,
      maxPerOwnerTotal: config.quotas.warmContainers,
    });
  }

  admit(req: ExecuteRequest, owner: Owner): void {
    if (req.executionId !== undefined) return; // runs in a context that exists
    if (STATEFUL_MODES.has(req.mode)) this.contexts.admitContext(owner, true);
    else if (req.mode === 'cached') this.warm.admit(owner, configKey(req.language, req.resources, this.isolationOf(req)));
  }

  contextLanguage(owner: Owner, executionId: string): Language | undefined {
    return this.contexts.languageOf(owner, executionId);
  }

  imageHash(language: Language): `0x${string}` {
    const id = this.images.id(IMAGE_OF_LANGUAGE[language]);
    if (!id) throw new SandboxError(`the runtime image ${runtimeImageTag(IMAGE_OF_LANGUAGE[language])} is not known to this engine yet (not started, or still being built)`);
    return id;
  }

  /**
   * `images`: the runtime images to use from the start (default all). `npm start` starts with
   * its first job's image only and adds the others with addImages() once they are built; a
   * language whose image is not added yet answers RESOURCE_UNAVAILABLE (field `language`).
   */
  async start(images: readonly RuntimeImage[] = RUNTIME_IMAGES): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new SandboxError(`no Docker engine answers (${(err as Error).message}); run \`npm run setup-host\` or start Docker`);
    }
    await this.loadImages(images);
    await this.removeOrphans();
    await this.prewarm(images); // ready means the first requests find warm containers
    const idle = this.config.pools.idleTimeoutMs;
    this.reaper = setInterval(() => {
      void this.warm.shrink(idle);
      void this.fresh.shrink(idle, this.prewarmKeys);
      void this.contexts.endIdle(this.config.stateful.contextIdleMs);
    }, Math.min(idle, this.config.stateful.contextIdleMs, 30_000));
    this.reaper.unref();
  }

  /** Runtime images built after start(): their languages run from now on, and their prewarmed pools are filled. */
  async addImages(images: readonly RuntimeImage[]): Promise<void> {
    if (this.stopping) return; // no new pools for an engine being shut down
    await this.loadImages(images);
    await this.prewarm(images);
  }

  private async loadImages(images: readonly RuntimeImage[]): Promise<void> {
    for (const image of images) {
      try {
        const info = await this.docker.getImage(runtimeImageTag(image)).inspect();
        this.images.set(image, `0x${info.Id.replace(/^sha256:/, '')}`);
      } catch {
        throw new SandboxError(`runtime image ${runtimeImageTag(image)} is missing; run \`npm run setup-host\` to build it`);
      }
    }
  }

  /** Fills the pools of the prewarmed languages that run in `images`. */
  private async prewarm(images: readonly RuntimeImage[]): Promise<void> {
    const defaults = ResourcesSchema.parse({});
    const target = this.config.pools.warmPoolSize + this.config.pools.ephemeralPoolSize;
    const warming: Promise<void>[] = [];
    for (const language of this.config.pools.prewarmLanguages) {
      if (!images.includes(IMAGE_OF_LANGUAGE[language])) continue;
      const key = configKey(language, defaults, this.config.limits.isolation.default);
      this.prewarmKeys.add(key);
      warming.push(this.fresh.ensure(key, this.spec(language, defaults, this.config.limits.isolation.default), target));
    }
    await Promise.all(warming);
  }

  /** Containers left by an engine process that no longer runs (a crash, a kill -9). */
  private async removeOrphans(): Promise<void> {
    const list = await this.docker.listContainers({ all: true, filters: { label: [`${MANAGED_LABEL}=true`] } });
    const dead = list.filter((c) => {
      const pid = Number(c.Labels[OWNER_PID_LABEL]);
      // Instances and family containers outlive the operator process (they are found again).
      if (!pid || c.Labels[ROLE_LABEL] === 'persistent' || c.Labels[ROLE_LABEL] === FAMILY_ROLE) return false;
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    await Promise.all(dead.map((c) => this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    if (dead.length) this.log.info({ removed: dead.length }, 'removed containers of a previous run');
    await this.contexts.removeStrays(OWNER_PID_LABEL);
  }

  /** The isolation tier a request runs under: its own (validated as allowed) or the operator's default. */
  private isolationOf(req: ExecuteRequest): Isolation {
    return req.isolation ?? this.config.limits.isolation.default;
  }

  private spec(language: Language, resources: ExecuteRequest['resources'], isolation: Isolation = 'runc'): ContainerSpec {
    this.images.require(IMAGE_OF_LANGUAGE[language], language); // families too (restore, branch, merge)
    return {
      isolation,
      image: runtimeImageTag(IMAGE_OF_LANGUAGE[language]),
      language,
      resources,
      pidsLimit: this.config.limits.pidsLimit,
      labels: { [OWNER_PID_LABEL]: String(process.pid), [ROLE_LABEL]: 'sandbox' },
    };
  }

  execute(input: ExecuteRequestInput, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    try {
      if (this.stopping) throw new ShuttingDownError();
      const req = validateRequest(input, this.config.limits);
      const image = IMAGE_OF_LANGUAGE[req.language];
      // An image still being built (npm start's background build): wait for it, then start over.
      if (this.images.id(image) === undefined) return this.images.whenLoaded(image, req.language).then(() => this.execute(input, options));
      if (options.id !== undefined && (typeof options.id !== 'string' || !EXECUTION_ID_PATTERN.test(options.id))) {
        throw new ValidationError('id', 'must be 1 to 128 letters, digits, _, - or . (not starting with .)');
      }
      if (this.queue.size >= this.config.queue.maxQueued && this.queue.pending >= this.config.queue.concurrency) {
        throw new QueueFullError(this.queue.size);
      }
      return this.queue.add(() => this.run(req, options), { throwOnTimeout: true });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private async run(req: ExecuteRequest, options: ExecuteOptions): Promise<ExecuteResult> {
    const id = options.id ?? randomUUID();
    const isolation = this.isolationOf(req);
    const key = configKey(req.language, req.resources, isolation);
    const spec = this.spec(req.language, req.resources, isolation);
    const owner = options.owner ?? ANONYMOUS;
    this.executions++;
    const msg = this.message(id, req, options);
    if (req.executionId !== undefined || STATEFUL_MODES.has(req.mode)) {
      // A stateful context: the result arrives whole (no output streaming in these modes).
      const { context: _none, ...base } = msg;
      return this.contexts.execute(req, owner, id, { ...base, stream: false, notifyStart: false, progress: false });
    }
    if (req.mode === 'ephemeral') {
      // A never-used container, used once and removed: nothing of one execution meets another.
      const c = await this.fresh.take(key, spec, this.config.pools.ephemeralPoolSize);
      try {
        return await this.runIn(c, msg, options);
      } finally {
        this.remove(c);
      }
    }
    const c = await this.warm.acquire(owner, key, spec);
    try {
      return await this.runIn(c, msg, options);
    } finally {
      this.warm.release(owner, key, c);
    }
  }

  private message(id: string, req: ExecuteRequest, options: ExecuteOptions): ExecMessage {
    const files: Record<string, string> = {};
    for (const [name, content] of Object.entries(req.files)) files[name] = Buffer.from(content).toString('base64');
    const msg: ExecMessage = {
      type: 'exec',
      id,
      language: req.language,
      code: req.code,
      env: req.envVars,
      files,
      stdin: req.stdin === undefined ? '' : Buffer.from(req.stdin).toString('base64'),
      timeoutMs: req.resources.timeoutMs,
      maxOutputBytes: this.config.limits.maxOutputBytes,
      stream: Boolean(options.onOutput),
    };
    // Only what is asked for goes on the wire: the common request stays as it was.
    if (options.interactive) msg.interactive = true;
    if (options.onStart) msg.notifyStart = true;
    if (options.onProgress) msg.progress = true;
    if (req.tty) msg.tty = { cols: req.tty.cols, rows: req.tty.rows };
    return msg;
  }

  private async runIn(c: SandboxContainer, msg: ExecMessage, options: ExecuteOptions): Promise<ExecuteResult> {
    const t0 = performance.now();
    const cpu0 = c.cpu?.read() ?? null;
    let r: AgentResult;
    try {
      r = await c.exec(msg, execHandlers(c, msg.id, options));
    } catch (err) {
      // The sandbox as a whole went down: say why when the kernel or the clock did it.
      const timedOut = err instanceof SandboxError && err.details?.timedOut === true;
      const cpu1 = cpu0 === null ? null : c.cpu!.read();
      const oomKilled = !timedOut && (await c.wasOomKilled());
      await c.destroy();
      if (!timedOut && !oomKilled) throw err;
      return {
        executionId: msg.id,
        stdout: '',
        stderr: timedOut ? 'sandbox stopped: time limit exceeded' : 'sandbox stopped: out of memory',
        exitCode: 137,
        durationMs: performance.now() - t0,
        truncated: false,
        timedOut,
        oomKilled,
        compileError: false,
        usage: { cpuSeconds: cpu1 === null ? 0 : Math.round(Math.max(0, cpu1 - cpu0!) * 1e6) / 1e6, memoryPeakMb: 0 },
      };
    }
    // On the warm path every microsecond shows: build the log record only when it is wanted.
    if (this.log.isLevelEnabled('debug')) {
      this.log.debug({ executionId: msg.id, container: c.id, agentMs: r.durationMs, hostMs: performance.now() - t0 }, 'executed');
    }
    // The container's cgroup counts every process of the execution (a warm container runs one
    // at a time); the program's own rusage is the fallback where the cgroup cannot be read.
    const cpu1 = cpu0 === null ? null : c.cpu!.read();
    const cpuSeconds = cpu1 === null ? r.cpuSeconds : Math.round(Math.max(0, cpu1 - cpu0!) * 1e6) / 1e6;
    return {
      executionId: msg.id,
      stdout: Buffer.from(r.stdout, 'base64').toString('utf8'),
      stderr: Buffer.from(r.stderr, 'base64').toString('utf8'),
      exitCode: r.exitCode,
      durationMs: Math.round((performance.now() - t0) * 1000) / 1000,
      truncated: r.truncated,
      timedOut: r.timedOut,
      oomKilled: r.oomKilled,
      compileError: r.compileError === true,
      usage: { cpuSeconds, memoryPeakMb: r.memoryPeakMb },
    };
  }

  private remove(c: SandboxContainer): void {
    const p = c.destroy().finally(() => this.removals.delete(p));
    this.removals.add(p);
  }

  stats(): EngineStats {
    return {
      running: this.queue.pending,
      queued: this.queue.size,
      freshContainers: this.fresh.size,
      warmContainers: this.warm.size,
      executions: this.executions,
    };
  }

  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.reaper) clearInterval(this.reaper);
    // Work already accepted runs to its end; new work is refused with SHUTTING_DOWN.
    await this.queue.onIdle();
    await Promise.all([this.warm.drain(), this.fresh.drain(), ...this.removals]);
    this.agentSockets?.close();
    if (this.ownState) {
      // A throw-away store: nothing could find these contexts again.
      await this.contexts.purge();
      if (this.ownState.dir) rmSync(this.ownState.dir, { recursive: true, force: true });
    } else {
      this.contexts.detach(); // they keep running for the next operator process
    }
  }

  createSnapshot(owner: Owner, executionId: string): Promise<SnapshotInfo> {
    return this.guard(() => this.contexts.createSnapshot(owner, this.idArg('executionId', executionId)));
  }

  getSnapshot(owner: Owner, snapshotId: string): SnapshotInfo {
    return this.contexts.getSnapshot(owner, snapshotId);
  }

  listSnapshots(owner: Owner): SnapshotInfo[] {
    return this.contexts.listSnapshots(owner);
  }

  deleteSnapshot(owner: Owner, snapshotId: string): Promise<void> {
    return this.guard(() => this.contexts.deleteSnapshot(owner, this.idArg('snapshotId', snapshotId)));
  }

  restoreSnapshot(owner: Owner, snapshotId: string): Promise<RestoreInfo> {
    return this.guard(() => this.contexts.restoreSnapshot(owner, this.idArg('snapshotId', snapshotId)));
  }

  createBranch(owner: Owner, snapshotId: string): Promise<BranchInfo> {
    return this.guard(() => this.contexts.createBranch(owner, this.idArg('snapshotId', snapshotId)));
  }

  mergeBranches(owner: Owner, branchIds: string[], strategy?: MergeStrategy): Promise<MergeInfo> {
    return this.guard(() => this.contexts.mergeBranches(owner, branchIds, strategy));
  }

  snapshotFiles(owner: Owner, snapshotId: string): Buffer {
    return this.contexts.snapshotFiles(owner, this.idArg('snapshotId', snapshotId));
  }

  private idArg(field: string, value: unknown): string {
    if (typeof value !== 'string' || !EXECUTION_ID_PATTERN.test(value)) {
      throw new ValidationError(field, 'must be an id as returned by the API (1 to 128 letters, digits, _, - or .)');
    }
    return value;
  }

  private guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopping) return Promise.reject(new ShuttingDownError());
    try {
      return fn();
    } catch (err) {
      return Promise.reject(err);
    }
  }
}
