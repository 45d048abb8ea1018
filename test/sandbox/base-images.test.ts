// The base root filesystems (scripts/build-images.ts: mmdebstrap's faas-base, the faas-base-go
// layer) carry what each language's image needs, and `npm start`'s engine that starts with the
// first job's image only takes the others as they are built. Against the images of this
// checkout's FAAS_IMAGE_TAG, which `npm test`'s set-up built.
import { execFile } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { DockerSandboxEngine } from '../../src/sandbox/index.js';
import { baseImageTag, runtimeImageTag } from '../../src/sandbox/index.js';
import { imageIds, makeEngine, ourContainers } from '../helpers.js';

/** Runs `script` with sh in a throw-away container of `image` (no network); its stdout. */
function inImage(image: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('docker', ['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', image, '-c', script], (err, stdout, stderr) =>
      err ? reject(new Error(`${image}: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
}

describe('the base images', () => {
  it('faas-base has python3, bash with tput, ps and the CA certificates; no go, no Debian node, no manuals', async () => {
    const out = await inImage(
      baseImageTag('base'),
      [
        'python3 -c "import json, ssl, sqlite3; print(\'python\', ssl.OPENSSL_VERSION.split()[0])"',
        'bash -c \'echo bash ${BASH_VERSINFO[0]}\'',
        'echo tput $(TERM=xterm tput cols)',
        'ps -o comm= -p $$ | sed "s/^/ps /"',
        'test -s /etc/ssl/certs/ca-certificates.crt && echo certificates',
        'command -v go nodejs tsc || echo no-go-no-node',
        'echo manuals $(find /usr/share/man /usr/share/doc -type f ! -name copyright 2>/dev/null | wc -l)',
        'command -v apt-get >/dev/null && echo apt',
      ].join('; '),
    );
    expect(out.trim().split('\n')).toEqual(['python OpenSSL', 'bash 5', 'tput 80', 'ps sh', 'certificates', 'no-go-no-node', 'manuals 0', 'apt']);
  });

  it('faas-base-go adds the go toolchain to it', async () => {
    const out = await inImage(baseImageTag('base-go'), 'go version; python3 -c "print(1 + 1)"');
    expect(out).toMatch(/^go version go1\.\d+/);
    expect(out.trim().split('\n')[1]).toBe('2');
  });

  it('the node image runs its own Node.js on faas-base (no Debian nodejs there)', async () => {
    const out = await inImage(runtimeImageTag('node'), '/usr/bin/node -e "console.log(process.version)"; readlink -f /usr/bin/node');
    expect(out.trim().split('\n')).toEqual([expect.stringMatching(/^v\d+\./), '/opt/faas-runtime/node']);
  });
});

describe('an engine started with the first job’s image only', () => {
  let engine: DockerSandboxEngine | undefined;
  const imagesBefore = imageIds();

  afterEach(async () => {
    await engine?.shutdown();
    engine = undefined;
  });

  afterAll(async () => {
    expect(await ourContainers()).toEqual([]);
    expect(await imageIds()).toEqual(await imagesBefore);
  });

  it('answers RESOURCE_UNAVAILABLE for a language whose image it has not taken yet, and runs it once added', async () => {
    engine = makeEngine();
    await engine.start(['python']);
    const py = await engine.execute({ code: 'print(6 * 7)', language: 'python', mode: 'cached' });
    expect(py.stdout).toBe('42\n');
    await expect(engine.execute({ code: 'echo hi', language: 'bash', mode: 'cached' })).rejects.toMatchObject({
      code: 'RESOURCE_UNAVAILABLE',
      field: 'language',
      message: expect.stringContaining(runtimeImageTag('bash')),
    });
    expect(() => engine!.imageHash('bash')).toThrow(/not known to this engine yet/);
    await engine.addImages(['bash']);
    const sh = await engine.execute({ code: 'echo hi from $0', language: 'bash', mode: 'cached' });
    expect(sh.stdout).toMatch(/^hi from /);
    expect(engine.imageHash('bash')).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it('lets an execution in a language whose image is announced as coming wait for it (a chain job during npm start’s background build), and refuses it at once when the build is given up', async () => {
    engine = makeEngine();
    await engine.start(['python']);
    engine.images.expect(['bash', 'go']);
    let settled = false;
    const waiting = engine.execute({ code: 'echo waited', language: 'bash', mode: 'cached' }).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 500));
    expect(settled).toBe(false); // neither refused nor run: waiting for its image
    await engine.addImages(['bash']);
    expect((await waiting).stdout).toBe('waited\n');
    const goWaits = engine.execute({ code: 'package main\nfunc main() {}', language: 'go', mode: 'cached' });
    engine.images.giveUp(['go']);
    await expect(goWaits).rejects.toMatchObject({ code: 'RESOURCE_UNAVAILABLE', field: 'language' });
  });
});
