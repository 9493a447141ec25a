// webhook-ingest configuration: read from the environment once, here, and passed down as a plain
// object. A bad setting stops the process with a message naming it (never echoing a secret).
import { z } from 'zod';
import { busEnv, busFromEnv, checkBusChoice, envSchemas as s, parseEnv, secretEnv, secretSetting, serverEnv, serverFromEnv, type BusConfig, type SecretSetting, type ServerConfig } from '@jit/service';

export { ConfigError } from '@jit/service';

/** JIT_WEBHOOK_SECRET: comma-separated shared secrets (several while rotating by hand). */
export const webhookSecrets = () => s.csv(z.string());
/** JIT_WEBHOOK_SIGNING_SECRET: comma-separated `whsec_` signing tokens. */
export const signingSecrets = () => s.csv(s.signingSecret());

const EnvSchema = z
  .object({
    ...busEnv('jit-webhook-ingest'),
    ...secretEnv('JIT_WEBHOOK_SECRET', webhookSecrets()),
    ...secretEnv('JIT_WEBHOOK_SIGNING_SECRET', signingSecrets()),
    /** How long a rotated-out webhook secret (X_FILE re-read) is still accepted. */
    JIT_WEBHOOK_SECRET_GRACE_MS: s.durationMs().default(600_000),
    JIT_INGEST_BODY_LIMIT: s.bodyLimitBytes(),
    JIT_INGEST_PUBLISH_TIMEOUT_MS: s.durationMs(100, 9_000).default(3000),
    JIT_DATA_DIR: s.path().default('.jit/webhook-ingest'),
    JIT_INGEST_DEDUPE_WINDOW_HOURS: s.intFrom(1, 24 * 30).default(24),
    JIT_INGEST_DEDUPE_MAX_IDS: s.intFrom(1000, 10_000_000).default(100_000),
    ...serverEnv(8080),
  })
  .superRefine((env, ctx) => {
    checkBusChoice(env, ctx);
    if (env.JIT_WEBHOOK_SECRET.length === 0 && env.JIT_WEBHOOK_SIGNING_SECRET.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['JIT_WEBHOOK_SECRET'],
        message: 'set JIT_WEBHOOK_SECRET and/or JIT_WEBHOOK_SIGNING_SECRET (or their _FILE forms): an unauthenticated webhook endpoint is refused',
      });
    }
  });

export interface IngestAppConfig extends ServerConfig {
  bus: BusConfig;
  /** The secrets as read at start, with the file each is re-read from (X_FILE); `graceMs` for the rotated-out ones. */
  auth: { tokens: SecretSetting<string[]>; signingSecrets: SecretSetting<string[]>; graceMs: number };
  bodyLimit: number;
  publishTimeoutMs: number;
  dedupe: { dir: string; windowMs: number; maxIds: number };
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>): IngestAppConfig {
  const e = parseEnv(EnvSchema, env, { service: 'webhook-ingest' });
  return {
    bus: busFromEnv(e),
    auth: { tokens: secretSetting(e, 'JIT_WEBHOOK_SECRET'), signingSecrets: secretSetting(e, 'JIT_WEBHOOK_SIGNING_SECRET'), graceMs: e.JIT_WEBHOOK_SECRET_GRACE_MS },
    bodyLimit: e.JIT_INGEST_BODY_LIMIT,
    publishTimeoutMs: e.JIT_INGEST_PUBLISH_TIMEOUT_MS,
    dedupe: { dir: e.JIT_DATA_DIR, windowMs: e.JIT_INGEST_DEDUPE_WINDOW_HOURS * 3600 * 1000, maxIds: e.JIT_INGEST_DEDUPE_MAX_IDS },
    ...serverFromEnv(e),
  };
}
