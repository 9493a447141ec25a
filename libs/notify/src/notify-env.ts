// The notifier's settings in the libs/service vocabulary, shared by apps/notifier and apps/jit
// (each app parses them once, at its edge). JIT_NOTIFY_CHANNELS is a secret: a JSON object of
// channel name → webhook URL (Slack and Teams put their credential in the URL), from the setting
// or from JIT_NOTIFY_CHANNELS_FILE (re-read when rotated). Values are never echoed in a problem.
import { z } from 'zod';
import { envSchemas as s, secretEnv, secretSetting, type SecretSetting } from '@jit/service';
import type { RetrySettings } from './post-json';

const CHANNEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/;

/** JIT_NOTIFY_CHANNELS' content: `{"security":"https://hooks.slack.com/services/…", …}`. */
export const notifyChannelsSchema = () =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of channel name to webhook URL, e.g. {"security":"https://hooks.slack.com/services/…"}' });
        return z.NEVER;
      }
    })
    .pipe(
      z.record(
        z.string().regex(CHANNEL_NAME, 'channel names are letters, digits, . _ - (max 63), as in policy.yaml'),
        z.string().max(2048, 'a URL of at most 2048 characters').regex(HTTP_URL, 'each channel needs an http(s) URL'),
        { error: 'must be a JSON object of channel name to webhook URL' },
      ),
    );

export function notifyEnv() {
  return {
    ...secretEnv('JIT_NOTIFY_CHANNELS', notifyChannelsSchema().optional()),
    JIT_NOTIFY_MAX_ATTEMPTS: s.intFrom(1, 20).default(5),
    JIT_NOTIFY_RETRY_BASE_MS: s.durationMs(1, 60_000).default(500),
    JIT_NOTIFY_RETRY_MAX_MS: s.durationMs(1, 300_000).default(2_000),
    JIT_NOTIFY_TIMEOUT_MS: s.durationMs(100, 60_000).default(2_500),
  };
}

type NotifyEnv = {
  JIT_NOTIFY_CHANNELS?: Record<string, string> | undefined;
  JIT_NOTIFY_CHANNELS_FILE?: string | undefined;
  JIT_NOTIFY_MAX_ATTEMPTS: number;
  JIT_NOTIFY_RETRY_BASE_MS: number;
  JIT_NOTIFY_RETRY_MAX_MS: number;
  JIT_NOTIFY_TIMEOUT_MS: number;
};

export interface NotifyConfig {
  /** Channel name → URL (secret; `file` when from JIT_NOTIFY_CHANNELS_FILE). */
  channels: SecretSetting<Record<string, string>>;
  retry: RetrySettings;
}

export function notifyFromEnv(e: NotifyEnv): NotifyConfig {
  const channels = secretSetting(e, 'JIT_NOTIFY_CHANNELS');
  return {
    channels: { ...channels, value: channels.value ?? {} },
    retry: { maxAttempts: e.JIT_NOTIFY_MAX_ATTEMPTS, baseMs: e.JIT_NOTIFY_RETRY_BASE_MS, maxMs: e.JIT_NOTIFY_RETRY_MAX_MS, timeoutMs: e.JIT_NOTIFY_TIMEOUT_MS },
  };
}

/** Longest an event's deliveries can take: every attempt timing out, every backoff at its cap. */
export function worstDeliveryMs(r: RetrySettings): number {
  return r.maxAttempts * r.timeoutMs + (r.maxAttempts - 1) * r.maxMs;
}

/**
 * A Kafka member that handles one message longer than its session timeout is taken for dead and
 * its partitions move (the event is then delivered twice): the worst delivery must fit well inside.
 */
export function checkNotifyBudget(e: NotifyEnv, sessionTimeoutMs: number | undefined, ctx: z.RefinementCtx): void {
  if (sessionTimeoutMs === undefined) return;
  const r = notifyFromEnv(e).retry;
  const worst = worstDeliveryMs(r);
  if (worst > sessionTimeoutMs * 0.8) {
    ctx.addIssue({
      code: 'custom',
      path: ['JIT_NOTIFY_MAX_ATTEMPTS'],
      message: `attempts × JIT_NOTIFY_TIMEOUT_MS + backoffs (up to ${worst} ms) must stay under 80% of KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs} ms): fewer attempts, a shorter timeout or backoff, or a longer session timeout`,
    });
  }
}

