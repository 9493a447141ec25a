// The environment vocabulary every jit app shares: one zod schema per kind of setting (ports,
// hosts, log levels, Kafka, the bus choice, GitLab) so that the same variable is read the same way,
// with the same limits and messages, in every process. Messages describe the expected shape and
// never quote the value (some values are secrets).
import { z } from 'zod';
import { checkKafkaSecurity, kafkaSecurityEnv, kafkaSecurityFromEnv, type KafkaSecurity, type KafkaSecurityEnv } from './kafka-env';
import { secretEnv } from './secret-file';
import type { OpsConfig } from './ops-server';
import { openSecret, type SecretLog, type SecretSetting, type SecretSource } from './secret-source';

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
const KAFKA_ID = /^[A-Za-z0-9._-]{1,200}$/;
const HTTP_URL = /^https?:\/\/[^\s/]+(\/[^\s]*)?$/;
const PROJECT_REF = /^(\d+|[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+)$/;
const GITLAB_USERNAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$/;
const WHSEC = /^whsec_[A-Za-z0-9+/]+={0,2}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const DAY_MS = 24 * 3600 * 1000;

/** A string setting; when it is missing the message says so and what it is for. */
function text(whatItIs: string) {
  return z.string({ error: (issue) => (issue.input === undefined ? `is required: ${whatItIs}` : 'must be text') });
}

/** `host:port` as kafkajs takes it: a hostname or IPv4 address (kafkajs cannot parse IPv6) and a port 1-65535. */
export function isBrokerAddress(item: string): boolean {
  const colon = item.lastIndexOf(':');
  if (colon <= 0 || item.length > 260) return false;
  const host = item.slice(0, colon);
  const port = item.slice(colon + 1);
  return HOSTNAME.test(host) && /^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535;
}

/** Whole number from a string of digits (no sign, exponent, hex or spaces), within [min, max]. */
function intFrom(min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d{1,15}$/, message) // 16+ digits are past any bound (and past exact doubles)
    .transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message));
}

/**
 * Comma-separated list. A blank value is an empty list (an unset list); an empty item inside a
 * non-blank value (`a,,b`, a trailing comma) is refused rather than silently dropped.
 */
function splitList(value: string | undefined, ctx: z.RefinementCtx): string[] {
  const items = (value ?? '').split(',').map((s) => s.trim());
  if (items.every((s) => s.length === 0)) return [];
  const empty = items.flatMap((s, i) => (s.length === 0 ? [i + 1] : []));
  if (empty.length > 0) {
    ctx.addIssue({ code: 'custom', message: `has an empty item (item ${empty.join(', ')}); remove the extra comma` });
    return z.NEVER;
  }
  return items;
}

function csv<T extends z.ZodType<unknown, string>>(item: T) {
  return z.string().optional().transform(splitList).pipe(z.array(item));
}

// `<project path glob>[@<ref glob>[:unprotected]]`: GitLab path characters plus the glob's * ?
// (no braces, classes or negation: what matches must be obvious from reading the setting); `:`
// cannot be part of a git ref name, so the suffix is never a ref
const CI_PROJECT_RULE = /^([A-Za-z0-9_.*?-]+(?:\/[A-Za-z0-9_.*?-]+)+)(?:@([A-Za-z0-9_.*?/+-]{1,255})(:unprotected)?)?$/;

/** One entry of JIT_OIDC_ALLOWED_PROJECTS: whose CI ID tokens are accepted. */
export interface CiProjectRule {
  /** Glob over the token's `project_path` (`*` within a path segment, `**` across; case-insensitive). */
  project: string;
  /** Glob over the token's `ref`: a branch name, or a full ref (`refs/tags/v*`, `refs/heads/main`) to name tags; absent = any ref. */
  ref?: string;
  /**
   * With a ref glob, the ref must be protected (the token's `ref_protected` is "true"): anyone who
   * may push can name an unprotected branch to match a glob. `:unprotected` after the glob waives it.
   */
  refUnprotected?: true;
}

const ciProjectItem = z.string().transform((v, ctx): CiProjectRule => {
  const m = CI_PROJECT_RULE.exec(v);
  if (!m || v.length > 512) {
    ctx.addIssue({
      code: 'custom',
      message:
        'each entry must be a project path or glob, optionally with @<protected branch glob, or refs/tags/<tag glob>>[:unprotected]: group/project, group/*, group/**, group/deploy@main, group/deploy@refs/tags/v*, group/app@review/*:unprotected',
    });
    return z.NEVER;
  }
  return { project: m[1]!, ...(m[2] ? { ref: m[2] } : {}), ...(m[3] ? { refUnprotected: true as const } : {}) };
});

