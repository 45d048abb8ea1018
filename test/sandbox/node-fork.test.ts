// The node runtime image's fork addon (agent/node-fork/fork.c), on its own: a node
// started the way a javascript context's is (V8's background work off) forks, the copy has one
// thread, and both halves go on with their own memory. Real image, real container.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { runtimeImageTag } from '../../src/sandbox/index.js';

const SCRIPT = `
const a = require('/opt/faas/node-fork/faas_fork.node');
const fs = require('fs');
globalThis.data = Array.from({ length: 200000 }, (_, i) => ({ i }));
let counter = 1;
const pid = a.forkInto([], [], [], 2);
if (pid === 0) {
  process.on('exit', (c) => a.exitNow(c ?? 0));
  counter = 100; data.length = 5;
  setTimeout(() => console.log('copy', counter, data.length, fs.readdirSync('/proc/self/task').length, a.getPid() !== process.pid), 20);
} else {
  setTimeout(() => { console.log('origin', counter, data.length, node24()); }, 200);
}
function node24() { return process.versions.node.split('.')[0]; }
`;

describe('the fork addon in the node image', () => {
  it('a single-threaded node forks; the copy has one thread and its own memory, the origin keeps its own', () => {
    const out = execFileSync('docker', [
      'run', '--rm', '--network', 'none', '--user', '65534:65534', runtimeImageTag('node'),
      'node', '--single-threaded', '--v8-pool-size=0', '--disable-sigusr1', '-e', SCRIPT,
    ], { encoding: 'utf8', timeout: 60_000 });
    const lines = out.trim().split('\n').sort();
    expect(lines).toEqual(['copy 100 5 1 true', 'origin 1 200000 24']);
  });
});
