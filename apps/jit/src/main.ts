// The all-in-one jit process (embedded mode): `npm start`. Config from the environment, parsed
// once; a bad setting stops start-up with a message naming it.
import { ConfigError, parseConfig } from './config';
import { buildJit } from './server';

let config;
try {
  config = parseConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`jit: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const jit = await buildJit(config).catch((err: unknown) => {
  // whatever was thrown (even a non-Error), say so in one line and exit 1
  const e = (err ?? {}) as { message?: unknown; code?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  process.stderr.write(`jit: start-up failed: ${message}${typeof e.code === 'string' ? ` (${e.code})` : ''}\n`);
  process.exit(1);
});
const url = await jit.listen();
process.stdout.write(`listening on ${url} (health, readiness and metrics: ${jit.opsUrl})\n`);

if (jit.sandbox) {
  const pid = jit.gitlab.projectId;
  process.stdout.write(
    [
      '',
      `sandbox mode: a stand-in GitLab runs at ${jit.sandbox.url} (project ${jit.gitlab.project}, id ${pid})`,
      jit.demoDatabase ? `demo target: PostgreSQL on 127.0.0.1:${jit.demoDatabase.port}, database "demo" (read-only default role jit_demo_readonly)` : '',
      '',
      'try this (another terminal):',
      `  export JIT_URL=${url} GITLAB_URL=${jit.sandbox.url} JIT_ELEVATIONS_PROJECT=${jit.gitlab.project}`,
      '  npm run jit -- catalog',
      '  # the seed policy registers an age key per user; sandbox mode generated their identities:',
      ...Object.entries(jit.sandboxIdentities).map(([user, file]) => `  #   ${user}: ${file}`),
      `  GITLAB_TOKEN=deploy-agent-token npm run jit -- request --target demo-db --scope write --ttl 10m \\`,
      `      --tier reversible-write --justification "backfill order totals after INC-4411" --identity ${jit.sandboxIdentities['deploy-agent'] ?? '<identity file>'}`,
      '  # approve as two humans (alice-token-0001, bob-token-00001) and merge, e.g. via the sandbox API,',
      '  # or run the whole story narrated:  npm run demo',
      '',
    ]
      .filter((l, i, a) => l !== '' || a[i - 1] !== '')
      .join('\n') + '\n',
  );
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    jit.logger.info({ signal }, 'stopping');
    jit
      .close()
      .then(() => process.exit(0))
      .catch(() => process.exit(1));
  });
}
