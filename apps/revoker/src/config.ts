// revoker configuration: read from the environment once, here, and passed down as a plain object.
// A bad setting stops the process with a message naming it (never echoing a secret).
import { z } from 'zod';
import {
  authEnv,
  authFromEnv,
  checkKafkaSecurity,
  envSchemas as s,
  secretEnv,
  kafkaConsumerEnv,
  kafkaConsumerFromEnv,
  parseEnv,
  readSigningKeySetting,
  serverEnv,
  serverFromEnv,
  signingEnv,
  signingFromEnv,
  type AuthConfig,
  type KafkaConsumerConfig,
  type ServerConfig,
  type SigningConfig,
} from '@jit/service';
import { parseSubstrateSettings, type SubstrateInstances } from '@jit/substrate-wiring';

export { ConfigError } from '@jit/service';

const EnvSchema = z
  .object({
    ...kafkaConsumerEnv('jit-revoker'),
    // GitLab is optional here: only used to comment on the MR.
    GITLAB_URL: s.gitlabUrl().optional(),
    ...secretEnv('GITLAB_TOKEN', s.gitlabToken().optional()),
    JIT_ELEVATIONS_PROJECT: s.projectRef().optional(),
    JIT_SWEEP_INTERVAL_MS: s.durationMs().default(5 * 60_000),
    JIT_ORPHAN_GRACE_MS: s.durationMs().default(10 * 60_000),
    JIT_REVOKE_CONCURRENCY: s.intFrom(1, 1000).default(32),
    JIT_REVOKE_RETRY_BASE_MS: s.durationMs(1, 600_000).default(1000),
    JIT_REVOKE_RETRY_MAX_MS: s.durationMs(1, 3600_000).default(5 * 60_000),
    // signs revoked/expired; schedules only issuer-signed grants, capped by gate-signed TTLs
    ...signingEnv({ keyFile: true, gate: true, issuer: true }),
    // GET /v1/keys authenticates its callers like every API route (with GitLab configured)
    ...authEnv(),
    ...serverEnv(8083),
  })
  .superRefine((env, ctx) => {
    checkKafkaSecurity(env, ctx);
    if (!!env.GITLAB_URL !== !!env.GITLAB_TOKEN) {
      ctx.addIssue({
        code: 'custom',
        path: [env.GITLAB_URL ? 'GITLAB_TOKEN' : 'GITLAB_URL'],
        message: 'set GITLAB_URL and GITLAB_TOKEN together (the token or GITLAB_TOKEN_FILE; or neither: no MR comments)',
      });
    }
  });

export interface RevokerAppConfig extends ServerConfig {
  kafka: KafkaConsumerConfig;
  /** `tokenFile`: GITLAB_TOKEN_FILE, re-read when rotated. */
  gitlab?: { url: string; token: string; tokenFile?: string };
  substrates: SubstrateInstances;
  sweepIntervalMs: number;
  orphanGraceMs: number;
  concurrency: number;
  retry: { baseMs: number; maxMs: number };
  signing: SigningConfig & { privateKeyPem: string };
  /** API authentication of GET /v1/keys: JIT_AUTH_CACHE_TTL_MS, JIT_OIDC_AUDIENCE. */
  auth: AuthConfig;
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>, readFile?: (path: string) => string): RevokerAppConfig {
  const subs = parseSubstrateSettings(env, readFile);
  const key = readSigningKeySetting(env, readFile);
  const e = parseEnv(EnvSchema, env, { service: 'revoker', problems: [...subs.problems, ...key.problems] });
  return {
    kafka: kafkaConsumerFromEnv(e),
    ...(e.GITLAB_URL && e.GITLAB_TOKEN ? { gitlab: { url: e.GITLAB_URL, token: e.GITLAB_TOKEN, ...(e.GITLAB_TOKEN_FILE ? { tokenFile: e.GITLAB_TOKEN_FILE } : {}) } } : {}),
    substrates: subs.instances,
    sweepIntervalMs: e.JIT_SWEEP_INTERVAL_MS,
    orphanGraceMs: e.JIT_ORPHAN_GRACE_MS,
    concurrency: e.JIT_REVOKE_CONCURRENCY,
    retry: { baseMs: e.JIT_REVOKE_RETRY_BASE_MS, maxMs: e.JIT_REVOKE_RETRY_MAX_MS },
    signing: { ...signingFromEnv(e, key.pem), privateKeyPem: key.pem! },
    auth: authFromEnv(e),
    ...serverFromEnv(e),
  };
}
