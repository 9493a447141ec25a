// Shared vitest settings: tsconfig paths resolve the @jit/* libs straight from source.
import tsconfigPaths from 'vite-tsconfig-paths';
import type { UserConfig } from 'vitest/config';

export const shared: UserConfig = {
  plugins: [tsconfigPaths({ root: import.meta.dirname })],
};
