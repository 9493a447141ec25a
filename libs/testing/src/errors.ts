// Error catalogue of the test harness: what went wrong starting or probing a real service.
import { defineError } from '@jit/errors';

export const TestingErrors = {
  notInstalled: defineError<[what: string, path: string]>('JIT_ERR_TESTING_NOT_INSTALLED', '%s is not installed (missing %s). Run `npm run services:setup` (scripts/services/setup.sh) first.'),
  startFailed: defineError<[service: string, reason: string, logFile: string]>('JIT_ERR_TESTING_START_FAILED', '%s did not start: %s. Its output is in %s.', { retriable: true }),
  timeout: defineError<[what: string, ms: number]>('JIT_ERR_TESTING_TIMEOUT', 'timed out waiting for %s after %s ms. The condition never held: check the service log or raise timeoutMs.', {
    retriable: true,
  }),
  badEnv: defineError<[key: string, expected: string]>(
    'JIT_ERR_TESTING_BAD_ENV',
    'environment variable %s is malformed: expected %s. Fix or unset it (scripts/services/start.sh writes it to .cache/services/env).',
  ),
  badName: defineError<[reason: string]>('JIT_ERR_TESTING_BAD_NAME', 'uniqueName prefix rejected: %s. Use a short prefix of letters, digits, "-" or "_".'),
  badArgument: defineError<[reason: string]>('JIT_ERR_TESTING_BAD_ARGUMENT', 'bad argument: %s.'),
  probeFailed: defineError<[service: string, reason: string]>('JIT_ERR_TESTING_PROBE_FAILED', '%s is not ready: %s. Wait for it to start or look at its log.', { retriable: true }),
} as const;
