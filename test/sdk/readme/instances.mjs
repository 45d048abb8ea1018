// README: Instance Management (start, lifecycle, development environments, files, ports).
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaaSClient } from '@faas/sdk';

const client = new FaaSClient({ apiKey: process.env.FAAS_API_KEY, timeout: 180000 }); // README: the client of the Quick Start

// README: a snapshot to start from, for the placeholder 'snap_123'
const snap = await client.createSnapshot((await client.execute({ code: 'open("notes.txt", "w").write("hi")', language: 'python', mode: 'checkpointed' })).executionId);

// Start Instance: as written it asks for a GPU (and more memory and disk than this operator
// gives one instance): a typed error naming the field.
try {
  const instance = await client.instances.start({
    snapshotId: snap.id, // README: 'snap_123'
    resources: {
      cpuCores: 4,
      memoryMb: 8192,
      diskGb: 50,
      gpuCount: 1,
    },
    ttl: 3600, // 1 hour
    autoStop: true,
  });
  console.log('SNIPPET start-gpu started', instance.id);
} catch (error) {
  console.log('SNIPPET start-gpu', error.code, error.message);
}

const { id: instanceId } = await client.instances.start({ ttl: 3600, autoStop: true }); // README: an instance this operator can give
try {
  // Manage Lifecycle
  // Pause instance (checkpoint state)
  await client.instances.pause(instanceId);

  // Resume instance
  await client.instances.resume(instanceId);
  console.log('SNIPPET lifecycle', (await client.instances.get(instanceId)).status);

  // Development Environments
  // Launch VSCode server
  const vscode = await client.instances.launchVSCode(instanceId);
  console.log(`VSCode: ${vscode.url}`);

  // Launch Jupyter notebook
  const jupyter = await client.instances.launchJupyter(instanceId);
  console.log(`Jupyter: ${jupyter.url}`);
  console.log(`Token: ${jupyter.token}`);

  // Launch VNC desktop
  const vnc = await client.instances.launchVNC(instanceId);
  console.log(`VNC: ${vnc.url}`);
  console.log(`Password: ${vnc.password}`);
  console.log('SNIPPET devenv', `${vscode}` === vscode.url, Boolean(jupyter.token), Boolean(vnc.password));

  // File Operations
  // README: run where ./project exists
  process.chdir(mkdtempSync(join(tmpdir(), 'readme-files-')));
  mkdirSync('project/node_modules', { recursive: true });
  writeFileSync('project/index.js', 'console.log("hi")\n');
  writeFileSync('project/node_modules/skip.js', '');
  // Copy files to instance
  await client.instances.copyFiles(instanceId, {
    direction: 'upload',
    localPath: './project',
    remotePath: '/workspace',
  });

  // Sync files bidirectionally
  await client.instances.syncFiles(instanceId, {
    localDir: './project',
    remoteDir: '/workspace',
    exclude: ['node_modules', '.git'],
    bidirectional: true,
  });
  const listed = await client.instances.exec(instanceId, { command: 'cat /workspace/index.js' });
  console.log('SNIPPET files', JSON.stringify(listed.stdout), readFileSync('project/index.js', 'utf8') === listed.stdout);

  // Port Forwarding
  // README: services on ports 3000 and 8080 of the instance
  await client.instances.exec(instanceId, { command: 'mkdir -p /tmp/site && echo served > /tmp/site/index.html && cd /tmp/site && (nohup python3 -m http.server 3000 >/dev/null 2>&1 &) && (nohup python3 -m http.server 8080 >/dev/null 2>&1 &)' });
  // Expose HTTP service
  const url = await client.instances.expose(instanceId, {
    name: 'api',
    port: 8080,
  });

  // Create port forward
  const forward = await client.instances.createPortForward(instanceId, {
    localPort: 0, // README: 8080; 0 takes a free port (the test machine runs other gateways)
    remotePort: 3000,
  });
  let page = '';
  for (let i = 0; i < 50 && !page; i++) page = await fetch(`http://127.0.0.1:${forward.localPort}/`).then((r) => (r.ok ? r.text() : ''), () => new Promise((r) => setTimeout(() => r(''), 200)));
  console.log('SNIPPET ports', `${url}`, JSON.stringify(page));
  await forward.close();
} finally {
  // Stop instance
  await client.instances.stop(instanceId);
}
