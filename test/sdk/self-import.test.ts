// Issue 14: inside the repository the operator package imports by its own name, as a script
// or an example in the repo would (`import … from 'tangle-faas'`), through package.json's
// "exports"; the SDK's classes it re-exports are the same objects @faas/sdk gives.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe("import from 'tangle-faas' inside the repository", () => {
  it('gives the operator package’s public face, with the SDK re-exported from @faas/sdk', () => {
    const script = [
      "const op = await import('tangle-faas');",
      "const sdk = await import('@faas/sdk');",
      'console.log(JSON.stringify({ client: op.FaaSClient === sdk.FaaSClient, engine: typeof op.DockerSandboxEngine, config: typeof op.loadConfig }));',
    ].join('\n');
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ client: true, engine: 'function', config: 'function' });
  });
});
