// Error catalogue of the GitLab sandbox (the simulator's own errors, not the GitLab-shaped
// HTTP answers it gives its clients, which are built in http-error.ts).
import { defineError } from '@jit/errors';

export const SandboxSeedInvalid = defineError<[string]>(
  'JIT_ERR_SANDBOX_SEED_INVALID',
  'The sandbox seed is invalid: %s. Fix the seed YAML (see libs/gitlab-sandbox/README.md, "Seed format").',
);

export const SandboxSeedUnknownRef = defineError<[string]>(
  'JIT_ERR_SANDBOX_SEED_UNKNOWN_REF',
  'The sandbox seed refers to something it does not define: %s. Declare it in the seed first.',
);

export const SandboxNotFound = defineError<[string]>(
  'JIT_ERR_SANDBOX_NOT_FOUND',
  'The sandbox has no %s. Check the id or path passed to the admin API.',
  { statusCode: 404 },
);

export const SandboxBadArgument = defineError<[string]>(
  'JIT_ERR_SANDBOX_BAD_ARGUMENT',
  'Invalid argument to the sandbox admin API: %s.',
  { statusCode: 400 },
);
