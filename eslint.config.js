// ESLint (flat config) with typescript-eslint, as Temporal's samples set it up: floating promises
// are errors everywhere, and workflow code may import no Node built-in and no activity code.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.filter((m) => !m.startsWith('_')).flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', '.tools/**', '.build/**', 'contracts/build/**', 'common/payloadConverter.js', 'eslint.config.js'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // "Forgetting to await Activities and Workflow APIs is bad" (samples-typescript).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    // Workflow code and what it imports run in Temporal's deterministic sandbox.
    files: [
      'workflows/**/*.ts',
      'common/asset.ts',
      'common/decision.ts',
      'common/specSchema.ts',
      'common/mint.ts',
      'common/searchAttributes.ts',
      'common/dna.ts',
      'common/collectionSpec.ts',
      'common/collection.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code runs in a deterministic sandbox: no Node built-ins (do it in an activity).' })),
          patterns: [
            {
              group: ['**/activities/*', '**/activities/**'],
              allowTypeImports: true,
              message: 'Workflows import activity types only (proxyActivities<Activities>), never activity code.',
            },
            {
              group: ['**/client/*', '**/client/**', '**/workers/*', '**/scripts/*'],
              message: 'Imports run downward: workflow code never imports clients, workers or scripts.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/client/*', '**/client/**', '**/workers/*', '**/scripts/*'],
              message: 'Imports run downward: activities never import clients, workers or scripts.',
            },
            { group: ['**/workflows/*'], allowTypeImports: true, message: 'Activities do not import workflow code (shared vocabulary lives in common/).' },
          ],
        },
      ],
    },
  },
);
