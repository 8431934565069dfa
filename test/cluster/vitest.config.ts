import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { clusterSuiteEnv } from './env.ts';

// `npm run test:cluster`: the suite against a real Temporal cluster on PostgreSQL (test/cluster/).
// It lives here rather than beside vitest.config.ts so that tsconfig's `test` entry types and lints it.
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/cluster/**/*.test.ts'],
    // The Temporal SDK's native runtime is safer in processes than in worker threads.
    pool: 'forks',
    globalSetup: ['test/cluster/globalSetup.ts'],
    fileParallelism: false,
    env: { ...clusterSuiteEnv },
    testTimeout: 600_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
