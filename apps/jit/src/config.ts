// Configuration of the all-in-one process, parsed once from the environment at boot. A bad
// setting stops start-up with a message naming it (never its value: some are secrets).
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import {
  checkDashboard,
  checkKafkaSecurity,
  dashboardEnv,
  dashboardFromEnv,
  envSchemas as s,
  kafkaSecurityEnv,
  kafkaSecurityFromEnv,
  opsEnv,
  opsFromEnv,
  authEnv,
  authFromEnv,
  parseEnv,
  readSigningKeySetting,
  secretEnv,
  signingEnv,
  signingFromEnv,
  type KafkaSecurity,
  type AuthConfig,
  type DashboardConfig,
  type ServerConfig,
  type SigningConfig,
} from '@jit/service';
import { parseSubstrateSettings } from '@jit/substrate-wiring';
import { checkNotifyBudget, checkSink, notifyEnv, notifyFromEnv, sinkEnv, sinkFromEnv, type NotifyConfig, type SinkConfig } from '@jit/notify';

export { ConfigError } from '@jit/service';

/** JIT_WEBHOOK_SECRET (or its file's content): comma-separated shared secrets of 16+ characters. */
export const webhookSecrets = () => s.csv(z.string().min(16, 'each secret needs at least 16 characters'));

const envSchema = z
  .object({
    JIT_PORT: s.port(8080, { min: 1 }),
    JIT_HOST: s.host(),
    ...opsEnv(),
    ...authEnv(),
    JIT_DATA_DIR: s.path().default('./.jit'),
    JIT_LOG_LEVEL: s.logLevel(),
    JIT_PUBLIC_URL: s.httpUrl('the http(s) URL users reach jit at').optional(),
    GITLAB_URL: s.gitlabUrl().optional(),
    ...secretEnv('GITLAB_TOKEN', s.gitlabToken().optional()),
    JIT_ELEVATIONS_PROJECT: s.projectRef().optional(),
    JIT_BOT_USERNAME: s.gitlabUsername().optional(),
    JIT_SANDBOX_PORT: s.port(8929, { min: 1 }),
    JIT_SANDBOX_SEED: s.path().optional(),
    KAFKA_BROKERS: s.kafkaBrokersOptional(),
    KAFKA_CLIENT_ID: s.kafkaId('jit'),
    KAFKA_SESSION_TIMEOUT_MS: s.kafkaSessionTimeoutMs(),
    ...kafkaSecurityEnv(),
    ...secretEnv('JIT_WEBHOOK_SECRET', webhookSecrets()),
    ...secretEnv('JIT_WEBHOOK_SIGNING_SECRET', s.signingSecret().optional()),
    /** How long a rotated-out webhook secret (X_FILE re-read) is still accepted. */
    JIT_WEBHOOK_SECRET_GRACE_MS: s.durationMs().default(600_000),
    JIT_WEBHOOK_BODY_LIMIT: s.bodyLimitBytes(),
    JIT_POLICY_REFRESH_MS: s.durationMs().default(60_000),
    /** Blob sha of the first policy.yaml the operator trusts (used only while the log has ratified nothing). */
    JIT_POLICY_PIN: z
      .string()
      .trim()
      .regex(/^[0-9a-fA-F]{40}$/, 'must be the 40-hex blob sha of policy.yaml (jit prints it when no policy is trusted)')
      .optional(),
    /** How often open and recently merged MRs are compared with GitLab (missed webhooks); 0 = at start only. */
    JIT_RECONCILE_INTERVAL_MS: s.durationMs().default(300_000),
    JIT_SWEEP_INTERVAL_MS: s.durationMs().default(5 * 60_000),
    JIT_NO_DEMO_DB: s.flag(false),
    // the dashboard (/ui): a GitLab OAuth application's id and secret (sandbox mode registers its own)
    ...dashboardEnv(),
    // this process's key (default: generated once into JIT_DATA_DIR/signing-key.pem) and any other
    // producers' keys it trusts besides its own (e.g. other replicas on the same Kafka)
    ...signingEnv({ keyFile: false }),
    // the notifier runs when JIT_NOTIFY_CHANNELS (or its file) names the channels' webhook URLs
    ...notifyEnv(),
    // the HTTP sink runs when JIT_SINK_URL is set: every event, in signed CloudEvents batches
    ...sinkEnv(),
  })
  .superRefine((env, ctx) => {
    checkKafkaSecurity(env, ctx, env.KAFKA_BROKERS.length > 0);
    // on Kafka, a delivery must fit well inside the consumer's session
    if (env.JIT_NOTIFY_CHANNELS || env.JIT_NOTIFY_CHANNELS_FILE) checkNotifyBudget(env, env.KAFKA_BROKERS.length > 0 ? env.KAFKA_SESSION_TIMEOUT_MS : undefined, ctx);
    checkSink(env, env.KAFKA_BROKERS.length > 0 ? env.KAFKA_SESSION_TIMEOUT_MS : undefined, ctx);
    // JIT_ELEVATIONS_PROJECT alone (no GITLAB_URL/GITLAB_TOKEN) chooses the sandbox's project
    const gitlab = [env.GITLAB_URL, env.GITLAB_TOKEN];
    if ((gitlab.some(Boolean) && !gitlab.every(Boolean)) || (env.GITLAB_URL && env.GITLAB_TOKEN && !env.JIT_ELEVATIONS_PROJECT)) {
      ctx.addIssue({
        code: 'custom',
        path: ['GITLAB_URL'],
        message:
          'GITLAB_URL, GITLAB_TOKEN and JIT_ELEVATIONS_PROJECT go together (set all three, the token or GITLAB_TOKEN_FILE; for sandbox mode none, or JIT_ELEVATIONS_PROJECT alone to choose the sandbox project)',
      });
    }
    checkDashboard(env, ctx);
    if (env.GITLAB_URL && env.JIT_WEBHOOK_SECRET.length === 0 && !env.JIT_WEBHOOK_SIGNING_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JIT_WEBHOOK_SECRET'], message: 'with a real GitLab set JIT_WEBHOOK_SECRET and/or JIT_WEBHOOK_SIGNING_SECRET (or their _FILE forms)' });
    }
  });

