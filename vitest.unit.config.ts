import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The fast, Docker-free run `npm test` does first: unit tests beside the pure logic they test
// (src/**/*.test.ts, the SDK's), and the repository checks (test/repo: no import cycle, the
// README's Layout section matching the tree; test/layout: file sizes and copied blocks). No global set-up:
// nothing here touches Docker or a chain.
const SOURCE_CONDITION = '--conditions=@faas/source';
if (!process.env.NODE_OPTIONS?.includes(SOURCE_CONDITION)) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${SOURCE_CONDITION}`.trim();

export default defineConfig({
  ssr: { resolve: { conditions: ['@faas/source', ...defaultServerConditions] } },
  test: {
    include: ['src/**/*.test.ts', 'sdk/typescript/src/**/*.test.ts', 'test/repo/**/*.test.ts', 'test/layout/**/*.test.ts'],
    testTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test/artifacts/vitest-unit.json' },
  },
});
