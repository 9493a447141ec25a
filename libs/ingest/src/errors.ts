// The ingest error catalogue (JIT_ERR_INGEST_*). Documented in docs/errors.md under "## ingest".
// Every one reaches GitLab as an HTTP answer; none carries a token, signature or body.
import { defineError } from '@jit/errors';

export const Unauthorized = defineError<[string]>('JIT_ERR_INGEST_UNAUTHORIZED', "webhook delivery not authenticated (%s): set the hook's secret token / signing token to one the ingest accepts", {
  statusCode: 401,
});
export const MalformedJson = defineError<[string]>('JIT_ERR_INGEST_MALFORMED_JSON', 'webhook body is not valid JSON (%s): send the GitLab payload unmodified as application/json', { statusCode: 400 });
export const InvalidPayload = defineError<[string]>('JIT_ERR_INGEST_INVALID_PAYLOAD', "webhook payload lacks fields jit needs: %s; send GitLab's payload unmodified (GitLab 16.11 or later)", {
  statusCode: 400,
});
export const MissingHeader = defineError<[string]>('JIT_ERR_INGEST_MISSING_HEADER', 'webhook request lacks a usable %s header; deliveries must come from a GitLab webhook', { statusCode: 400 });
export const BadRequest = defineError<[string]>('JIT_ERR_INGEST_BAD_REQUEST', 'webhook request rejected (%s); send the GitLab payload unmodified', { statusCode: 400 });
export const TooLarge = defineError<[number]>('JIT_ERR_INGEST_TOO_LARGE', 'webhook body exceeds the %s byte limit; raise JIT_INGEST_BODY_LIMIT if GitLab payloads are legitimately that large', {
  statusCode: 413,
});
export const UnsupportedMediaType = defineError<[string]>('JIT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE', 'webhook content type %s is not supported; GitLab sends application/json', { statusCode: 415 });
export const Unavailable = defineError<[string]>('JIT_ERR_INGEST_UNAVAILABLE', 'webhook not stored: %s; GitLab will retry the delivery, nothing is lost', { statusCode: 503, retriable: true });
export const InvalidConfig = defineError<[string]>('JIT_ERR_INGEST_CONFIG', 'invalid webhook-ingest configuration: %s', { statusCode: 500 });
export const DedupeStoreFailed = defineError<[string]>('JIT_ERR_INGEST_DEDUPE_STORE', 'the de-duplication store failed (%s); check the data directory is writable and has free space', {
  statusCode: 500,
  retriable: true,
});
