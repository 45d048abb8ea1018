// The devbox image persistent instances run, built by the operator when it is missing (issue 14):
// `npm start` no longer builds it up front (minutes of debootstrap and npm installs the main job
// does not need), so the first instance start builds it, or `prepare()` does in the background
// once the main job serves. The build is scripts/build-devbox.ts in a child process of its own
// (its output in a log file, its progress lines logged); one build at a time in this process,
// and the script's lock keeps builds of several processes apart. A build that fails, or one
// still under way when an instance start has waited `waitMs`, answers RESOURCE_UNAVAILABLE
// naming the image, where the build is, and its log: never a hang.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { ResourceUnavailableError } from '@faas/sdk/errors';
import type { ErrorBody } from '@faas/sdk/errors';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BUILD_SCRIPT = join(root, 'scripts/build-devbox.ts');

export type DevboxImageState = 'unknown' | 'ready' | 'building' | 'failed';

export interface DevboxImageStatus {
  image: string;
  state: DevboxImageState;
  /** The build's latest progress line (e.g. `debootstrap: installing packages (80 s)`). */
  step: string | null;
  /** When the build under way (or the last one) started, ms since the epoch. */
  startedAt: number | null;
  /** The build's output. */
  log: string;
  /** Why the last build failed. */
  error: string | null;
}

export interface DevboxImageOptions {
  docker: Docker;
  image: string;
  log: Logger;
  /** Whether a missing image is built here (FAAS_INSTANCE_IMAGE_BUILD); else a start is refused. */
  build: boolean;
  /** How long an instance start waits for a build under way before answering with its progress. */
  waitMs: number;
  /** Where the build's log goes (default `.faas/logs`, beside the operator's database). */
  logDir?: string;
}

/** Build output names host paths (caches, the checkout, temp dirs): a tenant sees their last part only. */
export function withoutPaths(text: string): string {
  return text.replace(/(?:\/[\w.@+-]+){2,}\/?/g, (path) => `…/${basename(path)}`);
}

/** RESOURCE_UNAVAILABLE about the devbox image (field `image`); the build's state goes along in `details`. */
export class DevboxImageUnavailableError extends ResourceUnavailableError {
  readonly build: Pick<DevboxImageStatus, 'image' | 'state' | 'step' | 'log'>;
  constructor(message: string, s: DevboxImageStatus) {
    super('image', withoutPaths(message));
    // The log's file name only: a tenant learns nothing of the operator's file system.
    this.build = { image: s.image, state: s.state, step: s.step === null ? null : withoutPaths(s.step), log: basename(s.log) };
  }
  override toJSON(): ErrorBody {
    const body = super.toJSON();
    return { ...body, details: { ...body.details, ...this.build } };
  }
}

/** After a failed build, instance starts answer its failure for this long before building again. */
export const FAILED_RETRY_MS = 10 * 60_000;

export class DevboxImage {
  private state: DevboxImageState = 'unknown';
  private step: string | null = null;
  private startedAt: number | null = null;
  private error: string | null = null;
  /** When the last build failed: instance starts do not start another one for FAILED_RETRY_MS. */
  private failedAt = 0;
  private building: Promise<void> | null = null;
  private child: ChildProcess | null = null;
  private readonly logFile: string;
  private readonly listeners = new Set<(s: DevboxImageStatus) => void>();

  constructor(private readonly o: DevboxImageOptions) {
    // Kept with the operator's own files (not a temp dir): the log of a failed build outlives it.
    this.logFile = resolve(o.logDir ?? '.faas/logs', `devbox-build-${o.image.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`);
  }

  status(): DevboxImageStatus {
    return { image: this.o.image, state: this.state, step: this.step, startedAt: this.startedAt, log: this.logFile, error: this.error };
  }