const brokerItem = z.string().refine(isBrokerAddress, 'each broker must be host:port (a hostname or IPv4 address and a port 1-65535)');
const BROKERS_HINT = 'comma-separated host:port of the Kafka brokers';

export const envSchemas = {
  intFrom,
  csv,
  /** Milliseconds as a whole number, within [min, max] (default 0 to one day). */
  durationMs: (min = 0, max = DAY_MS) => intFrom(min, max),
  /** TCP port to listen on; 0 (any free port) is allowed unless `min` says otherwise. */
  port: (defaultPort: number, { min = 0 }: { min?: number } = {}) => intFrom(min, 65535).default(defaultPort),
  /** Interface to listen on: a hostname, an IPv4 or an IPv6 address. */
  host: (defaultHost = '127.0.0.1') =>
    z
      .string()
      .max(253)
      .refine((h) => HOSTNAME.test(h) || IPV6.test(h), 'must be a hostname or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0')
      .default(defaultHost),
  logLevel: () => z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** true/false (or 1/0). */
  flag: (defaultValue = false) =>
    z
      .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1')
      .default(defaultValue),
  /** A directory or file path. */
  path: () => z.string().min(1, 'must be a path'),
  /** Required, at least one broker. Use `kafkaBrokersOptional` where an embedded bus is the alternative. */
  kafkaBrokers: () =>
    text(BROKERS_HINT)
      .transform(splitList)
      .pipe(z.array(brokerItem).min(1, `is required: ${BROKERS_HINT}`)),
  /** Unset or blank = no Kafka (an empty list). */
  kafkaBrokersOptional: () => csv(brokerItem),
  /** A Kafka client id or consumer group id. */
  kafkaId: (defaultId: string) => z.string().regex(KAFKA_ID, 'use 1-200 characters from [A-Za-z0-9._-]').default(defaultId),
  kafkaSessionTimeoutMs: () => intFrom(6000, 300_000).default(30_000),
  /** Base URL of an http(s) service, without trailing slashes. */
  httpUrl: (whatItIs: string) =>
    text(whatItIs)
      .regex(HTTP_URL, `must be ${whatItIs}`)
      .transform((u) => u.replace(/\/+$/, '')),
  gitlabUrl: () => envSchemas.httpUrl('the http(s) base URL of GitLab, e.g. https://gitlab.example.com'),
  gitlabToken: () => text('a GitLab access token with api scope').min(8, 'must be a GitLab access token with api scope'),
  /** A GitLab project id or full path, kept as text. */
  projectRef: () => text('the elevations project id or path, e.g. group/elevations').regex(PROJECT_REF, 'must be a project id or path like group/elevations'),
  gitlabUsername: () => z.string().regex(GITLAB_USERNAME, 'must be a GitLab username'),
  /** Comma-separated CiProjectRule entries (JIT_OIDC_ALLOWED_PROJECTS); unset or blank = an empty list. */
  ciProjects: () => csv(ciProjectItem),
  /** A Standard Webhooks signing secret. */
  signingSecret: () => z.string().regex(WHSEC, 'must be whsec_<base64>'),
  /** Largest accepted request body, in bytes. */
  bodyLimitBytes: () => intFrom(1024, 64 * 1024 * 1024).default(1024 * 1024),
};

/** The ops listener (/healthz, /readyz, /metrics) of every process: JIT_OPS_PORT (9464), JIT_OPS_HOST (loopback). */
export function opsEnv() {
  return { JIT_OPS_PORT: envSchemas.port(9464), JIT_OPS_HOST: envSchemas.host('127.0.0.1') };
}

export function opsFromEnv(e: { JIT_OPS_PORT: number; JIT_OPS_HOST: string }): OpsConfig {
  return { port: e.JIT_OPS_PORT, host: e.JIT_OPS_HOST };
}

/**
 * API authentication of a process that serves an API: JIT_AUTH_CACHE_TTL_MS (how long GitLab's
 * answer about a caller's token is reused; 0 = never) and JIT_OIDC_AUDIENCE (the `aud` of the CI ID
 * tokens accepted; default the process's JIT_PUBLIC_URL; neither = CI ID tokens refused).
 */
