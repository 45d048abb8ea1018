#!/usr/bin/env node
// `faas-operator`: the operator CLI (src/operator/cli.ts) as an installed command. It runs the
// TypeScript sources through tsx (a dependency of this package), in this process, so it works
// the same from a clone (`npx faas-operator`, `./bin/faas-operator.js`), after
// `npm install -g <clone>` and through a symlink: paths resolve from this file's real place,
// not from the working directory.
import module from 'node:module';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

if (typeof module.register !== 'function') {
  process.stderr.write(`faas-operator: Node ${process.versions.node} cannot load TypeScript in-process; Node 20.6 or newer is needed\n`);
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import('../src/operator/cli.ts');
