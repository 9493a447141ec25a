// Shared vitest settings: tsconfig paths resolve the @jit/* libs straight from source.
import type { UserConfig } from 'vitest/config';

export const shared: UserConfig = {
  resolve: { tsconfigPaths: true } as UserConfig['resolve'],
};
