// Persistent instances: long-lived sandboxes a developer works in, with a real sshd inside.
// Their containers outlive the operator process (label faas.role=persistent; the engine's
// orphan sweep leaves them alone) and their records live in the SQLite store, so a restarted
// operator finds them again. All inbound traffic comes through the operator: each TCP
// connection (SSH, exposed URLs, port forwards) is a channel of the instance's relay (mux.ts),
// a `docker exec` into the container; no container port is published on the host.
import { randomBytes } from 'node:crypto';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { SandboxLimits } from '../../config.js';
import { ConflictError, QuotaExceededError, SandboxError } from '@faas/sdk/errors';
import type { InstanceRecord, InstanceStore, StopReason } from '../../store/index.js';
import { findCpuCounter } from '../cgroup.js';
import { DEVBOX, HOST_KEY_FILE, INSTANCE_DB_LABEL, INSTANCE_LABEL, instanceContainerOptions } from './container.js';
import { DevboxImage } from './devbox-image.js';
import { runExec, startExec } from './exec.js';
import { Live } from './live.js';
import { InstanceNetwork } from './network.js';
import { listenSsh, waitForSsh } from './ssh-relay.js';
import type { ExecOptions, RunningExec } from './exec.js';
import { Mux } from './mux.js';
import type { MuxChannel } from './mux.js';
import { makeSshKeyPair } from './ssh-keys.js';
import { checkInstanceSpec } from './spec.js';
import type { InstanceSettings, InstanceSpecInput } from './spec.js';

export interface InstanceManagerDeps {
  docker: Docker;
  store: InstanceStore;
  settings: InstanceSettings;
  limits: SandboxLimits;
  log: Logger;
  /** Called once an instance has stopped (any reason), with its final record: usage is written here. */
  onStopped?: (r: InstanceRecord) => void;
}

export class InstanceManager {
  private readonly live = new Map<string, Live>();
  private readonly network: InstanceNetwork;
  private readonly docker: Docker;
  private readonly store: InstanceStore;
  private readonly settings: InstanceSettings;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private identity = '';
  /** The devbox image, built here on first use when it is missing (devbox-image.ts). */
  readonly image: DevboxImage;
  private closed = false;
  private started: Promise<void> | null = null;

  constructor(private readonly d: InstanceManagerDeps) {
    this.docker = d.docker;
    this.store = d.store;
    this.settings = d.settings;
    this.log = d.log;
    this.network = new InstanceNetwork(d.docker);
    this.image = new DevboxImage({ docker: d.docker, image: d.settings.image, log: d.log, build: d.settings.imageBuild, waitMs: d.settings.imageWaitS * 1000 });
  }

  /**
   * Finds the instances of this database again (after a restart), and starts the ttl / idle
   * clock. Once; every call that acts on an instance waits for it.
   */
  start(): Promise<void> {
    this.started ??= this.recoverAll();
    return this.started;
  }

