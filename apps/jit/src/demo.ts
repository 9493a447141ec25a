// `npm run demo`: starts the embedded stack (sandbox GitLab, demo PostgreSQL, all services) in a
// temporary data dir on free ports and plays the lifecycle. Exits non-zero if any step misbehaves.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from './config';
import { freePort } from './demo-database';
import { runDemoLifecycle, sandboxAgentIdToken } from './demo/lifecycle';
import { buildJit } from './server';
import { createLogger } from '@jit/observability';

// private (0700) like any mktemp dir: as root, jit lets the demo PostgreSQL's user reach it
const dataDir = await mkdtemp(join(tmpdir(), 'jit-demo-data-'));
const config = parseConfig({
  ...process.env,
  GITLAB_URL: undefined,
  GITLAB_TOKEN: undefined,
  JIT_ELEVATIONS_PROJECT: undefined,
  KAFKA_BROKERS: undefined,
  JIT_DATA_DIR: dataDir,
  JIT_PORT: String(await freePort()),
  JIT_OPS_PORT: '0',
  JIT_SANDBOX_PORT: String(await freePort()),
  JIT_SWEEP_INTERVAL_MS: '0',
});
process.stdout.write('starting jit (embedded bus, GitLab sandbox, demo PostgreSQL)…\n');
const jit = await buildJit(config, { logger: createLogger({ name: 'jit', level: process.env.JIT_LOG_LEVEL === 'debug' ? 'debug' : 'warn' }) });
let code = 0;
try {
  const url = await jit.listen();
  process.stdout.write(`watch it on the dashboard while it runs: ${url}/ui (sign in as carol)\n`);
  await runDemoLifecycle({
    jitUrl: url,
    gitlabUrl: jit.sandbox!.url,
    project: jit.gitlab.project,
    readonlyUrl: jit.demoDatabase!.readonlyUrl,
    agentIdentity: jit.sandboxIdentities['deploy-agent']!,
    agentIdToken: sandboxAgentIdToken(jit.sandbox!, jit.gitlab.project, url),
    ttl: process.env.JIT_DEMO_TTL ?? '20s',
  });
} catch (err) {
  process.stderr.write(`\n${(err as Error).message}\n`);
  code = 1;
} finally {
  await jit.close();
  await rm(dataDir, { recursive: true, force: true });
}
if (code === 0) process.stdout.write('\nthe same lifecycle on a jit that stays up: npm start, then open http://127.0.0.1:8080/ui and sign in as carol\n');
process.exit(code);