/** The HTTP sink's settings: off unless JIT_SINK_URL (or its file) is set; then JIT_SINK_SECRET is required. */
export function sinkEnv() {
  return {
    ...secretEnv('JIT_SINK_URL', s.httpUrl('the http(s) URL the SIEM receives batches at').optional()),
    ...secretEnv('JIT_SINK_SECRET', s.signingSecret().optional()),
    JIT_SINK_GROUP_ID: s.kafkaId('jit-sink'),
    JIT_SINK_BATCH_MAX: s.intFrom(1, 1000).default(100),
    JIT_SINK_LINGER_MS: s.durationMs(0, 10_000).default(200),
    JIT_SINK_MAX_ATTEMPTS: s.intFrom(1, 20).default(5),
    JIT_SINK_RETRY_BASE_MS: s.durationMs(1, 60_000).default(500),
    JIT_SINK_RETRY_MAX_MS: s.durationMs(1, 300_000).default(2_000),
    JIT_SINK_TIMEOUT_MS: s.durationMs(100, 60_000).default(2_500),
  };
}

type SinkEnv = {
  JIT_SINK_URL?: string | undefined;
  JIT_SINK_URL_FILE?: string | undefined;
  JIT_SINK_SECRET?: string | undefined;
  JIT_SINK_SECRET_FILE?: string | undefined;
  JIT_SINK_GROUP_ID: string;
  JIT_SINK_BATCH_MAX: number;
  JIT_SINK_LINGER_MS: number;
  JIT_SINK_MAX_ATTEMPTS: number;
  JIT_SINK_RETRY_BASE_MS: number;
  JIT_SINK_RETRY_MAX_MS: number;
  JIT_SINK_TIMEOUT_MS: number;
};

export interface SinkConfig {
  url: SecretSetting<string>;
  secret: SecretSetting<string>;
  groupId: string;
  maxEvents: number;
  lingerMs: number;
  retry: RetrySettings;
}

/** The sink's config, or undefined when JIT_SINK_URL is not set. */
export function sinkFromEnv(e: SinkEnv): SinkConfig | undefined {
  if (!e.JIT_SINK_URL || !e.JIT_SINK_SECRET) return undefined;
  const url = secretSetting(e, 'JIT_SINK_URL');
  const secret = secretSetting(e, 'JIT_SINK_SECRET');
  return {
    url: { ...url, value: e.JIT_SINK_URL },
    secret: { ...secret, value: e.JIT_SINK_SECRET },
    groupId: e.JIT_SINK_GROUP_ID,
    maxEvents: e.JIT_SINK_BATCH_MAX,
    lingerMs: e.JIT_SINK_LINGER_MS,
    retry: { maxAttempts: e.JIT_SINK_MAX_ATTEMPTS, baseMs: e.JIT_SINK_RETRY_BASE_MS, maxMs: e.JIT_SINK_RETRY_MAX_MS, timeoutMs: e.JIT_SINK_TIMEOUT_MS },
  };
}

/** JIT_SINK_URL needs JIT_SINK_SECRET; a batch (linger + retries) must fit in the Kafka session. */
export function checkSink(e: SinkEnv, sessionTimeoutMs: number | undefined, ctx: z.RefinementCtx): void {
  if (e.JIT_SINK_URL && !e.JIT_SINK_SECRET) {
    ctx.addIssue({ code: 'custom', path: ['JIT_SINK_SECRET'], message: 'required with JIT_SINK_URL: every batch is signed (Standard Webhooks, whsec_<base64>; or JIT_SINK_SECRET_FILE)' });
  }
  if (!e.JIT_SINK_URL || sessionTimeoutMs === undefined) return;
  const worst = e.JIT_SINK_LINGER_MS + worstDeliveryMs({ maxAttempts: e.JIT_SINK_MAX_ATTEMPTS, baseMs: e.JIT_SINK_RETRY_BASE_MS, maxMs: e.JIT_SINK_RETRY_MAX_MS, timeoutMs: e.JIT_SINK_TIMEOUT_MS });
  if (worst > sessionTimeoutMs * 0.8) {
    ctx.addIssue({
      code: 'custom',
      path: ['JIT_SINK_MAX_ATTEMPTS'],
      message: `JIT_SINK_LINGER_MS + attempts × JIT_SINK_TIMEOUT_MS + backoffs (up to ${worst} ms) must stay under 80% of KAFKA_SESSION_TIMEOUT_MS (${sessionTimeoutMs} ms)`,
    });
  }
}
