import { defineConfig } from 'vitest/config';
import { shared } from './vitest.shared.ts';

// End-to-end suites under test/: whole processes, real servers.
export default defineConfig({
  ...shared,
  test: {
    include: ['test/**/*.e2e.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