export function authEnv() {
  return {
    JIT_AUTH_CACHE_TTL_MS: envSchemas.durationMs(0, 3600_000).default(60_000),
    JIT_OIDC_AUDIENCE: z.string().min(1).max(2048).regex(/^\S+$/, "must be one audience value with no spaces (jit's URL, as jobs set it in id_tokens: aud)").optional(),
    // unset: the elevations project's own pipelines only (the app knows its path once GitLab answered)
    JIT_OIDC_ALLOWED_PROJECTS: envSchemas.ciProjects(),
  };
}

export interface AuthConfig {
  cacheTtlMs: number;
  /** Undefined: CI ID tokens are refused. */
  audience?: string;
  /**
   * JIT_OIDC_ALLOWED_PROJECTS: the projects (and refs) whose CI ID tokens are accepted. Empty
   * (unset): the elevations project only (allowedCiProjects).
   */
  allowedProjects: CiProjectRule[];
}

export function authFromEnv(e: { JIT_AUTH_CACHE_TTL_MS: number; JIT_OIDC_AUDIENCE?: string | undefined; JIT_OIDC_ALLOWED_PROJECTS: CiProjectRule[] }, publicUrl?: string): AuthConfig {
  const audience = e.JIT_OIDC_AUDIENCE ?? publicUrl;
  return { cacheTtlMs: e.JIT_AUTH_CACHE_TTL_MS, ...(audience ? { audience } : {}), allowedProjects: e.JIT_OIDC_ALLOWED_PROJECTS };
}

/** The projects whose CI ID tokens are accepted: the setting, or by default the elevations project alone. */
export function allowedCiProjects(auth: Pick<AuthConfig, 'allowedProjects'> | undefined, elevationsProjectPath: string | undefined): CiProjectRule[] {
  if (auth && auth.allowedProjects.length > 0) return auth.allowedProjects;
  return elevationsProjectPath && !/^\d+$/.test(elevationsProjectPath) ? [{ project: elevationsProjectPath }] : [];
}

const SESSION_KEY_MESSAGE = 'must be comma-separated keys, each 32 random bytes in base64 or base64url (openssl rand -base64 32); the first seals new sessions, every one opens them';

/** JIT_UI_SESSION_KEY: comma-separated keys (first seals, all open), as base64url. */
export const sessionKeysSchema = () =>
  z
    .string()
    .max(4096, SESSION_KEY_MESSAGE)
    .transform((text, ctx) => {
      const keys = text.split(',').map((k) => k.trim());
      if (keys.length > 16 || keys.some((k) => !/^[A-Za-z0-9+/_-]{43}=?$/.test(k))) {
        ctx.addIssue({ code: 'custom', message: SESSION_KEY_MESSAGE });
        return z.NEVER;
      }
      return keys.map((k) => Buffer.from(k, 'base64url').toString('base64url'));
    });

/**
 * The web dashboard (/ui, served by the all-in-one and by the issuer): the GitLab OAuth
 * application's id and secret, how long a session lasts, and the keys sessions are sealed with.
 */
export function dashboardEnv() {
  return {
    JIT_UI_OAUTH_CLIENT_ID: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9_-]{1,255}$/, "must be the GitLab application's id")
      .optional(),
    ...secretEnv('JIT_UI_OAUTH_CLIENT_SECRET', z.string().min(1).max(1024).optional()),
    JIT_UI_SESSION_TTL_MS: envSchemas.durationMs(60_000, 7 * 24 * 3600_000).default(8 * 3600_000),
    ...secretEnv('JIT_UI_SESSION_KEY', sessionKeysSchema().optional()),
  };
}

/** Undefined client id: no OAuth application configured (sandbox mode registers its own; elsewhere no /ui). */
export interface DashboardConfig {
  clientId?: string;
  clientSecret?: string;
  sessionTtlMs: number;
  /** JIT_UI_SESSION_KEY(_FILE): the keys sessions are sealed with (first seals); undefined = none configured. */
  sessionKeys?: SecretSetting<string[]>;
}

export function dashboardFromEnv(e: {
  JIT_UI_OAUTH_CLIENT_ID?: string | undefined;
  JIT_UI_OAUTH_CLIENT_SECRET?: string | undefined;
  JIT_UI_SESSION_TTL_MS: number;
  JIT_UI_SESSION_KEY?: string[] | undefined;
  JIT_UI_SESSION_KEY_FILE?: string | undefined;
}): DashboardConfig {
  const keys = e.JIT_UI_SESSION_KEY;
  return {
    ...(e.JIT_UI_OAUTH_CLIENT_ID ? { clientId: e.JIT_UI_OAUTH_CLIENT_ID } : {}),
    ...(e.JIT_UI_OAUTH_CLIENT_SECRET ? { clientSecret: e.JIT_UI_OAUTH_CLIENT_SECRET } : {}),
    sessionTtlMs: e.JIT_UI_SESSION_TTL_MS,
    ...(keys ? { sessionKeys: { setting: 'JIT_UI_SESSION_KEY', value: keys, ...(e.JIT_UI_SESSION_KEY_FILE ? { file: e.JIT_UI_SESSION_KEY_FILE } : {}) } } : {}),
  };
}

