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
