// Container pools. FreshPool keeps never-used containers started per configuration, so a
// request finds one ready; WarmPool hands them to owners and keeps each owner's containers
// for reuse — never across owners. Both shrink when idle and drain on shutdown.
import PQueue from 'p-queue';
import type { Logger } from 'pino';
import { RateLimitError, ShuttingDownError } from '@faas/sdk/errors';
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
    /** `maxUnpinned`: containers kept ready (or starting) in all for configurations not in `pinned` (the prewarmed ones). */
    private readonly bounds: { pinned?: ReadonlySet<string>; maxUnpinned?: number } = {},
  ) {}

  /** Containers ready or starting for configurations that are not pinned. */
  private unpinned(): number {
    let n = 0;
    for (const [k, e] of this.entries) if (!this.bounds.pinned?.has(k)) n += e.ready.length + e.filling;
    return n;
  }

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
      void c.destroy(); // its channel went down: the container (maybe still running) goes too
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
    const bounded = this.bounds.maxUnpinned !== undefined && !this.bounds.pinned?.has(key);
    while (e.ready.length + e.filling < e.target) {
      if (bounded && this.unpinned() >= this.bounds.maxUnpinned!) break; // refilled later, when another is taken
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

/**
 * Warm containers per (owner, configuration), up to `maxPerOwner` each and `maxPerOwnerTotal`
 * over all of an owner's configurations: past that, the owner's least recently used idle
 * container of another configuration makes room; when none is idle, a configuration the
 * owner holds nothing of is refused (429: one will be free when an execution ends).
 */
export class WarmPool {
  private readonly sets = new Map<string, OwnerSet>();
  private closed = false;

  constructor(
    private readonly fresh: FreshPool,
    private readonly opts: { maxPerOwner: number; poolTarget: number; maxPerOwnerTotal?: number },
  ) {}

  /** The owner's sets (all configurations). */
  private setsOf(owner: string): OwnerSet[] {
    const prefix = `${owner}\u0000`;
    const out: OwnerSet[] = [];
    for (const [k, s] of this.sets) if (k.startsWith(prefix)) out.push(s);
    return out;
  }

  /** Containers an owner holds or is getting, over all configurations. */
  ownerTotal(owner: string): number {
    let n = 0;
    for (const s of this.setsOf(owner)) n += s.all.size + s.reserved;
    return n;
  }

  /** Removes the owner's least recently used idle container (any configuration); false when none is idle. */
  private evictIdle(owner: string): boolean {
    let best: { s: OwnerSet; c: SandboxContainer } | null = null;
    for (const s of this.setsOf(owner)) for (const c of s.idle) if (!best || c.lastUsed < best.c.lastUsed) best = { s, c };
    if (!best) return false;
    best.s.idle.splice(best.s.idle.indexOf(best.c), 1);
    best.s.all.delete(best.c);
    void best.c.destroy();
    return true;
  }

  private refuse(owner: string): RateLimitError {
    const max = this.opts.maxPerOwnerTotal ?? Infinity;
    return new RateLimitError(new Date(Date.now() + 1000), `This key holds ${this.ownerTotal(owner)} warm containers, all busy (at most ${max} over all configurations, FAAS_KEY_MAX_WARM_CONTAINERS); retry when an execution ends.`);
  }

  /** Throws (429) now when an acquire for this owner and configuration would be refused. */
  admit(owner: string, key: string): void {
    const s = this.sets.get(`${owner}\u0000${key}`);
    if (s && s.all.size + s.reserved > 0) return; // reuses or waits for one of its own
    if (this.ownerTotal(owner) < (this.opts.maxPerOwnerTotal ?? Infinity)) return;
    if (this.setsOf(owner).some((o) => o.idle.length > 0)) return; // one would make room
    throw this.refuse(owner);
  }

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
      const roomHere = s.all.size + s.reserved < this.opts.maxPerOwner;
      const roomForOwner = roomHere && (this.ownerTotal(owner) < (this.opts.maxPerOwnerTotal ?? Infinity) || this.evictIdle(owner));
      if (roomHere && !roomForOwner && s.all.size + s.reserved === 0) throw this.refuse(owner);
      if (roomForOwner) {
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
