import { defineConfig } from 'vitest/config';
import { shared } from './vitest.shared.ts';

// Integration tests: *.int.test.ts, on the real servers started by libs/testing
// (Kafka, OpenBao, moto, embedded PostgreSQL) and the GitLab sandbox.
export default defineConfig({
  ...shared,
  test: {
    include: ['**/*.int.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
