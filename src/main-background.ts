// What `npm start` does after its first verified result (issue 14: the first result must not
// wait for it): the runtime images the first job did not need (`npm start`'s set-up builds only
// the first job's, scripts/build-images.ts --first-job) are built in a child process, handed to
// the engine, and greeted with one hello world per language; then the devbox image of
// persistent instances is prepared. Progress lines say what is ready and what is still building.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FaaSError } from '@faas/sdk/errors';
import { LANGUAGES, runtimeImageTag } from './sandbox/index.js';
import type { DevboxImage, DockerSandboxEngine, Language, RuntimeImage } from './sandbox/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_SCRIPT = join(root, 'scripts/build-images.ts');
const out = (s: string) => process.stdout.write(`${s}\n`);
const secondsSince = (t: number) => ((performance.now() - t) / 1000).toFixed(0);

const HELLO: Record<Language, string> = {
  python: 'import sys; print(f"hello from python {sys.version.split()[0]}")',
  javascript: 'console.log(`hello from javascript (node ${process.version})`)',
  typescript: 'const greet = (who: string): string => `hello from ${who}`;\nconsole.log(greet("typescript"));',
  bash: 'echo "hello from bash $BASH_VERSION"',
  go: 'package main\n\nimport (\n\t"fmt"\n\t"runtime"\n)\n\nfunc main() { fmt.Println("hello from go", runtime.Version()) }\n',
};

/**
 * Builds every runtime image (those already up to date take a second) in a child process of its
 * own group, its `[images]` progress lines printed as they come; resolves when it succeeded.
 * `stops` gets a step that ends it when `npm start` is stopped mid-build.
 */
function buildRuntimeImages(stops: Array<() => Promise<void>>): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BUILD_SCRIPT], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    stops.push(async () => {
      if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    });
    let tail = '';
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (b: Buffer) => {
        const text = b.toString();
        tail = (tail + text).slice(-2000);
        for (const line of text.split('\n')) if (/^\[images\] /.test(line)) out(`  ${line.trimEnd()}`);
      });
    }
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolvePromise() : reject(new Error(`scripts/build-images.ts exited ${code ?? signal}: ${tail.trim().split('\n').pop() ?? ''}`))));
  });
}

/** One hello world per language, each with its time (cached mode: the warm pools' path). */
export async function helloWorlds(engine: DockerSandboxEngine, languages: readonly Language[] = LANGUAGES): Promise<void> {
  out('\nthe engine, one hello world per language (cached mode):');
  for (const language of languages) {
    const t = performance.now();
    try {
      const r = await engine.execute({ code: HELLO[language], language, mode: 'cached' }, { owner: 'demo' });
      out(`  ${language.padEnd(11)} ${(performance.now() - t).toFixed(1).padStart(7)} ms  ${(r.stdout || r.stderr).trim()}`);
    } catch (err) {
      out(`  ${language.padEnd(11)} failed: ${err instanceof FaaSError ? `${err.code}: ${err.message}` : String(err)}`);
    }
  }
}

/**
 * After the first result: the `later` runtime images, the hello worlds, then the devbox image.
 * Never throws (a failed build is printed; the languages whose images are there keep working).
 */
export function finishInBackground(o: { engine: DockerSandboxEngine; later: readonly RuntimeImage[]; devbox: DevboxImage | null; stops: Array<() => Promise<void>> }): void {
  let stopped = false;
  o.stops.push(async () => {
    stopped = true;
  });
  void (async () => {
    if (o.later.length > 0) {
      const t = performance.now();
      out(`\nbuilding the other runtime images in the background: ${o.later.map(runtimeImageTag).join(', ')} (executions in their languages wait for them)`);
      try {
        await buildRuntimeImages(o.stops);
        if (stopped) return;
        await o.engine.addImages(o.later);
        out(`all runtime images ready (${secondsSince(t)} s after the first result): every language runs`);
      } catch (err) {
        o.engine.images.giveUp(o.later);
        if (stopped) return; // the build was ended with npm start
        out(`the other runtime images could not be built (${(err as Error).message}); run \`npm run setup-host\` and start again`);
        return;
      }
    }
    if (stopped) return;
    await helloWorlds(o.engine);
    if (!stopped) prepareDevboxInBackground(o.devbox);
  })();
}

/**
 * The devbox image of persistent instances, built (or brought up to date) in the background,
 * so the first result never waits for it (issue 14). An instance started before it is ready
 * waits for this build or answers with its progress.
 */
function prepareDevboxInBackground(image: DevboxImage | null): void {
  if (!image) return;
  const s = image.status();
  out(`\npersistent instances: checking the devbox image ${s.image} in the background (a first build takes about 5 minutes; log: ${s.log})`);
  const t = performance.now();
  void image.prepare().then(() => {
    const end = image.status();
    if (end.state === 'ready') out(`devbox image ${end.image} ready (${secondsSince(t)} s): persistent instances can start`);
    else if (end.state === 'failed') out(`devbox image ${end.image} could not be built (${end.error}); log: ${end.log}. Instances will try again on their first start.`);
  });
}
