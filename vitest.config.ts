import { defineConfig } from 'vitest/config';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';
import { testEnv } from './test/support/env.ts';

/** The default order, except test/secrets.test.ts last: it sweeps what every other file left behind. */
class SecretsSweepLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const isSweep = (file: TestSpecification) => file.moduleId.replace(/\\/g, '/').endsWith('/test/secrets.test.ts');
    return [...sorted.filter((f) => !isSweep(f)), ...sorted.filter(isSweep)];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The cluster suite has its own stack and config (npm run test:cluster, test/cluster/vitest.config.ts).
    exclude: ['test/cluster/**', 'node_modules/**'],
    // The Temporal SDK's native runtime is safer in processes than in worker threads.
    pool: 'forks',
    globalSetup: ['test/globalSetup.ts'],
    // One file at a time: some tests stop servers, kill workers or pause mining on the shared stack.
    fileParallelism: false,
    sequence: { sequencer: SecretsSweepLast },
    env: { ...testEnv },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
