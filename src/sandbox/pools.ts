// Container pools. FreshPool keeps never-used containers started per configuration, so a
// request finds one ready; WarmPool hands them to owners and keeps each owner's containers
// for reuse — never across owners. Both shrink when idle and drain on shutdown.
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { ShuttingDownError } from '../errors.js';
import type { SandboxContainer } from './container.js';
import type { ContainerSpec } from './policy.js';

export type ContainerFactory = (spec: ContainerSpec) => Promise<SandboxContainer>;

interface FreshEntry {
  spec: ContainerSpec;
  ready: SandboxContainer[];
  filling: number;
  target: number;
  lastWanted: number;
}

/** Started containers that have never run anything, per configuration key. */
export class FreshPool {
  private readonly entries = new Map<string, FreshEntry>();
  // Container starts are CPU-heavy; on-demand starts go before background refills.
  private readonly starts = new PQueue({ concurrency: 2 });
  private closed = false;

  constructor(
    private readonly factory: ContainerFactory,
    private readonly log: Logger,
  ) {}

  /** Keeps `target` containers of this configuration ready from now on; resolves once they are. */
  async ensure(key: string, spec: ContainerSpec, target: number): Promise<void> {
    const e = this.entry(key, spec);
    e.target = Math.max(e.target, target);
    this.refill(key);
    await this.starts.onIdle();
  }

  /** A fresh container: from the pool when one is ready, otherwise started now. */
  async take(key: string, spec: ContainerSpec, target: number): Promise<SandboxContainer> {
    const e = this.entry(key, spec);
    e.lastWanted = Date.now();
    e.target = Math.max(e.target, target);
    let c: SandboxContainer | undefined;
    while ((c = e.ready.shift())) {
      if (c.alive) break;
    }
    this.refill(key);
    if (c) return c;
    return this.starts.add(() => this.factory(spec), { priority: 10 }) as Promise<SandboxContainer>;
  }

  private entry(key: string, spec: ContainerSpec): FreshEntry {
    let e = this.entries.get(key);
    if (!e) {
      e = { spec, ready: [], filling: 0, target: 0, lastWanted: Date.now() };
      this.entries.set(key, e);
    }
    return e;
  }

  private refill(key: string): void {
    const e = this.entries.get(key);
    if (!e || this.closed) return;
    while (e.ready.length + e.filling < e.target) {
      e.filling++;
      void this.starts
        .add(
          async () => {
            const c = await this.factory(e.spec);
            // Ready after the pool closed or was dropped: removed within this task, so that
            // drain (which waits for the running tasks) also waits for the removal.
            if (this.closed || this.entries.get(key) !== e) await c.destroy();
            else e.ready.push(c);
          },
          { priority: 0 },
        )
        .catch((err: Error) => this.log.warn({ err: err.message, key }, 'pool refill failed'))
        .finally(() => {
          e.filling--;
        });
    }
  }

  /** Drops pools nobody asked for within `idleMs` (prewarmed keys are kept). */
  async shrink(idleMs: number, keep: ReadonlySet<string>): Promise<void> {
    const now = Date.now();
    const gone: Promise<void>[] = [];
    for (const [key, e] of this.entries) {
      if (keep.has(key) || now - e.lastWanted < idleMs) continue;
      this.entries.delete(key);
      gone.push(...e.ready.map((c) => c.destroy()));
    }
    await Promise.all(gone);
  }

  get size(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.ready.length;
    return n;
  }

  async drain(): Promise<void> {
    this.closed = true;
    this.starts.clear();
    await this.starts.onIdle(); // refills that were running have pooled or removed theirs
    const all = [...this.entries.values()].flatMap((e) => e.ready);
    this.entries.clear();
    await Promise.all(all.map((c) => c.destroy()));
  }
}

interface OwnerSet {
  idle: SandboxContainer[];
  all: Set<SandboxContainer>;
  reserved: number;
  waiters: Array<(c: SandboxContainer | null) => void>;
}

/** Warm containers per (owner, configuration), up to `maxPerOwner` each. */
export class WarmPool {
  private readonly sets = new Map<string, OwnerSet>();
  private closed = false;

  constructor(
    private readonly fresh: FreshPool,
    private readonly opts: { maxPerOwner: number; poolTarget: number },
  ) {}

  private setOf(owner: string, key: string): OwnerSet {
    const k = `${owner}\u0000${key}`;
    let s = this.sets.get(k);
    if (!s) {
      s = { idle: [], all: new Set(), reserved: 0, waiters: [] };
      this.sets.set(k, s);
    }
    return s;
  }

  /** A container of this owner and configuration, waiting if the owner is at its cap. */
  async acquire(owner: string, key: string, spec: ContainerSpec): Promise<SandboxContainer> {
    const s = this.setOf(owner, key);
    for (;;) {
      if (this.closed) throw new ShuttingDownError();
      let c: SandboxContainer | undefined;
      while ((c = s.idle.pop())) {
        if (c.alive) return c;
        s.all.delete(c);
      }
      if (s.all.size + s.reserved < this.opts.maxPerOwner) {
        s.reserved++;
        try {
          const fresh = await this.fresh.take(key, spec, this.opts.poolTarget);
          s.all.add(fresh);
          return fresh;
        } finally {
          s.reserved--;
        }
      }
      const next = await new Promise<SandboxContainer | null>((resolve) => s.waiters.push(resolve));
      if (next) return next;
    }
  }

  /** Gives a container back after an execution; a dead one frees its slot. */
  release(owner: string, key: string, c: SandboxContainer): void {
    const s = this.setOf(owner, key);
    if (!c.alive || this.closed) {
      s.all.delete(c);
      void c.destroy();
      s.waiters.shift()?.(null); // a slot is free: let a waiter start one
      return;
    }
    const waiter = s.waiters.shift();
    if (waiter) waiter(c);
    else s.idle.push(c);
  }

  /** Removes owners' containers idle for `idleMs` or more. */
  async shrink(idleMs: number): Promise<void> {
    const now = Date.now();
    const gone: Promise<void>[] = [];
    for (const [k, s] of this.sets) {
      const keep: SandboxContainer[] = [];
      for (const c of s.idle) {
        if (now - c.lastUsed >= idleMs || !c.alive) {
          s.all.delete(c);
          gone.push(c.destroy());
        } else keep.push(c);
      }
      s.idle = keep;
      if (s.all.size === 0 && s.reserved === 0 && s.waiters.length === 0) this.sets.delete(k);
    }
    await Promise.all(gone);
  }

  get size(): number {
    let n = 0;
    for (const s of this.sets.values()) n += s.all.size;
    return n;
  }

  async drain(): Promise<void> {
    this.closed = true;
    const all = [...this.sets.values()].flatMap((s) => {
      for (const w of s.waiters) w(null);
      return [...s.all];
    });
    this.sets.clear();
    await Promise.all(all.map((c) => c.destroy()));
  }
}
