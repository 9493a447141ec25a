// Error catalogue of the revoker (JIT_ERR_REVOKER_*).
import { defineError } from '@jit/errors';

export const CannotRevokeEarly = defineError<[string, string]>(
  'JIT_ERR_REVOKER_CANNOT_REVOKE_EARLY',
  'the %s substrate cannot end this credential before its natural expiry at %s; it is reported expired then',
);
export const RevokeFailed = defineError<[string, string]>('JIT_ERR_REVOKER_REVOKE_FAILED', 'revoking on %s failed (%s); retrying with backoff until it succeeds', { retriable: true });
