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
// The terminal's signal may come at any moment from here on — also the instant "listening on" is
// out, which a supervisor or a test takes as the cue to stop it: the handlers are in place before
// the port opens, so a signal never meets Node's default (die at once, bus lock and sandbox
// state left behind).
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
      `dashboard: ${url}/ui — sign in with GitLab as alice, bob or carol (approvers) or dave (the sandbox asks only for a username)`,
      '',
      'try this (another terminal):',
      `  export JIT_URL=${url} GITLAB_URL=${jit.sandbox.url} JIT_ELEVATIONS_PROJECT=${jit.gitlab.project}`,
      "  # every call to jit carries a token; here alice's GitLab token (she approves for platform):",
      '  GITLAB_TOKEN=alice-token-0001 npm run jit -- catalog',
      '  # the seed policy registers an age key per user; sandbox mode generated their identities:',
      ...Object.entries(jit.sandboxIdentities).map(([user, file]) => `  #   ${user}: ${file}`),
      '  # the agent opens its request in GitLab with its GitLab token (prints the elevation id and branch):',
      `  GITLAB_TOKEN=deploy-agent-token npm run jit -- request --target demo-db --scope write --ttl 10m \\`,
      `      --tier reversible-write --justification "backfill order totals after INC-4411" --identity ${jit.sandboxIdentities['deploy-agent'] ?? '<identity file>'}`,
      '  # then talks to jit as a CI job would, with an ID token only (the sandbox issues it for a job on that branch):',
      `  export JIT_ID_TOKEN=$(GITLAB_TOKEN=deploy-agent-token npm run -s sandbox -- id-token --user deploy-agent --project ${jit.gitlab.project} --ref <branch> --timeout 3600 --aud ${url})`,
      '  npm run jit -- status <elevation id>',
      '  # approve as two humans (alice-token-0001, bob-token-00001) and merge, e.g. via the sandbox API; then',
      `  npm run jit -- credential <elevation id> --identity ${jit.sandboxIdentities['deploy-agent'] ?? '<identity file>'}`,
      '  # or run the whole story narrated:  npm run demo',
      '',
    ]
      .filter((l, i, a) => l !== '' || a[i - 1] !== '')
      .join('\n') + '\n',
  );
}
