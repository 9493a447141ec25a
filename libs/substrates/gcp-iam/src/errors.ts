// Error catalogue of the GCP IAM Credentials adapter (JIT_ERR_GCPIAM_*), documented in
// docs/errors.md under "## substrate-gcp-iam". Generic failures use @jit/substrates' codes.
import { defineError } from '@jit/errors';

export const GcpIamAlreadyIssued = defineError<[string, string]>(
  'JIT_ERR_GCPIAM_ALREADY_ISSUED',
  'grant %s already has an access token from this instance (%s); GCP tokens cannot be revoked, so a second one is refused — use the first, or open a new elevation request',
  { retriable: false, statusCode: 409 },
);

/** Every code this lib defines (the docs test checks each is in docs/errors.md). */
export const GCP_IAM_ERRORS = [GcpIamAlreadyIssued] as const;
