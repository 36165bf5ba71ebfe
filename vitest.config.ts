import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    reporters: ['verbose'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Broker-backed suites share real servers; files run in parallel on separate topics.
    fileParallelism: true,
  },
});
