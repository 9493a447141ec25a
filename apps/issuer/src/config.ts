// issuer configuration: read from the environment once, here, and passed down as a plain object.
// A bad setting stops the process with a message naming it (never echoing a secret).
import { z } from 'zod';
import { parseSubstrateSettings, type SubstrateInstances } from '@jit/substrate-wiring';

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

const EnvSchema = z.object({
  KAFKA_BROKERS: z
    .string({ error: 'is required: comma-separated host:port of the Kafka brokers' })
    .transform(list)
    .pipe(z.array(z.string().regex(/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/, 'each broker must be host:port')).min(1, 'is required: comma-separated host:port of the Kafka brokers')),
  KAFKA_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'use 1-200 characters from [A-Za-z0-9._-]').default('jit-issuer'),
  KAFKA_GROUP_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'use 1-200 characters from [A-Za-z0-9._-]').default('jit-issuer'),
  KAFKA_SESSION_TIMEOUT_MS: intFrom(6000, 300_000).default(30_000),
  GITLAB_URL: z.string({ error: 'is required: the http(s) base URL of GitLab' }).regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be the http(s) base URL of GitLab, e.g. https://gitlab.example.com'),
  GITLAB_TOKEN: z.string({ error: 'is required: a GitLab access token with api scope' }).min(8, 'must be a GitLab access token with api scope'),
  JIT_ELEVATIONS_PROJECT: z
    .string({ error: 'is required: the elevations project id or path (the issuer reads policy.yaml at the merge commit)' })
    .regex(/^(\d+|[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+)$/, 'must be a project id or path like group/elevations'),
  JIT_PUBLIC_URL: z.string().regex(/^https?:\/\/[^\s]+$/, 'must be the http(s) URL users reach jit at').optional(),
  JIT_ISSUE_ATTEMPTS: intFrom(1, 20).default(5),
  JIT_ISSUE_RETRY_BASE_MS: intFrom(1, 60_000).default(500),
  JIT_ISSUE_RETRY_MAX_MS: intFrom(1, 600_000).default(30_000),
  PORT: intFrom(0, 65535).default(8081),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface IssuerAppConfig {
  kafka: { brokers: string[]; clientId: string; groupId: string; sessionTimeoutMs: number };
  gitlab: { url: string; token: string };
  elevationsProject: string | number;
  substrates: SubstrateInstances;
  publicUrl?: string;
  retry: { attempts: number; baseMs: number; maxMs: number };
  port: number;
  host: string;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid issuer configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>, readFile?: (path: string) => string): IssuerAppConfig {
  const parsed = EnvSchema.safeParse(env);
  const subs = parseSubstrateSettings(env, readFile);
  const problems = [...(parsed.success ? [] : parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`)), ...subs.problems];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    kafka: { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID, groupId: e.KAFKA_GROUP_ID, sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS },
    gitlab: { url: e.GITLAB_URL.replace(/\/+$/, ''), token: e.GITLAB_TOKEN },
    elevationsProject: /^\d+$/.test(e.JIT_ELEVATIONS_PROJECT) ? Number(e.JIT_ELEVATIONS_PROJECT) : e.JIT_ELEVATIONS_PROJECT,
    substrates: subs.instances,
    ...(e.JIT_PUBLIC_URL ? { publicUrl: e.JIT_PUBLIC_URL.replace(/\/+$/, '') } : {}),
    retry: { attempts: e.JIT_ISSUE_ATTEMPTS, baseMs: e.JIT_ISSUE_RETRY_BASE_MS, maxMs: e.JIT_ISSUE_RETRY_MAX_MS },
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
  };
}
