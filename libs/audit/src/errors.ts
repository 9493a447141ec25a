// Error catalogue of the audit lib (JIT_ERR_AUDIT_*): the event stream route and reading exports.
import { defineError } from '@jit/errors';

export const EventsUnauthenticated = defineError<[]>('JIT_ERR_AUDIT_UNAUTHENTICATED', 'the event stream needs a caller: send your GitLab token or a GitLab CI ID token (Authorization: Bearer)', {
  statusCode: 401,
});
export const EventsNotAuditor = defineError<[string]>(
  'JIT_ERR_AUDIT_NOT_AUDITOR',
  "%s is not an auditor: the event stream holds every elevation, so only users or groups under the policy's `auditors:` may read it",
  { statusCode: 403 },
);
export const EventsBadQuery = defineError<[string]>('JIT_ERR_AUDIT_BAD_QUERY', 'bad query: %s', { statusCode: 400 });
export const EventsBusy = defineError<[number]>('JIT_ERR_AUDIT_STREAMS_BUSY', 'already %s event streams open; close one or retry later', { statusCode: 503, retriable: true });
export const LineTooLong = defineError<[number, number]>('JIT_ERR_AUDIT_LINE_TOO_LONG', 'line %s is longer than %s bytes: not a jit event (skipped; nothing after it is lost)');
export const LineNotJson = defineError<[number, string]>('JIT_ERR_AUDIT_LINE_NOT_JSON', 'line %s is not a JSON object (%s)');
