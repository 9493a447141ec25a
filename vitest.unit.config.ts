import { defineConfig } from 'vitest/config';
import { shared } from './vitest.shared.ts';

// Unit tests: *.test.ts beside the source; no sockets to real servers.
export default defineConfig({
  ...shared,
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.int.test.ts', '**/*.e2e.test.ts', '**/dist/**'],
    testTimeout: 20_000,
    pool: 'forks',
  },
});
