// Persistent instances, measured through FaaSClient and the gateway as a user meets them:
// start → SSH-ready (a command run over SSH with ssh2 through the operator's relay), pause and
// resume (the SDK's calls; the Docker freezer underneath), and expose → first byte of an HTTP
// answer through the exposed URL. Every instance it starts is stopped before it returns.
import { Client } from 'ssh2';
import { createGateway, startApiServer } from '../src/api/index.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { createSandbox } from '../src/sandbox/index.js';
import { FaaSClient } from '@faas/sdk';
import { JobStore, openDatabase } from '../src/store/index.js';
import { pct, r2, say, sleep } from './stats.js';
import { useLocalhostNames } from '../test/localhost.js';

function sshRun(info: { host: string; port: number; username: string }, privateKey: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('ready', () =>
      c.exec(command, (err, s) => {
        if (err) return reject(err);
        let out = '';
        s.on('data', (b: Buffer) => (out += b.toString()));
        s.on('close', () => {
          c.end();
          resolve(out);
        });
      }),
    );
    c.on('error', reject);
    c.connect({ host: info.host, port: info.port, username: info.username, privateKey, readyTimeout: 30_000 });
  });
}

/** Resolves with the time from `t0` to the first byte of a GET's answer. */
async function firstByte(url: string, headers: Record<string, string>, t0: number): Promise<number> {
  const res = await fetch(url, { headers });
  const reader = res.body!.getReader();
  await reader.read();
  const t = performance.now() - t0;
  await reader.cancel();
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return t;
}

