// `jit` CLI entry: `npm run jit -- <command>` or `bin/jit`.
import { runCli } from './cli/program';

const code = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  env: process.env,
});
process.exitCode = code;