/** A secret with no application to belong to is a mistake worth stopping for. */
export function checkDashboard(env: { JIT_UI_OAUTH_CLIENT_ID?: string | undefined; JIT_UI_OAUTH_CLIENT_SECRET?: string | undefined }, ctx: z.RefinementCtx): void {
  if (env.JIT_UI_OAUTH_CLIENT_SECRET && !env.JIT_UI_OAUTH_CLIENT_ID)
    ctx.addIssue({ code: 'custom', path: ['JIT_UI_OAUTH_CLIENT_ID'], message: 'JIT_UI_OAUTH_CLIENT_SECRET needs JIT_UI_OAUTH_CLIENT_ID (the GitLab application it belongs to)' });
}

/** PORT, HOST, LOG_LEVEL of a distributed app, and its ops listener. */
export function serverEnv(defaultPort: number) {
  return { PORT: envSchemas.port(defaultPort), HOST: envSchemas.host(), LOG_LEVEL: envSchemas.logLevel(), ...opsEnv() };
}

/** Where and how verbosely an app serves; every app config has these. */
export interface ServerConfig {
  port: number;
  host: string;
  logLevel: string;
  /** The ops listener: health, readiness and metrics, never on the public port. */
  ops: OpsConfig;
}

export function serverFromEnv(e: { PORT: number; HOST: string; LOG_LEVEL: string; JIT_OPS_PORT: number; JIT_OPS_HOST: string }): ServerConfig {
  return { port: e.PORT, host: e.HOST, logLevel: e.LOG_LEVEL, ops: opsFromEnv(e) };
}

/**
 * A Kafka consumer: brokers (required), client id, group id (both default to `defaultId`), session
 * timeout, and the connection's TLS/SASL settings (check them with `checkKafkaSecurity`).
 */
export function kafkaConsumerEnv(defaultId: string) {
  return {
    KAFKA_BROKERS: envSchemas.kafkaBrokers(),
    KAFKA_CLIENT_ID: envSchemas.kafkaId(defaultId),
    KAFKA_GROUP_ID: envSchemas.kafkaId(defaultId),
    KAFKA_SESSION_TIMEOUT_MS: envSchemas.kafkaSessionTimeoutMs(),
    ...kafkaSecurityEnv(),
  };
}

export interface KafkaConsumerConfig {
  brokers: string[];
  clientId: string;
  groupId: string;
  sessionTimeoutMs: number;
  security: KafkaSecurity;
}

export function kafkaConsumerFromEnv(e: { KAFKA_BROKERS: string[]; KAFKA_CLIENT_ID: string; KAFKA_GROUP_ID: string; KAFKA_SESSION_TIMEOUT_MS: number } & KafkaSecurityEnv): KafkaConsumerConfig {
  return {
    brokers: e.KAFKA_BROKERS,
    clientId: e.KAFKA_CLIENT_ID,
    groupId: e.KAFKA_GROUP_ID,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    security: kafkaSecurityFromEnv(e),
  };
}

/** The bus of an app that runs on Kafka (KAFKA_BROKERS, with its TLS/SASL settings) or on an embedded log (JIT_BUS_DIR): exactly one. */
export function busEnv(defaultClientId: string) {
  return {
    KAFKA_BROKERS: envSchemas.kafkaBrokersOptional(),
    KAFKA_CLIENT_ID: envSchemas.kafkaId(defaultClientId),
    JIT_BUS_DIR: envSchemas.path().optional(),
    ...kafkaSecurityEnv(),
  };
}

/** busEnv for an app that consumes as a member of a Kafka consumer group: KAFKA_SESSION_TIMEOUT_MS too (unused on an embedded bus). */
export function busConsumerEnv(defaultClientId: string) {
  return { ...busEnv(defaultClientId), KAFKA_SESSION_TIMEOUT_MS: envSchemas.kafkaSessionTimeoutMs() };
}

