#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, from any directory.
import { register } from 'tsx/esm/api';
register({ tsconfig: new URL('../tsconfig.json', import.meta.url).pathname });
await import('../apps/jit/src/cli.ts');