export async function benchInstances(o: { starts?: number; pauses?: number; exposes?: number; paceMs?: number } = {}): Promise<Record<string, number>> {
  // Exposed URLs are host names under localhost (one origin each): resolve them as a browser does.
  useLocalhostNames();
  const starts = o.starts ?? 10;
  const pauses = o.pauses ?? 30;
  const exposes = o.exposes ?? 20;
  const pace = o.paceMs ?? 100;
  say('\ninstances: start → SSH-ready, pause, resume, expose → first byte (through FaaSClient and the gateway)');
  const config = loadConfig({ FAAS_PREWARM_LANGUAGES: '', FAAS_RATE_LIMIT_REQUESTS: '1000000', FAAS_INSTANCE_MAX_PER_KEY: '64' });
  const log = createLogger('warn');
  const sandbox = createSandbox(config, { log });
  const { engine } = sandbox;
  await engine.start();
  const db = openDatabase(':memory:');
  const gateway = createGateway(config, sandbox, db, log);
  await gateway.instanceManager.start();
  const server = await startApiServer({ log, outputs: new JobStore(db), gateway }, { port: 0, bodyLimit: config.api.bodyLimitBytes });
  const { key } = gateway.keys.create('bench');
  const sdk = new FaaSClient({ endpoint: server.url, apiKey: key, timeout: 120_000 });
  const out: Record<string, number> = {};
  const put = (name: string, samples: number[]) => {
    out[`${name}_p50_ms`] = r2(pct(samples, 50));
    out[`${name}_p95_ms`] = r2(pct(samples, 95));
    say(`  ${name.padEnd(36)} p50 ${pct(samples, 50).toFixed(2).padStart(8)} ms   p95 ${pct(samples, 95).toFixed(2).padStart(8)} ms   (n=${samples.length})`);
  };
  try {
    // Start → SSH-ready: the start call, the SSH info, and a command over SSH.
    const ready: number[] = [];
    const startOnly: number[] = [];
    for (let i = 0; i < starts + 1; i++) {
      const t0 = performance.now();
      const inst = await sdk.instances.start({ resources: { diskGb: 0.25 } });
      const t1 = performance.now();
      const ssh = await sdk.instances.getSshInfo(inst.id);
      const echoed = await sshRun(ssh, ssh.privateKey!, 'echo ready');
      const t2 = performance.now();
      if (echoed !== 'ready\n') throw new Error(`ssh: got ${JSON.stringify(echoed)}`);
      if (i > 0) {
        // The first start warms the image's pages: not counted.
        ready.push(t2 - t0);
        startOnly.push(t1 - t0);
      }
      await sdk.instances.stop(inst.id);
      await sleep(pace);
    }
    put('instance_ssh_ready', ready);
    put('instance_start_call', startOnly);

    const inst = await sdk.instances.start({ resources: { diskGb: 0.25 } });
    try {
      // Pause and resume, with a process at work inside (the freezer has something to freeze).
      await sdk.instances.exec(inst.id, { command: "setsid nohup sh -c 'i=0; while :; do i=$((i+1)); echo $i > /sandbox/tmp/count; sleep 0.01; done' >/dev/null 2>&1 & echo $! > /sandbox/tmp/count.pid" });
      const pause: number[] = [];
      const resume: number[] = [];
      const pauseDirect: number[] = [];
      const resumeDirect: number[] = [];
      for (let i = 0; i < pauses; i++) {
        let t = performance.now();
        await sdk.instances.pause(inst.id);
        pause.push(performance.now() - t);
        await sleep(pace / 2);
        t = performance.now();
        await sdk.instances.resume(inst.id);
        resume.push(performance.now() - t);
        await sleep(pace / 2);
        t = performance.now();
        await gateway.instanceManager.pause(inst.id);
        pauseDirect.push(performance.now() - t);
        await sleep(pace / 2);
        t = performance.now();
        await gateway.instanceManager.resume(inst.id);
        resumeDirect.push(performance.now() - t);
        await sleep(pace / 2);
      }
      // The baseline in the same run: Docker's own pause / unpause of the same container.
      const raw = sandbox.docker.getContainer(gateway.instanceManager.get(inst.id)!.containerId!);
      const dockerPause: number[] = [];
      const dockerUnpause: number[] = [];
      for (let i = 0; i < pauses; i++) {
        let t = performance.now();
        await raw.pause();
        dockerPause.push(performance.now() - t);
        await sleep(pace / 2);
        t = performance.now();
        await raw.unpause();
        dockerUnpause.push(performance.now() - t);
        await sleep(pace / 2);
      }
      put('instance_pause', pause);
      put('instance_resume', resume);
      put('instance_pause_manager', pauseDirect);
      put('instance_resume_manager', resumeDirect);
      put('docker_pause', dockerPause);
      put('docker_unpause', dockerUnpause);
      out.instance_pause_vs_docker_ratio = r2(pct(pause, 50) / pct(dockerPause, 50));
      out.instance_resume_vs_docker_ratio = r2(pct(resume, 50) / pct(dockerUnpause, 50));
      say(`  instance_pause_vs_docker_ratio       ${out.instance_pause_vs_docker_ratio} (SDK pause p50 / docker pause p50)`);
      say(`  instance_resume_vs_docker_ratio      ${out.instance_resume_vs_docker_ratio} (SDK resume p50 / docker unpause p50)`);
      await sdk.instances.exec(inst.id, { command: 'kill $(cat /sandbox/tmp/count.pid)' }).catch(() => undefined);

      // Expose → first byte through the exposed URL (a new name each time: a fresh exposure).
      await sdk.instances.exec(inst.id, {
        command: 'mkdir -p ~/site && echo hi > ~/site/index.html && (setsid nohup python3 -m http.server 8000 --bind 127.0.0.1 --directory ~/site >/dev/null 2>&1 &) && for i in $(seq 100); do python3 -c "import socket; socket.create_connection((\'127.0.0.1\', 8000))" 2>/dev/null && break; sleep 0.05; done',
      });
      const expose: number[] = [];
      const warmGet: number[] = [];
      for (let i = 0; i < exposes + 1; i++) {
        const t0 = performance.now();
        const e = await sdk.instances.expose(inst.id, { name: `web${i}`, port: 8000 });
        const t = await firstByte(`${e.url}index.html`, { authorization: `Bearer ${key}` }, t0);
        const t1 = performance.now();
        await firstByte(`${e.url}index.html?faas_token=${e.token}`, {}, t1);
        if (i > 0) {
          expose.push(t);
          warmGet.push(performance.now() - t1);
        }
        await sleep(pace);
      }
      put('expose_first_byte', expose);
      put('exposed_get', warmGet);
    } finally {
      await sdk.instances.stop(inst.id);
    }
  } finally {
    for (const r of gateway.instanceManager.list(gateway.keys.list()[0]?.id ?? '')) if (r.status !== 'stopped') await gateway.instanceManager.stop(r.id).catch(() => undefined);
    await server.close();
    await gateway.instanceManager.close();
    await engine.shutdown();
    db.close();
  }
  return out;
}

// `npx tsx bench/instances.ts` runs it alone.
if (process.argv[1]?.endsWith('bench/instances.ts')) {
  benchInstances().then(
    (r) => say(JSON.stringify(r)),
    (err: Error) => {
      say(`bench failed: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}
