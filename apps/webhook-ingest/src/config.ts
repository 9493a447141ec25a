// webhook-ingest configuration: read from the environment once, here, and passed down as a plain
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
    KAFKA_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'use 1-200 characters from [A-Za-z0-9._-]').default('jit-webhook-ingest'),
    JIT_BUS_DIR: z.string().min(1).optional(),
    JIT_WEBHOOK_SECRET: z.string().optional().transform(list),
    JIT_WEBHOOK_SIGNING_SECRET: z
      .string()
      .optional()
      .transform(list)
      .pipe(z.array(z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'each signing token must be whsec_<base64>'))),
    JIT_INGEST_BODY_LIMIT: intFrom(1024, 64 * 1024 * 1024).default(1024 * 1024),
    JIT_INGEST_PUBLISH_TIMEOUT_MS: intFrom(100, 9_000).default(3000),
    JIT_DATA_DIR: z.string().min(1).default('.jit/webhook-ingest'),
    JIT_INGEST_DEDUPE_WINDOW_HOURS: intFrom(1, 24 * 30).default(24),
    JIT_INGEST_DEDUPE_MAX_IDS: intFrom(1000, 10_000_000).default(100_000),
    PORT: intFrom(0, 65535).default(8080),
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
    if (env.JIT_WEBHOOK_SECRET.length === 0 && env.JIT_WEBHOOK_SIGNING_SECRET.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['JIT_WEBHOOK_SECRET'],
        message: 'set JIT_WEBHOOK_SECRET and/or JIT_WEBHOOK_SIGNING_SECRET: an unauthenticated webhook endpoint is refused',
      });
    }
  });

export interface IngestAppConfig {
  bus: { kind: 'kafka'; brokers: string[]; clientId: string } | { kind: 'embedded'; dir: string };
  auth: { tokens: string[]; signingSecrets: string[] };
  bodyLimit: number;
  publishTimeoutMs: number;
  dedupe: { dir: string; windowMs: number; maxIds: number };
  port: number;
  host: string;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid webhook-ingest configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>): IngestAppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`));
  }
  const e = parsed.data;
  return {
    bus: e.KAFKA_BROKERS.length > 0 ? { kind: 'kafka', brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID } : { kind: 'embedded', dir: e.JIT_BUS_DIR! },
    auth: { tokens: e.JIT_WEBHOOK_SECRET, signingSecrets: e.JIT_WEBHOOK_SIGNING_SECRET },
    bodyLimit: e.JIT_INGEST_BODY_LIMIT,
    publishTimeoutMs: e.JIT_INGEST_PUBLISH_TIMEOUT_MS,
    dedupe: { dir: e.JIT_DATA_DIR, windowMs: e.JIT_INGEST_DEDUPE_WINDOW_HOURS * 3600 * 1000, maxIds: e.JIT_INGEST_DEDUPE_MAX_IDS },
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
  };
}
