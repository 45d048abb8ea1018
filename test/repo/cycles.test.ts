// No import cycle in the TypeScript sources, type-only imports counted: `npm run check:cycles`
// (madge over src/, the SDK's src/, blueprint/ and chain/ with the project's tsconfig), the
// command a reviewer repeats.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

describe('imports', () => {
  it('form no cycle (madge --circular)', async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile('npm', ['run', '--silent', 'check:cycles', '--', '--json'], { cwd: root, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        // madge exits 1 when it finds cycles: the JSON still says which.
        if (err && !stdout.trim().startsWith('[')) reject(new Error(`madge failed: ${stderr || err.message}`));
        else resolve(stdout);
      }),
    );
    const cycles = JSON.parse(out.slice(out.indexOf('['))) as string[][];
    expect(cycles.map((c) => c.join(' > '))).toEqual([]);
  }, 120_000);
});
