// notifier configuration: read from the environment once, here, and passed down as a plain object.
// A bad setting stops the process with a message naming it (never echoing a secret: the webhook
// URLs of JIT_NOTIFY_CHANNELS are secrets).
import { z } from 'zod';
import {
  checkKafkaSecurity,
  envSchemas as s,
  gitlabEnv,
  gitlabFromEnv,
  kafkaConsumerEnv,
  kafkaConsumerFromEnv,
  opsEnv,
  opsFromEnv,
  parseEnv,
  signingEnv,
  signingFromEnv,
  type KafkaConsumerConfig,
  type SigningConfig,
} from '@jit/service';
import type { OpsConfig } from '@jit/service';
import { checkNotifyBudget, checkSink, notifyEnv, notifyFromEnv, sinkEnv, sinkFromEnv, type NotifyConfig, type SinkConfig } from '@jit/notify';

export { ConfigError } from '@jit/service';

const EnvSchema = z
  .object({
    ...kafkaConsumerEnv('jit-notifier'),
    // the policy in force (its notifications) is read from GitLab at the commit the log ratified
    ...gitlabEnv(),
    ...notifyEnv(),
    // the optional HTTP sink: every event, in signed CloudEvents batches, to a SIEM
    ...sinkEnv(),
    JIT_PUBLIC_URL: s.httpUrl('the http(s) URL users reach jit at').optional(),
    JIT_POLICY_REFRESH_MS: s.durationMs(1_000).default(60_000),
    // what a gate, an issuer and a revoker must sign is announced only when they did
    ...signingEnv({ keyFile: false, gate: true, issuer: true, revoker: true }),
    LOG_LEVEL: s.logLevel(),
    ...opsEnv(),
  })
  .superRefine((env, ctx) => {
    checkKafkaSecurity(env, ctx);
    checkNotifyBudget(env, env.KAFKA_SESSION_TIMEOUT_MS, ctx);
    checkSink(env, env.KAFKA_SESSION_TIMEOUT_MS, ctx);
  });

export interface NotifierAppConfig {
  kafka: KafkaConsumerConfig;
  gitlab: { url: string; token: string; tokenFile?: string };
  elevationsProject: string | number;
  notify: NotifyConfig;
  /** The HTTP sink, when JIT_SINK_URL is set. */
  sink?: SinkConfig;
  publicUrl?: string;
  policyRefreshMs: number;
  signing: SigningConfig;
  logLevel: string;
  ops: OpsConfig;
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>, readFile?: (path: string) => string): NotifierAppConfig {
  const e = parseEnv(EnvSchema, env, { service: 'notifier', ...(readFile ? { readSecretFile: readFile } : {}) });
  return {
    kafka: kafkaConsumerFromEnv(e),
    ...gitlabFromEnv(e),
    notify: notifyFromEnv(e),
    ...(sinkFromEnv(e) ? { sink: sinkFromEnv(e)! } : {}),
    ...(e.JIT_PUBLIC_URL ? { publicUrl: e.JIT_PUBLIC_URL } : {}),
    policyRefreshMs: e.JIT_POLICY_REFRESH_MS,
    signing: signingFromEnv(e, undefined),
    logLevel: e.LOG_LEVEL,
    ops: opsFromEnv(e),
  };
}
