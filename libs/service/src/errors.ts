// Error catalogue of @jit/service (codes documented in docs/errors.md under "## service").
import { defineError } from '@jit/errors';

/** The environment of a jit process is invalid; the message names every bad setting, never a value. */
export const ConfigInvalid = defineError<[string]>('JIT_ERR_SERVICE_CONFIG_INVALID', 'invalid configuration: %s; fix the named settings and start again', { statusCode: 500 });
