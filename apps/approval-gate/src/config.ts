// approval-gate configuration: read from the environment once, here, and passed down as a plain
// object. A bad setting stops the process with a message naming it (never echoing a secret).
import { z } from 'zod';

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const intFrom = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const EnvSchema = z
  .object({
    KAFKA_BROKERS: z
      .string()
      .optional()
      .transform(list)
      .pipe(z.array(z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'each broker must be host:port'))),
    KAFKA_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'use 1-200 characters from [A-Za-z0-9._-]').default('jit-approval-gate'),
    JIT_BUS_DIR: z.string().min(1).optional(),
    GITLAB_URL: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be the http(s) base URL of GitLab, e.g. https://gitlab.example.com'),
    GITLAB_TOKEN: z.string().min(8, 'must be a GitLab access token with api scope'),
    JIT_ELEVATIONS_PROJECT: z.string().regex(/^(\d+|[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+)$/, 'must be a project id or path like group/elevations'),
    JIT_BOT_USERNAME: z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$/).optional(),
    JIT_POLICY_REFRESH_MS: intFrom(0, 24 * 3600 * 1000).default(60_000),
    JIT_GCP_EXTENDED_LIFETIME: z.enum(['true', 'false']).default('false'),
    PORT: intFrom(0, 65535).default(8082),
    HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((env, ctx) => {
    if (env.KAFKA_BROKERS.length === 0 && !env.JIT_BUS_DIR) {
      ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'set KAFKA_BROKERS (or JIT_BUS_DIR for an embedded bus)' });
    }
    if (env.KAFKA_BROKERS.length > 0 && env.JIT_BUS_DIR) {
      ctx.addIssue({ code: 'custom', path: ['JIT_BUS_DIR'], message: 'set KAFKA_BROKERS or JIT_BUS_DIR, not both' });
    }
  });

export interface GateAppConfig {
  bus: { kind: 'kafka'; brokers: string[]; clientId: string } | { kind: 'embedded'; dir: string };
  gitlab: { url: string; token: string };
  elevationsProject: string | number;
  botUsername?: string;
  policyRefreshMs: number;
  gcpExtendedLifetime: boolean;
  port: number;
  host: string;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid approval-gate configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>): GateAppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`));
  }
  const e = parsed.data;
  return {
    bus:
      e.KAFKA_BROKERS.length > 0
        ? { kind: 'kafka', brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID }
        : { kind: 'embedded', dir: e.JIT_BUS_DIR! },
    gitlab: { url: e.GITLAB_URL.replace(/\/+$/, ''), token: e.GITLAB_TOKEN },
    elevationsProject: /^\d+$/.test(e.JIT_ELEVATIONS_PROJECT) ? Number(e.JIT_ELEVATIONS_PROJECT) : e.JIT_ELEVATIONS_PROJECT,
    ...(e.JIT_BOT_USERNAME ? { botUsername: e.JIT_BOT_USERNAME } : {}),
    policyRefreshMs: e.JIT_POLICY_REFRESH_MS,
    gcpExtendedLifetime: e.JIT_GCP_EXTENDED_LIFETIME === 'true',
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
  };
}
