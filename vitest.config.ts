import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests (and examples' tests) import `switchyard/*` from the sources, not from a built dist/:
// each subpath export maps to its `switchyard-source` file. Other packages resolve as usual.
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  exports: Record<string, string | { 'switchyard-source'?: string }>;
};
const alias = Object.entries(pkg.exports).flatMap(([subpath, target]) =>
  typeof target === 'object' && target['switchyard-source']
    ? [{ find: new RegExp(`^switchyard${subpath.slice(1).replace(/[/.]/g, '\\$&')}$`), replacement: fileURLToPath(new URL(target['switchyard-source'], import.meta.url)) }]
    : [],
);

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
    reporters: ['verbose'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Broker-backed suites share real servers; files run in parallel on separate topics.
    fileParallelism: true,
  },
});
