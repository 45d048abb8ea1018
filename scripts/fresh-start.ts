// `node --import tsx scripts/fresh-start.ts [--keep-base] [--wait-devbox] [--time-host-packages]`: how long `npm start`
// takes on a fresh machine (issue 14): from the state right after `npm ci` (this checkout's
// images removed) to the main job's first verified result. Not part of `npm test` or
// `npm run bench` (it removes images and starts the whole stack); run it by hand.
//
// What it removes first: every image of this checkout's FAAS_IMAGE_TAG (which must not be
// `latest`: those are shared): the runtime images `faas-<image>:<tag>`, the bases
// `faas-base-go:<tag>` and `faas-base:<tag>` (kept with --keep-base), and the devbox image
// `faas-devbox:<tag>` (the run's FAAS_INSTANCE_IMAGE), so all of them are built inside the
// measured time as on a fresh machine. Dockerfile steps run without Docker's build cache
// (FAAS_IMAGES_NO_CACHE=1). What a fresh machine has to install first (Docker itself, runsc,
// mmdebstrap) is not in this figure: --time-host-packages measures it afterwards, as
// scripts/setup-host.sh installs them, in a throw-away container of the new base (a Debian
// minbase with python3, like a fresh host; apt's network from the container). Starting dockerd
// is not in it.
// After the first result it also waits for what `npm start` does in the background: the other
// runtime images and the hello world of every language; --wait-devbox also for the devbox
// image (its root filesystem image and npm installs are cached on the host and kept: shared).
//
// Prints `fresh_start_to_first_result_s` and the split, and writes them to
// bench/results/fresh-start.json (flat metric → number, like bench/results/latest.json).
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RUNTIME_IMAGES, baseImageTag, runtimeImageTag, runtimeImageTagSuffix } from '../src/sandbox/index.js';
import { docker, imageInfo, run } from './image-tools.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
for (const a of args) if (!['--keep-base', '--wait-devbox', '--time-host-packages'].includes(a)) throw new Error(`unknown option ${a}`);
const say = (s: string) => process.stdout.write(`[fresh-start] ${s}\n`);
const secs = (ms: number) => Math.round(ms / 100) / 10;

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function remove(tag: string): Promise<void> {
  if (!(await imageInfo(tag))) return;
  await docker.getImage(tag).remove({ force: true });
  say(`removed ${tag}`);
}

/**
 * Milestones of `npm start`'s output, in order: the line that marks each, and its name in the
 * results. Up to `first_result` they are the way to the first result; the rest is what follows
 * in the background. `base` is there only when the base was built.
 */
const MILESTONES: Array<[RegExp, string]> = [
  [/^\[images\] faas-base:\S+ ready in/, 'base'],
  [/^\[images\] images up to date/, 'setup_host'],
  [/^starting the sandbox engine/, 'load_stack'],
  [/^sandbox engine ready/, 'engine_started'],
  [/^local Tangle node/, 'chain_and_operator'],
  [/^first job through the chain: .*verified true/, 'first_result'],
  [/^all runtime images ready/, 'other_images'],
  [/^ {2}go\s/, 'hello_worlds'],
];

/** The apt steps scripts/setup-host.sh runs on a fresh host, each timed (ms) inside a container. */
const HOST_PACKAGE_STEPS: Array<[string, string]> = [
  ['apt_update', 'apt-get update'],
  ['docker_io', 'apt-get install -y docker.io'],
  ['runsc', 'apt-get install -y runsc'],
  ['mmdebstrap', 'apt-get install -y --no-install-recommends mmdebstrap'],
];

/** Times HOST_PACKAGE_STEPS in a throw-away container of `image`; seconds per step. */
async function timeHostPackages(image: string): Promise<Record<string, number>> {
  // The base's own dpkg/apt settings (no docs, unsafe I/O) are removed first: a host has none.
  const script = [
    'set -e; export DEBIAN_FRONTEND=noninteractive',
    'rm -f /etc/dpkg/dpkg.cfg.d/99mmdebstrap /etc/apt/apt.conf.d/99mmdebstrap',
    ...HOST_PACKAGE_STEPS.map(([name, cmd]) => `s=$(date +%s%N); ${cmd} >/dev/null 2>&1; echo "step ${name} $(( ($(date +%s%N) - s) / 1000000 ))"`),
  ].join('\n');
  const out = await run('docker', ['run', '--rm', '--name', `fresh-start-host-packages-${process.pid}`, image, 'bash', '-c', script]);
  const times: Record<string, number> = {};
  for (const m of out.matchAll(/^step (\w+) (\d+)$/gm)) times[m[1]!] = secs(Number(m[2]));
  if (Object.keys(times).length !== HOST_PACKAGE_STEPS.length) throw new Error(`the host package steps did not all run:\n${out}`);
  return times;
}

