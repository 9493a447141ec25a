// `npm run sandbox -- --seed <file> --port <n>`: run the sandbox on 127.0.0.1 until SIGINT/SIGTERM.
// `npm run sandbox -- id-token --user <u> --project <p> --aud <url>`: a CI ID token from a running
// sandbox, printed alone on stdout (for `export JIT_ID_TOKEN=$(npm run -s sandbox -- id-token …)`).
import { readFile } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '@jit/observability';
import { JitError } from '@jit/errors';
import { loadSeedFile } from './seed';
import { CI_ID_TOKEN_ROUTE } from './routes/oidc';
import { DEFAULT_GITLAB_VERSION, startSandbox } from './sandbox';

function portArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('must be an integer 0-65535');
  return n;
}

function secondsArg(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 604800) throw new InvalidArgumentError('must be whole seconds, 1-604800');
  return n;
}

const program = new Command()
  .name('sandbox')
  .description('A stand-in GitLab (REST v4 + webhooks) for tests and demos')
  .option('--seed <file>', 'seed YAML (users, groups, projects)')
  .option('--port <n>', 'port to listen on (0 = any free port)', portArg, 0)
  .option('--instance-url <url>', 'URL the sandbox calls itself in web_url and X-Gitlab-Instance')
  .option('--gitlab-version <v>', 'version reported in User-Agent and /version', DEFAULT_GITLAB_VERSION)
  .option('--log-level <level>', 'pino log level', 'info')
  .option('--state <file>', 'keep the state (and the CI signing key) in this file across restarts')
  .action(serve);

program
  .command('id-token')
  .description("a GitLab CI ID token for a job of --user in --project, as a job's `id_tokens:` gets it")
  .requiredOption('--user <username>', 'the user the job runs as')
  .requiredOption('--project <path>', 'the project the pipeline runs in')
  .requiredOption('--aud <url>', 'the aud of the id_tokens entry (jit: its URL, JIT_OIDC_AUDIENCE)')
  .option('--ref <branch>', "the branch the pipeline runs for (default: the project's default branch)")
  .option('--environment <name>', "the job's environment")
  .option('--timeout <seconds>', "the job's timeout: the token expires with it (GitLab's default 300)", secondsArg)
  .option('--url <url>', 'the sandbox (env GITLAB_URL; default http://127.0.0.1:8929)')
  .option('--token-file <file>', "file holding the token to ask with: the user's own, or an admin's (env GITLAB_TOKEN)")
  .action(idToken);

async function idToken(o: { user: string; project: string; aud: string; ref?: string; environment?: string; timeout?: number; url?: string; tokenFile?: string }): Promise<void> {
  const url = o.url ?? process.env.GITLAB_URL ?? 'http://127.0.0.1:8929';
  const token = o.tokenFile ? (await readFile(o.tokenFile, 'utf8')).trim() : process.env.GITLAB_TOKEN;
  if (!token) throw new Error('set GITLAB_TOKEN (or --token-file) to the token of --user, or of a sandbox admin');
  let res: Response;
  try {
    res = await fetch(new URL(CI_ID_TOKEN_ROUTE, url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'private-token': token },
      body: JSON.stringify({ user: o.user, project: o.project, aud: o.aud, ref: o.ref, environment: o.environment, ttl_seconds: o.timeout }),
    });
  } catch (err) {
    throw new Error(`cannot reach the sandbox at ${url} (${(err as Error).message}); is it running? set --url or GITLAB_URL`);
  }
  const body = (await res.json().catch(() => ({}))) as { token?: string; message?: string; error?: string };
  if (!res.ok || typeof body.token !== 'string') throw new Error(`the sandbox refused: ${res.status} ${String(body.message ?? body.error ?? '').slice(0, 300)}`);
  process.stdout.write(`${body.token}\n`);
}

async function serve(): Promise<void> {
  const opts = program.opts<{ seed?: string; port: number; instanceUrl?: string; gitlabVersion: string; logLevel: string; state?: string }>();
  const logger = createLogger({ name: 'gitlab-sandbox', level: opts.logLevel });
  const seed = opts.seed ? await loadSeedFile(opts.seed) : undefined;
  const sandbox = await startSandbox({
    seed,
    port: opts.port,
    instanceUrl: opts.instanceUrl,
    gitlabVersion: opts.gitlabVersion,
    logger,
    ...(opts.state ? { persist: { file: opts.state } } : {}),
  });
  process.stdout.write(`listening on ${sandbox.url}\n`);
  const stop = async () => {
    await sandbox.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

program.parseAsync().catch((err: unknown) => {
  const message = err instanceof JitError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
  process.stderr.write(`sandbox: ${message}\n`);
  process.exit(1);
});
