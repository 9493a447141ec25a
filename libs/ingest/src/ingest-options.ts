// The options of the webhook intake plugin (ingestPlugin).
import type { FastifyUnderPressureOptions } from '@fastify/under-pressure';
import type { Logger } from 'pino';
import type { EventBus } from '@jit/bus';
import type { Registry } from '@jit/observability';
import type { DedupeStore, DedupeStoreOptions } from './dedupe-store';
import type { AuthOptions } from './verify-delivery';

export interface IngestPluginOptions {
  bus: EventBus;
  auth: AuthOptions;
  /** An open store, or options to open one (the plugin then closes it). Default: memory only. */
  dedupe?: DedupeStore | DedupeStoreOptions;
  /** Largest accepted body in bytes. Default 1 MiB. */
  bodyLimit?: number;
  /** Longest wait for the bus to acknowledge before answering 503. Default 5000 ms (GitLab gives up at 10 s). */
  publishTimeoutMs?: number;
  /** Default TOPIC_GITLAB. */
  topic?: string;
  /** CloudEvent `source`. Default `/jit/webhook-ingest`. */
  source?: string;
  /** Default `/webhooks/gitlab`. */
  path?: string;
  /** Where metrics are registered; default a fresh registry (served on /metrics when metricsRoute). */
  registry?: Registry;
  /** Serve GET /healthz and GET /readyz. Default true. */
  healthRoutes?: boolean;
  /** Serve GET /metrics from `registry`. Default true; the all-in-one app serves its own. */
  metricsRoute?: boolean;
  /** Load shedding on the webhook route (503 + Retry-After); false when the host app sheds itself. */
  underPressure?: false | FastifyUnderPressureOptions;
  /** Retry-After seconds on 503. Default 5. */
  retryAfterSeconds?: number;
  /** Delivery log lines go here; default the fastify logger. */
  logger?: Logger;
  /** Deepest JSON nesting accepted (hostile bodies). Default 64. */
  maxJsonDepth?: number;
}
