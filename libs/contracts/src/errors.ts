// Error catalogue of libs/contracts. Documented in docs/errors.md (## contracts).
import { defineError } from '@jit/errors';

/** An event's envelope or data does not match its published schema. details.problems lists every one. */
export const InvalidEvent = defineError<[string, string]>('JIT_ERR_CONTRACTS_INVALID_EVENT', 'event %s does not match its schema: %s; fix the producer (schemas: libs/contracts/schemas)', {
  statusCode: 400,
});

/** An event type this version of jit does not know. */
export const UnknownEventType = defineError<[string]>(
  'JIT_ERR_CONTRACTS_UNKNOWN_EVENT_TYPE',
  'unknown event type %s; expected one of EVENT_TYPES in @jit/contracts (upgrade the consumer if a newer producer emits it)',
  { statusCode: 400 },
);

/** Event data contains something shaped like a secret; the event is refused before it leaves the process. */
export const SecretInEvent = defineError<[string, string]>(
  'JIT_ERR_CONTRACTS_SECRET_IN_EVENT',
  'event %s: field %s looks like a secret (credential URL, token or private key); events must never carry secrets — seal it or drop it',
  { statusCode: 500 },
);

/** A duration string is not `<int>(s|m|h|d)` (compound allowed), or is zero / above 30 days. */
export const InvalidDuration = defineError<[string]>('JIT_ERR_CONTRACTS_INVALID_DURATION', 'invalid duration: %s; write it like 30m, 2h or 1h30m (units s, m, h, d; > 0 and at most 30d)', {
  statusCode: 400,
});

/** A signing key (private key file or published public key) that jit cannot use. Never quotes the key. */
export const InvalidSigningKey = defineError<[string]>('JIT_ERR_CONTRACTS_INVALID_SIGNING_KEY', 'invalid signing key: %s', { statusCode: 400 });
