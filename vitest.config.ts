import { defineConfig } from 'vitest/config';

// Tests (and examples' tests) import `switchyard/*` from the sources, not from a built dist/.
const conditions = ['switchyard-source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['switchyard-source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    reporters: ['verbose'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Broker-backed suites share real servers; files run in parallel on separate topics.
    fileParallelism: true,
  },
});
