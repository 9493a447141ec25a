// Configuration of the all-in-one process, parsed once from the environment at boot. A bad
// setting stops start-up with a message naming it (never its value: some are secrets).
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseSubstrateSettings } from '@jit/substrate-wiring';

const port = z.coerce.number().int().min(1).max(65535);
const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

const envSchema = z
  .object({
    JIT_PORT: port.default(8080),
    JIT_HOST: z.string().min(1).default('127.0.0.1'),
    JIT_DATA_DIR: z.string().min(1).default('./.jit'),
    JIT_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    JIT_PUBLIC_URL: z.url().optional(),
    GITLAB_URL: z.url({ protocol: /^https?$/ }).optional(),
    GITLAB_TOKEN: z.string().min(8).optional(),
    JIT_ELEVATIONS_PROJECT: z.string().min(1).optional(),
    JIT_BOT_USERNAME: z.string().min(1).optional(),
    JIT_SANDBOX_PORT: port.default(8929),
    JIT_SANDBOX_SEED: z.string().min(1).optional(),
    KAFKA_BROKERS: csv.pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')).min(1)).optional(),
    KAFKA_CLIENT_ID: z.string().min(1).default('jit'),
    JIT_WEBHOOK_SECRET: csv.pipe(z.array(z.string().min(16, 'each secret needs at least 16 characters'))).optional(),
    JIT_WEBHOOK_SIGNING_SECRET: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be whsec_<base64>').optional(),
    JIT_WEBHOOK_BODY_LIMIT: z.coerce.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
    JIT_POLICY_REFRESH_MS: z.coerce.number().int().min(0).default(60_000),
    JIT_SWEEP_INTERVAL_MS: z.coerce.number().int().min(0).default(5 * 60_000),
    JIT_NO_DEMO_DB: z.enum(['0', '1', 'true', 'false']).optional(),
  })
  .superRefine((env, ctx) => {
    const gitlab = [env.GITLAB_URL, env.GITLAB_TOKEN, env.JIT_ELEVATIONS_PROJECT];
    if (gitlab.some(Boolean) && !gitlab.every(Boolean)) {
      ctx.addIssue({
        code: 'custom',
        path: ['GITLAB_URL'],
        message: 'GITLAB_URL, GITLAB_TOKEN and JIT_ELEVATIONS_PROJECT go together (set all three, or none for sandbox mode)',
      });
    }
    if (env.GITLAB_URL && !env.JIT_WEBHOOK_SECRET && !env.JIT_WEBHOOK_SIGNING_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['JIT_WEBHOOK_SECRET'], message: 'with a real GitLab set JIT_WEBHOOK_SECRET and/or JIT_WEBHOOK_SIGNING_SECRET' });
    }
  });

export interface JitConfig {
  port: number;
  host: string;
  dataDir: string;
  logLevel: string;
  publicUrl: string;
  gitlab?: { url: string; token: string; project: string; botUsername?: string };
  sandbox: { port: number; seedFile?: string };
  kafka?: { brokers: string[]; clientId: string };
  webhook: { secrets: string[]; signingSecret?: string; bodyLimit: number };
  /** Substrate instances: name -> adapter config (JIT_SUBSTRATES JSON or JIT_SUBSTRATES_FILE). `postgres` is always present. */
  substrates: Record<string, Record<string, unknown>>;
  policyRefreshMs: number;
  sweepIntervalMs: number;
  demoDatabase: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function parseConfig(env: Record<string, string | undefined>, cwd = process.cwd()): JitConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const settings = parseSubstrateSettings(env, undefined, { optional: true });
  if (settings.problems.length) throw new ConfigError(`invalid configuration:\n  ${settings.problems.join('\n  ')}`);
  let substrates = settings.instances;
  if (!substrates.postgres) substrates = { postgres: {}, ...substrates };
  const dataDir = isAbsolute(e.JIT_DATA_DIR) ? e.JIT_DATA_DIR : resolve(cwd, e.JIT_DATA_DIR);
  return {
    port: e.JIT_PORT,
    host: e.JIT_HOST,
    dataDir,
    logLevel: e.JIT_LOG_LEVEL,
    publicUrl: e.JIT_PUBLIC_URL ?? `http://${e.JIT_HOST}:${e.JIT_PORT}`,
    gitlab:
      e.GITLAB_URL && e.GITLAB_TOKEN && e.JIT_ELEVATIONS_PROJECT
        ? { url: e.GITLAB_URL, token: e.GITLAB_TOKEN, project: e.JIT_ELEVATIONS_PROJECT, botUsername: e.JIT_BOT_USERNAME }
        : undefined,
    sandbox: { port: e.JIT_SANDBOX_PORT, seedFile: e.JIT_SANDBOX_SEED },
    kafka: e.KAFKA_BROKERS ? { brokers: e.KAFKA_BROKERS, clientId: e.KAFKA_CLIENT_ID } : undefined,
    webhook: { secrets: e.JIT_WEBHOOK_SECRET ?? [], signingSecret: e.JIT_WEBHOOK_SIGNING_SECRET, bodyLimit: e.JIT_WEBHOOK_BODY_LIMIT },
    substrates,
    policyRefreshMs: e.JIT_POLICY_REFRESH_MS,
    sweepIntervalMs: e.JIT_SWEEP_INTERVAL_MS,
    demoDatabase: !e.GITLAB_URL && !(e.JIT_NO_DEMO_DB === '1' || e.JIT_NO_DEMO_DB === 'true'),
  };
}
