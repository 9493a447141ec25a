// `jit` CLI entry: `npm run jit -- <command>` from source, `bin/jit.mjs` or `node dist/apps/jit/jit.js`
// from the build; `jit serve <mode>` runs a service (the image's entry point).
import { runCli } from './cli/program';
import { serve } from './serve';

const code = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  env: process.env,
  serve,
});
process.exitCode = code;