  /** Called with the status on every progress line and when a build ends. */
  onProgress(fn: (s: DevboxImageStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private async present(): Promise<boolean> {
    try {
      await this.o.docker.getImage(this.o.image).inspect();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The background build of a serving operator: runs the build script (which keeps an image
   * whose content label matches, in a second or two, and builds one that is missing or out of
   * date). Resolves when it ends; never rejects (the failure is in `status()` and the log).
   */
  prepare(): Promise<void> {
    if (!this.o.build) return Promise.resolve();
    return this.startBuild().catch(() => undefined);
  }

  /**
   * What an instance start waits for: the image is there. A missing image is built (first use);
   * the start waits up to `waitMs` for a build under way, then answers RESOURCE_UNAVAILABLE with
   * its progress (start again later); a failed build answers RESOURCE_UNAVAILABLE with its log.
   */
  async ready(): Promise<void> {
    if (this.state === 'ready') return;
    // An image that is there serves even while a background build brings it up to date.
    if (await this.present()) {
      if (!this.building) this.state = 'ready';
      return;
    }
    if (!this.building && this.state === 'failed' && Date.now() - this.failedAt < FAILED_RETRY_MS) {
      // Any key could otherwise keep a failing build (debootstrap, on the host) running by
      // starting instances in a loop: the failure is answered as it is until the cool-down ends.
      const s = this.status();
      const wait = Math.ceil((FAILED_RETRY_MS - (Date.now() - this.failedAt)) / 60_000);
      throw new DevboxImageUnavailableError(`the instance image ${s.image} could not be built (${s.error ?? 'see the log'}); the operator tries again in ${wait} min. The build's log on the operator: ${basename(s.log)}`, s);
    }
    if (!this.building) {
      if (!this.o.build) {
        throw new DevboxImageUnavailableError(`the instance image ${this.o.image} is missing on this operator and it does not build it (FAAS_INSTANCE_IMAGE_BUILD=off); build it with \`node --import tsx scripts/build-devbox.ts\``, this.status());
      }
      this.o.log.warn({ image: this.o.image, log: this.logFile }, 'the instance image is missing: building it now (first instance start)');
    }
    const build = this.startBuild();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<'waiting'>((res) => (timer = setTimeout(() => res('waiting'), this.o.waitMs)));
    try {
      const outcome = await Promise.race([build.then(() => 'built' as const), waited]);
      if (outcome === 'built') return;
    } catch {
      const s = this.status();
      throw new DevboxImageUnavailableError(`the instance image ${s.image} could not be built (${s.error ?? 'see the log'}); the build's log on the operator: ${basename(s.log)}`, s);
    } finally {
      clearTimeout(timer);
    }
    const s = this.status();
    const secs = Math.round((Date.now() - (s.startedAt ?? Date.now())) / 1000);
    throw new DevboxImageUnavailableError(
      `the instance image ${s.image} is being built on this operator (first use; ${secs} s so far, about 5 minutes on a fresh machine${s.step ? `; now: ${s.step}` : ''}); start the instance again in a minute. The build's log on the operator: ${basename(s.log)}`,
      s,
    );
  }

  /** The build under way, or a new one. */
  private startBuild(): Promise<void> {
    if (this.building) return this.building;
    this.state = 'building';
    this.step = null;
    this.error = null;
    this.startedAt = Date.now();
    this.building = this.runBuild().then(
      () => {
        this.state = 'ready';
        this.building = null;
        this.o.log.info({ image: this.o.image, seconds: this.seconds() }, 'instance image ready');
        this.emit();
      },
      (err: Error) => {
        this.state = 'failed';
        this.failedAt = Date.now();
        this.error = err.message;
        this.building = null;
        this.o.log.error({ image: this.o.image, err: err.message, log: this.logFile }, 'instance image build failed');
        this.emit();
        throw err;
      },
    );
    return this.building;
  }

  private seconds(): number {
    return Math.round((Date.now() - (this.startedAt ?? Date.now())) / 1000);
  }

  private emit(): void {
    const s = this.status();
    for (const fn of this.listeners) fn(s);
  }

  private runBuild(): Promise<void> {
    mkdirSync(dirname(this.logFile), { recursive: true });
    const out = createWriteStream(this.logFile, { flags: 'w' });
    // Not the outer npm run's npm_* settings: the script runs npm installs of its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
    this.o.log.info({ image: this.o.image, log: this.logFile }, 'building the instance image');
    return new Promise<void>((resolvePromise, reject) => {
      // Its own process group: close() ends the script and the tools it runs (debootstrap, npm).
      const child = spawn(process.execPath, ['--import', 'tsx', BUILD_SCRIPT], {
        cwd: root,
        env: { ...env, FAAS_DEVBOX_IMAGE: this.o.image },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      this.child = child;
      let tail = '';
      const onData = (b: Buffer) => {
        out.write(b);
        const text = b.toString();
        tail = (tail + text).slice(-400);
        for (const line of text.split('\n')) {
          const step = /^\[images\] (.*\S)/.exec(line)?.[1];
          if (!step) continue;
          this.step = step.trim();
          this.o.log.info({ image: this.o.image, step: this.step, seconds: this.seconds() }, 'instance image build');
          this.emit();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('error', (err) => {
        this.child = null;
        out.end();
        reject(err);
      });
      child.on('close', (code, signal) => {
        this.child = null;
        out.end();
        if (code === 0) resolvePromise();
        else reject(new Error(`${this.step ?? tail.trim().split('\n').pop() ?? 'the build'} (the build exited ${code ?? signal})`));
      });
    });
  }

  /** Ends a build under way (the operator is stopping); the script's lock is freed with it. */
  close(): void {
    const pid = this.child?.pid;
    if (pid) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}
