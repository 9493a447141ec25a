// Error catalogue of libs/gate.
import { defineError } from '@jit/errors';

export const GateMalformedEvent = defineError<[string, string]>(
  'JIT_ERR_GATE_MALFORMED_EVENT',
  'event %s on jit.gitlab.v1 is not a normalized GitLab webhook (%s); it is dead-lettered — check the webhook-ingest version',
  { statusCode: 422 },
);

export const GateNotStarted = defineError<[string]>(
  'JIT_ERR_GATE_NOT_STARTED',
  'the approval gate cannot %s before start() has rebuilt its state from jit.elevations.v1',
  { retriable: true, statusCode: 503 },
);
