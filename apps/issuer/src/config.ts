// issuer configuration: read from the environment once, here, and passed down as a plain object.
// A bad setting stops the process with a message naming it (never echoing a secret).
import { z } from 'zod';
import {
  authEnv,
  authFromEnv,
  checkDashboard,
  checkKafkaSecurity,
  dashboardEnv,
  dashboardFromEnv,
  envSchemas as s,
  gitlabEnv,
  gitlabFromEnv,
  kafkaConsumerEnv,
  kafkaConsumerFromEnv,
  parseEnv,
  readSigningKeySetting,
  serverEnv,
  serverFromEnv,
  signingEnv,
  signingFromEnv,
  type AuthConfig,
  type DashboardConfig,
  type KafkaConsumerConfig,
  type ServerConfig,
  type SigningConfig,
} from '@jit/service';
import type { IssueRetryOptions } from '@jit/issuer';
import { parseSubstrateSettings, type SubstrateInstances } from '@jit/substrate-wiring';

export { ConfigError } from '@jit/service';

const EnvSchema = z
  .object({
    ...kafkaConsumerEnv('jit-issuer'),
    // the issuer reads policy.yaml of the elevations project at the merge commit
    ...gitlabEnv(),
    JIT_PUBLIC_URL: s.httpUrl('the http(s) URL users reach jit at').optional(),
    // retriable failures of an issue are retried until a share of the grant's TTL (from the
    // approval) has passed, at most the budget; an attempt cap is the operator's option only
    JIT_ISSUE_RETRY_TTL_PERCENT: s.intFrom(1, 100).default(50),
    JIT_ISSUE_RETRY_BUDGET_MS: s.durationMs(1000).default(600_000),
    JIT_ISSUE_ATTEMPTS: s.intFrom(1, 10_000).optional(),
    JIT_ISSUE_RETRY_BASE_MS: s.durationMs(1, 60_000).default(500),
    JIT_ISSUE_RETRY_MAX_MS: s.durationMs(1, 600_000).default(30_000),
    // signs granted events and sealed credentials; acts only on gate-signed approvals; trusts revocations by a revoker
    ...signingEnv({ keyFile: true, gate: true, revoker: true }),
    ...serverEnv(8081),
    ...authEnv(),
    // the dashboard (/ui) beside the read API, when a GitLab OAuth application is named (needs JIT_PUBLIC_URL)
    ...dashboardEnv(),
  })
  .superRefine((env, ctx) => {
    checkKafkaSecurity(env, ctx);
    checkDashboard(env, ctx);
    if (env.JIT_UI_OAUTH_CLIENT_ID && !env.JIT_PUBLIC_URL)
      ctx.addIssue({ code: 'custom', path: ['JIT_PUBLIC_URL'], message: 'the dashboard (JIT_UI_OAUTH_CLIENT_ID) needs JIT_PUBLIC_URL: its sign-in returns to <JIT_PUBLIC_URL>/ui/auth/callback' });
    // replicas open each other's sessions only with one key; a key per process would sign users out at every hop
    if (env.JIT_UI_OAUTH_CLIENT_ID && !env.JIT_UI_SESSION_KEY)
      ctx.addIssue({
        code: 'custom',
        path: ['JIT_UI_SESSION_KEY_FILE'],
        message: 'the dashboard (JIT_UI_OAUTH_CLIENT_ID) needs JIT_UI_SESSION_KEY_FILE: the key every issuer replica seals and opens sessions with (openssl rand -base64 32)',
      });
  });

export interface IssuerAppConfig extends ServerConfig {
  kafka: KafkaConsumerConfig;
  /** `tokenFile`: GITLAB_TOKEN_FILE, re-read when rotated. */
  gitlab: { url: string; token: string; tokenFile?: string };
  elevationsProject: string | number;
  substrates: SubstrateInstances;
  publicUrl?: string;
  /** API authentication (GitLab-token cache, CI ID token audience: JIT_OIDC_AUDIENCE or JIT_PUBLIC_URL). */
  auth: AuthConfig;
  /** The issue's retry budget (libs/issuer issue-retry.ts). */
  retry: IssueRetryOptions;
  /** The dashboard under /ui (served when `clientId` is set). */
  ui: DashboardConfig;
  signing: SigningConfig & { privateKeyPem: string };
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>, readFile?: (path: string) => string): IssuerAppConfig {
  const subs = parseSubstrateSettings(env, readFile);
  const key = readSigningKeySetting(env, readFile);
  const e = parseEnv(EnvSchema, env, { service: 'issuer', problems: [...subs.problems, ...key.problems] });
  return {
    kafka: kafkaConsumerFromEnv(e),
    ...gitlabFromEnv(e),
    substrates: subs.instances,
    ...(e.JIT_PUBLIC_URL ? { publicUrl: e.JIT_PUBLIC_URL } : {}),
    retry: {
      ttlPercent: e.JIT_ISSUE_RETRY_TTL_PERCENT,
      budgetMs: e.JIT_ISSUE_RETRY_BUDGET_MS,
      ...(e.JIT_ISSUE_ATTEMPTS ? { attempts: e.JIT_ISSUE_ATTEMPTS } : {}),
      baseMs: e.JIT_ISSUE_RETRY_BASE_MS,
      maxMs: e.JIT_ISSUE_RETRY_MAX_MS,
    },
    signing: { ...signingFromEnv(e, key.pem), privateKeyPem: key.pem! },
    ...serverFromEnv(e),
    auth: authFromEnv(e, e.JIT_PUBLIC_URL),
    ui: dashboardFromEnv(e),
  };
}