  private async recoverAll(): Promise<void> {
    this.identity = this.store.identity();
    const records = this.store.live();
    const known = new Set(records.map((r) => r.id));
    // Containers of this database that no record claims (a crash between create and insert).
    const ours = await this.docker.listContainers({ all: true, filters: { label: [`${INSTANCE_DB_LABEL}=${this.identity}`] } });
    for (const c of ours) {
      if (!known.has(c.Labels[INSTANCE_LABEL] ?? '')) await this.docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    }
    for (const r of records) await this.recover(r);
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  private async recover(r: InstanceRecord): Promise<void> {
    let info: Docker.ContainerInspectInfo | null = null;
    if (r.containerId) info = await this.docker.getContainer(r.containerId).inspect().catch(() => null);
    if (!info || !info.State.Running) {
      if (info) await this.docker.getContainer(info.Id).remove({ force: true, v: true }).catch(() => undefined);
      this.finish(r, info ? 'exited' : 'lost', null);
      return;
    }
    const l = new Live(r, this.docker.getContainer(info.Id));
    this.live.set(r.id, l);
    if (info.State.Paused && r.status !== 'paused') {
      r.status = 'paused';
      r.pausedAt = Date.now();
    } else if (!info.State.Paused && r.status === 'paused') {
      r.pausedMs += Date.now() - (r.pausedAt ?? Date.now());
      r.status = 'running';
      r.pausedAt = null;
    }
    l.cpu = findCpuCounter(info.Id);
    await this.listenSsh(l);
    this.store.update(r);
    if (r.status === 'running') void this.mux(l).catch(() => undefined);
    this.log.info({ instance: r.id, status: r.status }, 'instance found again');
  }

  private tick(): void {
    const now = Date.now();
    for (const l of this.live.values()) {
      if (l.stopping) continue;
      const r = l.rec;
      if (now >= r.expiresAt) {
        void this.stop(r.id, 'ttl').catch(() => undefined);
        continue;
      }
      if (r.autoStopS !== null && l.busy === 0 && (l.mux?.openChannels ?? 0) === 0 && l.sshSockets.size === 0) {
        const last = Math.max(l.lastActivity, l.mux?.lastActivity ?? 0);
        if (now - last >= r.autoStopS * 1000) void this.stop(r.id, 'idle').catch(() => undefined);
      }
    }
  }

  /** Starts an instance for a key; resolves once its sshd answers. */
  async create(keyId: string, input: InstanceSpecInput): Promise<InstanceRecord> {
    if (this.closed) throw new SandboxError('the instance manager is closed');
    await this.start();
    const { spec, diskMb, ttl } = checkInstanceSpec(input, this.d.limits, this.settings);
    const res = spec.resources;
    const refuseOverQuota = () => {
      const running = this.store.listByKey(keyId).filter((r) => r.status !== 'stopped').length;
      if (running >= this.settings.maxPerKey) throw new QuotaExceededError('instances', `this key already has ${running} instances (at most ${this.settings.maxPerKey}, FAAS_INSTANCE_MAX_PER_KEY); stop one first`);
    };
    refuseOverQuota(); // before the image: a key over its quota makes the operator build (or wait on) nothing
    await this.image.ready();
    refuseOverQuota(); // again, with no wait before the record below: starts at the same time cannot both pass

    const id = `inst-${randomBytes(8).toString('hex')}`;
    const keys = makeSshKeyPair(`faas-${id}`);
    const now = Date.now();
    const rec: InstanceRecord = {
      id,
      keyId,
      status: 'running',
      language: spec.language,
      image: this.settings.image,
      snapshotId: spec.snapshotId ?? null,
      resources: { cpuCores: res.cpuCores, memoryMb: res.memoryMb, diskGb: res.diskGb, gpuCount: res.gpuCount },
      network: spec.network,
      createdAt: now,
      expiresAt: now + ttl * 1000,
      autoStopS: spec.autoStop === false ? null : spec.autoStop === true ? this.settings.idleTimeoutS : spec.autoStop,
      containerId: null,
      publicKey: keys.publicKey,
      privateKey: keys.privateKey,
      sshPort: null,
      pausedAt: null,
      pausedMs: 0,
      stoppedAt: null,
      stopReason: null,
      cpuSeconds: 0,
    };
    // Recorded first: a crash from here on leaves a record (or a labelled container) to clean up.
    this.store.insert(rec);
    let container: Docker.Container | null = null;
    try {
      if (spec.network) await this.network.ensure();
      container = await this.docker.createContainer(
        instanceContainerOptions({
          id,
          image: this.settings.image,
          language: spec.language,
          cpuCores: res.cpuCores,
          memoryMb: res.memoryMb,
          diskMb,
          pidsLimit: this.settings.pidsLimit,
          network: spec.network,
          publicKey: keys.publicKey,
          dbIdentity: this.identity || this.store.identity(),
        }),
      );
      rec.containerId = container.id;
      this.store.update(rec);
      await container.start();
      const l = new Live(rec, container);
      this.live.set(id, l);
      l.cpu = findCpuCounter(container.id);
      await Promise.all([waitForSsh(l, () => this.mux(l)), this.listenSsh(l)]);
      this.store.update(rec);
      void this.hostKey(id).catch(() => undefined); // read ahead: getSshInfo usually follows
      return { ...rec };
    } catch (err) {
      const l = this.live.get(id);
      this.live.delete(id);
      if (l) this.release(l);
      if (container) await container.remove({ force: true, v: true }).catch(() => undefined);
      rec.privateKey = null;
      this.finish(rec, 'exited', null);
      throw err instanceof SandboxError ? err : new SandboxError(`could not start the instance: ${(err as Error).message}`);
    }
  }

  /** The instance's relay, started when first needed (and again if it went away). Waits out a pause. */
  private async mux(l: Live): Promise<Mux> {
    for (;;) {
      if (l.stopping) throw new ConflictError('status', `instance ${l.rec.id} is stopping`);
      if (l.mux?.alive) return l.mux;
      if (l.rec.status === 'paused') {
        // A paused container cannot start a new exec: the connection waits for resume.
        l.resumed ??= (() => {
          let resolve!: () => void;
          const promise = new Promise<void>((r) => (resolve = r));
          return { promise, resolve };
        })();
        await l.resumed.promise;
        continue;
      }
      if (!l.muxStarting) {
        l.muxStarting = Mux.start(l.container, this.log, () => (l.lastActivity = Date.now()))
          .then((m) => {
            l.mux = m;
            void m.done.then(() => this.onMuxGone(l, m));
            return m;
          })
          .finally(() => (l.muxStarting = null));
      }
      return l.muxStarting;
    }
  }

  /** The relay ended: the operator closed it, or the container is gone (then the instance is). */
  private async onMuxGone(l: Live, m: Mux): Promise<void> {
    if (l.mux === m) l.mux = null;
    if (this.closed || l.stopping) return;
    const info = await l.container.inspect().catch(() => null);
    if (!info || !info.State.Running) await this.stop(l.rec.id, info ? 'exited' : 'lost').catch(() => undefined);
  }

  /** The operator's SSH relay for an instance (ssh-relay.ts): connections reach sshd inside. */
  private listenSsh(l: Live): Promise<void> {
    return listenSsh(l, { host: this.settings.listenHost, portRange: this.settings.portRange }, (id, port) => this.connect(id, port), this.log);
  }

  private liveOf(id: string): Live {
    const l = this.live.get(id);
    if (!l || l.stopping) {
      const r = this.store.get(id);
      throw new ConflictError('status', `instance ${id} is ${r?.status === 'stopped' || !r ? 'stopped' : 'stopping'}`);
    }
    return l;
  }

  get(id: string): InstanceRecord | null {
    const l = this.live.get(id);
    return l ? { ...l.rec } : this.store.get(id);
  }

  list(keyId: string): InstanceRecord[] {
    return this.store.listByKey(keyId).map((r) => (this.live.get(r.id) ? { ...this.live.get(r.id)!.rec } : r));
  }

  /** CPU seconds of the instance's container so far (its cgroup), or at its stop. */
  cpuSeconds(id: string): number {
    const l = this.live.get(id);
    if (!l) return this.store.get(id)?.cpuSeconds ?? 0;
    return l.cpu?.read() ?? l.rec.cpuSeconds;
  }

  /** Marks use (an API call on the instance) for the idle clock. */
  touch(id: string): void {
    const l = this.live.get(id);
    if (l) l.lastActivity = Date.now();
  }

  /** A connection to `port` on the instance's loopback, through its relay. */
  async connect(id: string, port: number): Promise<MuxChannel> {
    await this.start();
    const l = this.liveOf(id);
    l.lastActivity = Date.now();
    const mux = await this.mux(l);
    return mux.open(port);
  }

  /** Round trip through the instance's relay, ms. */
  async ping(id: string): Promise<number> {
    return (await this.mux(this.liveOf(id))).ping();
  }

  private running(id: string): Live {
    const l = this.liveOf(id);
    if (l.rec.status === 'paused') throw new ConflictError('status', `instance ${id} is paused; resume it first`);
    return l;
  }

  /** Runs a command in the instance as the sandbox user, with streams. */
  async startExec(id: string, cmd: string[], o: ExecOptions = {}): Promise<RunningExec> {
    await this.start();
    const l = this.running(id);
    l.busy++;
    l.lastActivity = Date.now();
    try {
      const r = await startExec(l.container, cmd, o);
      void r.done.finally(() => {
        l.busy--;
        l.lastActivity = Date.now();
      });
      return r;
    } catch (err) {
      l.busy--;
      throw err;
    }
  }

  /** Runs a command to its end. */
  async exec(id: string, cmd: string[], o: ExecOptions & { input?: Buffer | string; maxBytes?: number } = {}): ReturnType<typeof runExec> {
    await this.start();
    const l = this.running(id);
    l.busy++;
    l.lastActivity = Date.now();
    try {
      return await runExec(l.container, cmd, o);
    } finally {
      l.busy--;
      l.lastActivity = Date.now();
    }
  }

  /** Freezes every process of the instance (docker pause: the cgroup freezer); memory is kept. */
  async pause(id: string): Promise<InstanceRecord> {
    await this.start();
    const l = this.liveOf(id);
    if (l.rec.status === 'paused') return { ...l.rec };
    // An exec being set up while the freezer runs has its `runc init` frozen half-way in the
    // container's cgroup, and docker then hangs on unpause and stop. The instance's own execs
    // (the host-key read-ahead started with it, the relay) finish starting first.
    await l.hostKey?.catch(() => null);
    await l.muxStarting?.catch(() => null);
    // runc's cgroup-v1 freezer gives up ("unable to freeze") when the freeze does not settle at
    // once on a busy machine; it thaws again, so another try is safe.
    for (let attempt = 1; ; attempt++) {
      try {
        await l.container.pause();
        break;
      } catch (err) {
        if (attempt >= 5 || !/unable to freeze/.test((err as Error).message)) throw new SandboxError(`could not pause instance ${id}: ${(err as Error).message}`);
      }
    }
    l.rec.status = 'paused';
    l.rec.pausedAt = Date.now();
    this.store.update(l.rec);
    return { ...l.rec };
  }

  async resume(id: string): Promise<InstanceRecord> {
    await this.start();
    const l = this.liveOf(id);
    if (l.rec.status !== 'paused') return { ...l.rec };
    await l.container.unpause();
    l.rec.pausedMs += Date.now() - (l.rec.pausedAt ?? Date.now());
    l.rec.pausedAt = null;
    l.rec.status = 'running';
    l.lastActivity = Date.now();
    this.store.update(l.rec);
    const w = l.resumed;
    l.resumed = null;
    w?.resolve();
    return { ...l.rec };
  }

  /** Hands out the instance's private key once; null when it was already taken. */
  takePrivateKey(id: string): string | null {
    const l = this.live.get(id);
    const key = this.store.takePrivateKey(id);
    if (l) l.rec.privateKey = null;
    return key;
  }

  /** A new key pair (the old key stops working); the private key is returned this once. */
  async rotateKey(id: string): Promise<string> {
    await this.start();
    const l = this.running(id);
    const keys = makeSshKeyPair(`faas-${id}`);
    // start-sshd replaces the keys of the running sshd (read at the next login).
    const r = await runExec(l.container, [`${DEVBOX}/start-sshd`, '-'], { input: `${keys.publicKey}\n` });
    if (r.exitCode !== 0) throw new SandboxError(`could not replace the instance's key: ${r.stderr.trim()}`);
    this.store.setPublicKey(id, keys.publicKey);
    l.rec.publicKey = keys.publicKey;
    l.rec.privateKey = null;
    return keys.privateKey;
  }

  /** Stops an instance and removes everything of it (container, relay, SSH port). Idempotent. */
  async stop(id: string, reason: StopReason = 'user'): Promise<InstanceRecord> {
    await this.start();
    const l = this.live.get(id);
    if (!l) {
      const r = this.store.get(id);
      if (!r) throw new ConflictError('id', `no instance ${id}`);
      return r;
    }
    l.stopping ??= (async () => {
      this.release(l);
      const cpu = l.cpu?.read() ?? null;
      await l.container.remove({ force: true, v: true }).catch((err: Error & { statusCode?: number }) => {
        if (err.statusCode !== 404) this.log.warn({ err: err.message, instance: id }, 'instance container removal failed');
      });
      l.cpu?.close();
      this.live.delete(id);
      this.finish(l.rec, reason, cpu);
      l.resumed?.resolve();
    })();
    await l.stopping;
    return this.store.get(id)!;
  }

  /** Lets go of the operator's side of an instance (relay, SSH port); the container is not touched. */
  private release(l: Live): void {
    l.sshServer?.close();
    for (const s of l.sshSockets) s.destroy();
    l.sshSockets.clear();
    l.sshServer = null;
    l.mux?.close();
    l.mux = null;
  }

  private finish(r: InstanceRecord, reason: StopReason, cpu: number | null): void {
    const now = Date.now();
    if (r.status === 'paused' && r.pausedAt) r.pausedMs += now - r.pausedAt;
    r.status = 'stopped';
    r.pausedAt = null;
    r.stoppedAt = now;
    r.stopReason = reason;
    r.privateKey = null;
    if (cpu !== null) r.cpuSeconds = cpu;
    this.store.update(r);
    this.store.removeExposures(r.id);
    try {
      this.d.onStopped?.({ ...r });
    } catch (err) {
      this.log.error({ err: (err as Error).message, instance: r.id }, 'onStopped failed');
    }
  }

  /** The instance's sshd host key (`ssh-ed25519 AAAA…`), for the client's known_hosts; null when unreadable. */
  async hostKey(id: string): Promise<string | null> {
    await this.start();
    const l = this.running(id);
    l.hostKey ??= runExec(l.container, ['cat', HOST_KEY_FILE]).then(
      (r) => {
        const line = r.exitCode === 0 ? r.stdout.toString().trim().split(/\s+/).slice(0, 2).join(' ') : '';
        return line.startsWith('ssh-') ? line : null;
      },
      () => null,
    );
    const key = await l.hostKey;
    if (key === null) l.hostKey = null; // try again next time
    return key;
  }

  /** The port the operator relays SSH on for an instance. */
  async sshPort(id: string): Promise<number> {
    await this.start();
    const p = this.liveOf(id).rec.sshPort;
    if (!p) throw new SandboxError(`instance ${id} has no SSH relay`);
    return p;
  }

  /** Stops the clock and lets go of every relay and SSH port; the instances keep running. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.image.close();
    await this.started?.catch(() => undefined);
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.live.values()].map((l) => l.stopping ?? Promise.resolve()));
    for (const l of this.live.values()) {
      this.release(l);
      l.cpu?.close();
      this.store.update(l.rec);
    }
    this.live.clear();
  }
}

