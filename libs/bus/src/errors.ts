// The bus error catalogue (JIT_ERR_BUS_*). Documented in docs/errors.md under "## bus".
import { defineError } from '@jit/errors';

/** The broker (or the embedded log's disk) did not accept the operation in time; try again. */
export const BusUnavailable = defineError<[string]>('JIT_ERR_BUS_UNAVAILABLE', 'the event bus is unavailable (%s); the event was not acknowledged, publish it again once the bus is back', {
  retriable: true,
  statusCode: 503,
});
/**
 * The consumer may no longer hold the partition of the message it is handling (Kafka: its session
 * expired while it was paused or busy, or the group rebalanced since the delivery began): another
 * member handles the message now. The handler must not make its side effect visible; the bus
 * neither commits nor dead-letters the message.
 */
export const BusPartitionLost = defineError<[string, number]>(
  'JIT_ERR_BUS_PARTITION_LOST',
  'this consumer may no longer hold partition %s/%s (its group session expired or the group rebalanced while the message was handled); the member that holds it now handles the message',
  { retriable: true, statusCode: 503 },
);
export const BusClosed = defineError('JIT_ERR_BUS_CLOSED', 'the event bus was closed; create a new bus instance to publish or subscribe', { statusCode: 503 });
export const InvalidTopic = defineError<[string]>('JIT_ERR_BUS_INVALID_TOPIC', 'invalid topic name %s: use 1-249 characters from [a-zA-Z0-9._-], not "." or ".."', { statusCode: 400 });
export const InvalidKey = defineError<[string]>('JIT_ERR_BUS_INVALID_KEY', 'invalid event key (%s): the key must be a non-empty string of at most 1024 bytes', { statusCode: 400 });
export const InvalidEvent = defineError<[string]>('JIT_ERR_BUS_INVALID_EVENT', 'invalid CloudEvent (%s): publish a JSON-serialisable object with specversion "1.0" and non-empty id, source and type', {
  statusCode: 400,
});
export const EventTooLarge = defineError<[number, number]>('JIT_ERR_BUS_EVENT_TOO_LARGE', 'event is %s bytes serialised, over the %s byte limit; put large payloads elsewhere and reference them', {
  statusCode: 413,
});
export const InvalidOptions = defineError<[string]>('JIT_ERR_BUS_INVALID_OPTIONS', 'invalid bus options: %s', { statusCode: 400 });
export const MalformedMessage = defineError<[string]>(
  'JIT_ERR_BUS_MALFORMED_MESSAGE',
  'a message on the topic is not a CloudEvents JSON document (%s); it was moved to the dead-letter topic unhandled',
);
export const DirectoryLocked = defineError<[string, number]>(
  'JIT_ERR_BUS_LOCKED',
  'the embedded bus directory %s is in use by process %s; the embedded bus is single-process: stop that process or use another directory (or Kafka)',
);
export const StorageFailed = defineError<[string]>(
  'JIT_ERR_BUS_STORAGE_FAILED',
  'the embedded bus could not write to disk (%s); the event was not acknowledged: check free space and permissions, then retry',
  { retriable: true, statusCode: 503 },
);
export const LogCorrupt = defineError<[string]>('JIT_ERR_BUS_LOG_CORRUPT', 'the embedded bus log is corrupt (%s); restore the directory from a backup or move the damaged file aside');
/** Only used to label dead-lettered messages whose handler threw an error without a JIT code. */
export const HandlerFailed = defineError('JIT_ERR_BUS_HANDLER_FAILED', 'the handler threw an error without a JIT_ERR code; the message was dead-lettered after its attempts');
export const BusRejected = defineError<[string]>(
  'JIT_ERR_BUS_REJECTED',
  'the broker refused the request (%s); retrying the same request will not help: check the topic, its configuration and the client permissions',
);
export const BusAuthFailed = defineError<[string]>('JIT_ERR_BUS_AUTH_FAILED', 'Kafka SASL authentication failed: %s', { statusCode: 503 });
export const BusTlsFailed = defineError<[string]>('JIT_ERR_BUS_TLS_FAILED', 'TLS with Kafka failed: %s', { statusCode: 503 });
