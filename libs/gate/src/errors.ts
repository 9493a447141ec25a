// Error catalogue of libs/gate.
import { defineError } from '@jit/errors';

export const GateMalformedEvent = defineError<[string, string]>(
  'JIT_ERR_GATE_MALFORMED_EVENT',
  'event %s on jit.gitlab.v1 is not a normalized GitLab webhook (%s); it is dead-lettered — check the webhook-ingest version',
  { statusCode: 422 },
);

export const GateNotStarted = defineError<[string]>('JIT_ERR_GATE_NOT_STARTED', 'the approval gate cannot %s before start() has rebuilt its state from jit.elevations.v1', {
  retriable: true,
  statusCode: 503,
});

export const GateReconcileFailed = defineError<[string]>(
  'JIT_ERR_GATE_RECONCILE_FAILED',
  'reconciliation with GitLab failed (%s); nothing is lost — the next run (every reconcileIntervalMs) starts over: check that GitLab and the bus are reachable',
  { retriable: true, statusCode: 503 },
);

export const GateInvalidOption = defineError<[string]>('JIT_ERR_GATE_INVALID_OPTION', 'approval gate option %s; fix the value the app passes (see libs/gate/README.md)', { statusCode: 500 });