export interface JitConfig extends ServerConfig {
  /** API authentication: GitLab-token cache TTL and the CI ID token audience (default publicUrl). */
  auth: AuthConfig;
  dataDir: string;
  publicUrl: string;
  /** `tokenFile`: GITLAB_TOKEN_FILE, re-read when rotated. */
  gitlab?: { url: string; token: string; tokenFile?: string; project: string; botUsername?: string };
  /** `project`: JIT_ELEVATIONS_PROJECT in sandbox mode (else the seed's elevations project, see sandbox-project.ts). */
  sandbox: { port: number; seedFile?: string; project?: string };
  kafka?: { brokers: string[]; clientId: string; sessionTimeoutMs: number; security: KafkaSecurity };
  /** `secretsFile`/`signingSecretFile`: the _FILE forms, re-read when rotated (the replaced value is accepted for `graceMs`). */
  webhook: { secrets: string[]; secretsFile?: string; signingSecret?: string; signingSecretFile?: string; graceMs: number; bodyLimit: number };
  /** Substrate instances: name -> adapter config (JIT_SUBSTRATES JSON or JIT_SUBSTRATES_FILE). `postgres` is always present. */
  substrates: Record<string, Record<string, unknown>>;
  policyRefreshMs: number;
  /** JIT_POLICY_PIN (lower-case); sandbox mode pins the seed's policy itself when unset. */
  policyPin?: string;
  reconcileIntervalMs: number;
  sweepIntervalMs: number;
  demoDatabase: boolean;
  /** Event/credential signing: the key (when JIT_SIGNING_KEY_FILE is set) and extra trusted keys. */
  signing: SigningConfig;
  /** The notifier: channel URLs (none = the notifier does not run) and retries. */
  notify: NotifyConfig;
  /** The HTTP sink, when JIT_SINK_URL is set. */
  sink?: SinkConfig;
  /** The dashboard's GitLab OAuth application (none: sandbox mode registers one, a real GitLab serves no /ui). */
  ui: DashboardConfig;
}

export function parseConfig(env: Record<string, string | undefined>, cwd = process.cwd(), readFile?: (path: string) => string): JitConfig {
  const settings = parseSubstrateSettings(env, undefined, { optional: true });
  const key = readSigningKeySetting(env, readFile);
  const e = parseEnv(envSchema, env, { problems: [...settings.problems, ...key.problems] });
  const substrates = settings.instances.postgres ? settings.instances : { postgres: {}, ...settings.instances };
  const dataDir = isAbsolute(e.JIT_DATA_DIR) ? e.JIT_DATA_DIR : resolve(cwd, e.JIT_DATA_DIR);
  return {
    port: e.JIT_PORT,
    host: e.JIT_HOST,
    ops: opsFromEnv(e),
    auth: authFromEnv(e),
    dataDir,
    logLevel: e.JIT_LOG_LEVEL,
    publicUrl: e.JIT_PUBLIC_URL ?? `http://${e.JIT_HOST}:${e.JIT_PORT}`,
    gitlab:
      e.GITLAB_URL && e.GITLAB_TOKEN && e.JIT_ELEVATIONS_PROJECT
        ? { url: e.GITLAB_URL, token: e.GITLAB_TOKEN, ...(e.GITLAB_TOKEN_FILE ? { tokenFile: e.GITLAB_TOKEN_FILE } : {}), project: e.JIT_ELEVATIONS_PROJECT, botUsername: e.JIT_BOT_USERNAME }
        : undefined,
    sandbox: { port: e.JIT_SANDBOX_PORT, seedFile: e.JIT_SANDBOX_SEED, project: e.GITLAB_URL ? undefined : e.JIT_ELEVATIONS_PROJECT },
    kafka: e.KAFKA_BROKERS.length > 0 ? { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS, security: kafkaSecurityFromEnv(e) } : undefined,
    webhook: {
      secrets: e.JIT_WEBHOOK_SECRET,
      ...(e.JIT_WEBHOOK_SECRET_FILE ? { secretsFile: e.JIT_WEBHOOK_SECRET_FILE } : {}),
      signingSecret: e.JIT_WEBHOOK_SIGNING_SECRET,
      ...(e.JIT_WEBHOOK_SIGNING_SECRET_FILE ? { signingSecretFile: e.JIT_WEBHOOK_SIGNING_SECRET_FILE } : {}),
      graceMs: e.JIT_WEBHOOK_SECRET_GRACE_MS,
      bodyLimit: e.JIT_WEBHOOK_BODY_LIMIT,
    },
    substrates,
    policyRefreshMs: e.JIT_POLICY_REFRESH_MS,
    ...(e.JIT_POLICY_PIN ? { policyPin: e.JIT_POLICY_PIN.toLowerCase() } : {}),
    reconcileIntervalMs: e.JIT_RECONCILE_INTERVAL_MS,
    sweepIntervalMs: e.JIT_SWEEP_INTERVAL_MS,
    demoDatabase: !e.GITLAB_URL && !e.JIT_NO_DEMO_DB,
    signing: signingFromEnv(e, key.pem),
    notify: notifyFromEnv(e),
    ...(sinkFromEnv(e) ? { sink: sinkFromEnv(e)! } : {}),
    ui: dashboardFromEnv(e),
  };
}
