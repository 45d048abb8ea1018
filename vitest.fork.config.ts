import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// The workspace package @faas/sdk runs from its TypeScript sources (the "@faas/source"
// condition of its exports map): in the test files, and in the processes they start.
const SOURCE_CONDITION = '--conditions=@faas/source';
if (!process.env.NODE_OPTIONS?.includes(SOURCE_CONDITION)) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${SOURCE_CONDITION}`.trim();

// `npm run test:fork`: the chain checks against a chopsticks fork of a live Tangle endpoint
// (test/fork/*.fork.ts — not named *.test.ts, so plain `npm test` never picks them up).
if (!process.env.FAAS_FORK_ENDPOINT) {
  throw new Error(
    'npm run test:fork needs FAAS_FORK_ENDPOINT, the live Tangle endpoint to fork with chopsticks ' +
      '(e.g. FAAS_FORK_ENDPOINT=wss://<a Tangle RPC node> npm run test:fork; FAAS_FORK_BLOCK=<number> forks at that block)',
  );
}

export default defineConfig({
  ssr: { resolve: { conditions: ['@faas/source', ...defaultServerConditions] } },
  test: {
    include: ['test/fork/**/*.fork.ts'],
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    // A fork reads the live state over the network as it goes: slower than genesis mode.
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
