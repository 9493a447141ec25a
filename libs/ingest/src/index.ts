// Public API of @jit/ingest: the GitLab webhook intake plugin and its parts (verifier, dedupe store, metrics, errors).
export { ingestPlugin } from './ingest-plugin';
export { jsonNestingExceeds } from './json-nesting';
export type { IngestPluginOptions } from './ingest-options';
export { DedupeStore, DELIVERY_ID_RE } from './dedupe-store';
export type { DedupeStoreOptions } from './dedupe-store';
export { createDeliveryVerifier, DEFAULT_SECRET_GRACE_MS } from './verify-delivery';
export type { AuthOptions, DeliveryVerifier, RotatingSecret, VerifyResult } from './verify-delivery';
export { createIngestMetrics, DELIVERY_OUTCOMES } from './ingest-metrics';
export type { DeliveryOutcome, IngestMetrics } from './ingest-metrics';
export { Unauthorized, MalformedJson, InvalidPayload, MissingHeader, BadRequest, TooLarge, UnsupportedMediaType, Unavailable, InvalidConfig, DedupeStoreFailed } from './errors';