type BusEnv = {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID: string;
  JIT_BUS_DIR?: string | undefined;
  /** Only in busConsumerEnv. */
  KAFKA_SESSION_TIMEOUT_MS?: number | undefined;
} & KafkaSecurityEnv;

export type BusConfig = { kind: 'kafka'; brokers: string[]; clientId: string; security: KafkaSecurity; /** From busConsumerEnv. */ sessionTimeoutMs?: number } | { kind: 'embedded'; dir: string };

/** For `.superRefine`: refuses neither and both of KAFKA_BROKERS and JIT_BUS_DIR, and inconsistent Kafka security. */
export function checkBusChoice(env: BusEnv, ctx: z.RefinementCtx): void {
  if (env.KAFKA_BROKERS.length === 0 && !env.JIT_BUS_DIR) {
    ctx.addIssue({ code: 'custom', path: ['KAFKA_BROKERS'], message: 'set KAFKA_BROKERS (or JIT_BUS_DIR for an embedded bus)' });
  }
  if (env.KAFKA_BROKERS.length > 0 && env.JIT_BUS_DIR) {
    ctx.addIssue({ code: 'custom', path: ['JIT_BUS_DIR'], message: 'set KAFKA_BROKERS or JIT_BUS_DIR, not both' });
  }
  checkKafkaSecurity(env, ctx, env.KAFKA_BROKERS.length > 0);
}

export function busFromEnv(e: BusEnv): BusConfig {
  return e.KAFKA_BROKERS.length > 0
    ? {
        kind: 'kafka',
        brokers: e.KAFKA_BROKERS,
        clientId: e.KAFKA_CLIENT_ID,
        security: kafkaSecurityFromEnv(e),
        ...(e.KAFKA_SESSION_TIMEOUT_MS !== undefined ? { sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS } : {}),
      }
    : { kind: 'embedded', dir: e.JIT_BUS_DIR! };
}

/** GITLAB_URL, GITLAB_TOKEN (or GITLAB_TOKEN_FILE) and JIT_ELEVATIONS_PROJECT, all required. */
export function gitlabEnv() {
  return { GITLAB_URL: envSchemas.gitlabUrl(), ...secretEnv('GITLAB_TOKEN', envSchemas.gitlabToken()), JIT_ELEVATIONS_PROJECT: envSchemas.projectRef() };
}

/** `tokenFile`: GITLAB_TOKEN_FILE, which the app watches so a rotated token is used by the next call. */
export function gitlabFromEnv(e: { GITLAB_URL: string; GITLAB_TOKEN: string; GITLAB_TOKEN_FILE?: string | undefined; JIT_ELEVATIONS_PROJECT: string }): {
  gitlab: { url: string; token: string; tokenFile?: string };
  elevationsProject: string | number;
} {
  return {
    gitlab: { url: e.GITLAB_URL, token: e.GITLAB_TOKEN, ...(e.GITLAB_TOKEN_FILE ? { tokenFile: e.GITLAB_TOKEN_FILE } : {}) },
    elevationsProject: projectId(e.JIT_ELEVATIONS_PROJECT),
  };
}

/**
 * The live GitLab token of a parsed `gitlab` config: GITLAB_TOKEN as it is, or GITLAB_TOKEN_FILE
 * re-read when it is rotated. Pass `gitlabClientToken(source)` as createGitlabClient's token; close it on stop.
 */
export function openGitlabToken(gitlab: { token: string; tokenFile?: string | undefined }, logger?: SecretLog, options: { pollMs?: number } = {}): SecretSource<string> {
  return openSecret({
    setting: 'GITLAB_TOKEN',
    value: gitlab.token,
    ...(gitlab.tokenFile ? { file: gitlab.tokenFile } : {}),
    schema: envSchemas.gitlabToken(),
    ...(logger ? { logger } : {}),
    ...options,
  });
}

/**
 * createGitlabClient's token for a source: a function (asked at every request, a 401 retried as a
 * rotation's gap) only when the token comes from GITLAB_TOKEN_FILE; a fixed GITLAB_TOKEN is the
 * string, so GitLab refusing it is final (JIT_ERR_GITLAB_FORBIDDEN), not retried as a rotation.
 */
export function gitlabClientToken(source: SecretSource<string>): string | (() => string) {
  return source.file ? source.current : source.current();
}

/** A numeric project reference as the number GitLab's API takes; a path as it is. */
export function projectId(ref: string): string | number {
  return /^\d+$/.test(ref) ? Number(ref) : ref;
}
