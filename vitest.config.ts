import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The workspace package @faas/sdk runs from its TypeScript sources (the "@faas/source"
// condition of its exports map): in the test files, and in the processes they start.
const SOURCE_CONDITION = '--conditions=@faas/source';
if (!process.env.NODE_OPTIONS?.includes(SOURCE_CONDITION)) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${SOURCE_CONDITION}`.trim();

// Tests run against the real Docker engine; one file at a time keeps a 2-core machine's
// timing honest and the engines from competing for it. The Docker-free unit tests and the
// repository checks run before, on their own (vitest.unit.config.ts).
export default defineConfig({
  ssr: { resolve: { conditions: ['@faas/source', ...defaultServerConditions] } },
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/repo/**', 'test/layout/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test/artifacts/vitest.json' },
  },
});
