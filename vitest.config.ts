// Two test projects:
//  - unit: colocated *.test.ts and process-level tests under test/ that need no control plane;
//  - cluster: tests under test/cluster/ that run against the real control plane in a box
//    (started once per run by the global setup; LIGHTRANK_TEST_KUBECONFIG points them at
//    an existing cluster instead).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: ['node_modules/**', 'dist/**', 'test/cluster/**'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          // The control plane has 2 cores to share with the tests: keep files sequential.
          fileParallelism: false,
          testTimeout: 120_000,
        },
      },
    ],
  },
});
