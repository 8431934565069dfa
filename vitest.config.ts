import { defineConfig } from 'vitest/config';
import { testEnv } from './test/support/env.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Temporal SDK's native runtime is safer in processes than in worker threads.
    pool: 'forks',
    globalSetup: ['test/globalSetup.ts'],
    // One file at a time: some tests stop servers, kill workers or pause mining on the shared stack.
    fileParallelism: false,
    env: { ...testEnv },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
