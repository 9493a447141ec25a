#!/usr/bin/env node
// The `jit` command: runs the compiled CLI (`npm run build` makes dist/), from any directory.
// `jit serve <mode>` starts a service; from source, use `npm run jit -- <command>` instead.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/apps/jit/jit.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(`jit: ${cli.pathname} is missing; run \`npm run build\` first (or \`npm run jit -- <command>\` from source)\n`);
  process.exit(2);
}
await import(cli.href);