async function main(): Promise<void> {
  const tag = runtimeImageTagSuffix();
  if (tag === 'latest') throw new Error('set FAAS_IMAGE_TAG to a tag of this checkout: the `latest` images are shared and are not removed here');
  const devbox = `faas-devbox:${tag}`;
  const results: Record<string, number> = {};

  const keepBase = args.has('--keep-base');
  say(`removing this checkout's images (tag ${tag})${keepBase ? '; its bases are kept (--keep-base)' : ', its bases included'}`);
  for (const image of RUNTIME_IMAGES) await remove(runtimeImageTag(image));
  await remove(devbox);
  if (!keepBase) for (const base of ['base-go', 'base'] as const) await remove(baseImageTag(base));
  results.fresh_start_base_kept = keepBase ? 1 : 0;

  const [apiPort, chainPort] = [await freePort(), await freePort()];
  const env = { ...process.env, FAAS_API_PORT: String(apiPort), FAAS_CHAIN_PORT: String(chainPort), FAAS_INSTANCE_IMAGE: devbox, FAAS_IMAGES_NO_CACHE: '1' };
  say(`npm start (API port ${apiPort}, chain port ${chainPort}, devbox image ${devbox})`);
  // The machine's load when it starts and ends: the figure depends on what else runs.
  results.fresh_start_load_1m_at_start = Math.round(loadavg()[0]! * 10) / 10;
  const t0 = Date.now();
  const child = spawn('npm', ['start'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const at: Record<string, number> = {};
  let devboxDone = false;
  let stopping = false;
  const finished = new Promise<void>((res, rej) => {
    const onLine = (line: string) => {
      if (stopping) return; // what npm start says while it is being stopped (e.g. an interrupted devbox build)
      const t = Date.now() - t0;
      process.stdout.write(`  ${String(secs(t)).padStart(6)} s | ${line}\n`);
      for (const [re, name] of MILESTONES) if (!(name in at) && re.test(line)) at[name] = t;
      if (/^devbox image .* (ready|could not be built)/.test(line)) {
        at.devbox = t;
        devboxDone = true;
      }
      if (/^the other runtime images could not be built/.test(line)) rej(new Error(line));
      if ('hello_worlds' in at && (!args.has('--wait-devbox') || devboxDone)) res();
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buf = '';
      stream.on('data', (b: Buffer) => {
        buf += b.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) onLine(l);
      });
    }
    child.on('close', (code) => rej(new Error(`npm start exited ${code} before its first verified result and the hello worlds`)));
  });
  const limit = setTimeout(() => child.kill('SIGKILL'), 20 * 60_000);
  try {
    await finished;
  } finally {
    stopping = true;
    clearTimeout(limit);
    try {
      process.kill(-child.pid!, 'SIGINT');
    } catch {
      /* gone */
    }
  }
  await new Promise((r) => child.once('close', r));

  results.fresh_start_load_1m_at_end = Math.round(loadavg()[0]! * 10) / 10;
  results.fresh_start_to_first_result_s = secs(at.first_result!);
  if (at.hello_worlds !== undefined) results.fresh_start_all_languages_ready_s = secs(at.hello_worlds);
  // The split: each milestone's time since the one before it.
  let prev = 0;
  for (const [, name] of MILESTONES) {
    if (!(name in at)) continue;
    results[`fresh_start_${name}_s`] = secs(at[name]! - prev);
    prev = at[name]!;
  }
  if (at.devbox !== undefined) results.fresh_start_devbox_ready_s = secs(at.devbox);
  if (args.has('--time-host-packages')) {
    say(`timing the host packages a fresh machine installs first (in a container of ${baseImageTag('base')})`);
    const times = await timeHostPackages(baseImageTag('base'));
    let total = 0;
    for (const [name, t] of Object.entries(times)) {
      results[`fresh_machine_${name}_s`] = t;
      total += t;
    }
    results.fresh_machine_host_packages_s = Math.round(total * 10) / 10;
    // A sum of two measurements, not one run: dockerd's start is in neither.
    results.fresh_machine_to_first_result_estimate_s = Math.round((total + results.fresh_start_to_first_result_s) * 10) / 10;
  }
  say('results (each `fresh_start_<step>_s` is the time since the step before it):');
  for (const [k, v] of Object.entries(results)) say(`  ${k.padEnd(40)} ${v}`);
  const verdict = results.fresh_start_to_first_result_s < 180 ? 'within' : 'OVER';
  say(`fresh_start_to_first_result_s ${results.fresh_start_to_first_result_s} (${verdict} the 180 s target${keepBase ? '; bases kept' : '; bases built inside it'})`);
  if (results.fresh_machine_to_first_result_estimate_s !== undefined) {
    say(`a fresh machine: ${results.fresh_machine_host_packages_s} s of host packages first, so about ${results.fresh_machine_to_first_result_estimate_s} s to the first result (a sum of two measurements, dockerd's start not in it)`);
  }
  const dir = join(root, 'bench/results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fresh-start.json'), JSON.stringify(results, null, 2) + '\n');
  say('wrote bench/results/fresh-start.json');
}

main().catch((err: Error) => {
  process.stderr.write(`[fresh-start] failed: ${err.message}\n`);
  process.exit(1);
});
