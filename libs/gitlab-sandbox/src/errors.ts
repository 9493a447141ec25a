// Error catalogue of the GitLab sandbox (the simulator's own errors, not the GitLab-shaped
// HTTP answers it gives its clients, which are built in http-error.ts).
import { defineError } from '@jit/errors';

export const SandboxSeedInvalid = defineError<[string]>('JIT_ERR_SANDBOX_SEED_INVALID', 'The sandbox seed is invalid: %s. Fix the seed YAML (see libs/gitlab-sandbox/README.md, "Seed format").');

export const SandboxSeedUnknownRef = defineError<[string]>('JIT_ERR_SANDBOX_SEED_UNKNOWN_REF', 'The sandbox seed refers to something it does not define: %s. Declare it in the seed first.');

export const SandboxNotFound = defineError<[string]>('JIT_ERR_SANDBOX_NOT_FOUND', 'The sandbox has no %s. Check the id or path passed to the admin API.', { statusCode: 404 });

export const SandboxBadArgument = defineError<[string]>('JIT_ERR_SANDBOX_BAD_ARGUMENT', 'Invalid argument to the sandbox admin API: %s.', { statusCode: 400 });

export const SandboxStateCorrupt = defineError<[string, string]>(
  'JIT_ERR_SANDBOX_STATE_CORRUPT',
  'The sandbox state file %s cannot be loaded: %s. Nothing was changed. Restore it from a backup, or move it away to start the sandbox afresh from its seed (its merge requests and ids are then lost; in `npm start` delete the whole data directory, or new requests reuse old elevation ids).',
);

export const SandboxStateVersion = defineError<[string, string]>(
  'JIT_ERR_SANDBOX_STATE_VERSION',
  'The sandbox state file %s has format version %s, which this version of jit cannot read. Run the jit version that wrote it, or move the file away to start the sandbox afresh from its seed.',
);

export const SandboxStateTooLarge = defineError<[string, number, number]>(
  'JIT_ERR_SANDBOX_STATE_TOO_LARGE',
  'The sandbox state file %s is %s bytes, over the %s-byte limit. It is not a state this sandbox wrote for a demo; move it away to start afresh, or raise persist.maxBytes.',
);

export const SandboxStateUnwritable = defineError<[string, string]>(
  'JIT_ERR_SANDBOX_STATE_WRITE',
  'The sandbox state could not be saved to %s: %s. The previous file is untouched; free disk space or fix the directory permissions. The next change retries.',
  { retriable: true },
);
