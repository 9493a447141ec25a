// `npm run sandbox -- --seed <file> --port <n>`: run the sandbox on 127.0.0.1 until SIGINT/SIGTERM.
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '@jit/observability';
import { JitError } from '@jit/errors';
import { loadSeedFile } from './seed';
import { DEFAULT_GITLAB_VERSION, startSandbox } from './sandbox';

function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be an integer 0-65535');
  return n;
}

const program = new Command()
  .name('sandbox')
  .description('A stand-in GitLab (REST v4 + webhooks) for tests and demos')
  .option('--seed <file>', 'seed YAML (users, groups, projects)')
  .option('--port <n>', 'port to listen on (0 = any free port)', portArg, 0)
  .option('--instance-url <url>', 'URL the sandbox calls itself in web_url and X-Gitlab-Instance')
  .option('--gitlab-version <v>', 'version reported in User-Agent and /version', DEFAULT_GITLAB_VERSION)
  .option('--log-level <level>', 'pino log level', 'info');

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{ seed?: string; port: number; instanceUrl?: string; gitlabVersion: string; logLevel: string }>();
  const logger = createLogger({ name: 'gitlab-sandbox', level: opts.logLevel });
  const seed = opts.seed ? await loadSeedFile(opts.seed) : undefined;
  const sandbox = await startSandbox({ seed, port: opts.port, instanceUrl: opts.instanceUrl, gitlabVersion: opts.gitlabVersion, logger });
  process.stdout.write(`listening on ${sandbox.url}\n`);
  const stop = async () => {
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  const message = err instanceof JitError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`sandbox: ${message}\n`);
  process.exit(1);
});
