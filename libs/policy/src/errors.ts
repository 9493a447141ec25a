// Error catalogue of libs/policy.
import { defineError } from '@jit/errors';

export const PolicyNotLoaded = defineError<[string]>(
  'JIT_ERR_POLICY_NOT_LOADED',
  'no valid policy is in force yet (%s); requests cannot be evaluated until policy.yaml on the default branch loads — fix it with a policy-change MR',
  { retriable: true, statusCode: 503 },
);

export const PolicyInvalid = defineError<[string, string]>('JIT_ERR_POLICY_INVALID', 'policy.yaml at %s is invalid: %s — fix it with a policy-change MR; the last valid policy stays in force', {
  statusCode: 422,
});

export const PolicyMissing = defineError<[string, string]>('JIT_ERR_POLICY_MISSING', 'policy.yaml was not found at %s in project %s; commit one to the default branch of the elevations repo', {
  statusCode: 404,
});

export const PolicyMissingAtCommit = defineError<[string, string]>(
  'JIT_ERR_POLICY_MISSING_AT_COMMIT',
  'policy.yaml does not exist at commit %s in project %s: GitLab has the commit, and it holds no policy.yaml — final, no retry changes a commit',
  { statusCode: 404 },
);

export const PolicyUnratified = defineError<[string, string]>(
  'JIT_ERR_POLICY_UNRATIFIED',
  'policy.yaml version %s is refused: %s — the previous policy stays in force; revert the change or merge it again through a policy-change MR approved by the policyApprovers',
  { statusCode: 409 },
);

export const PolicyNotTrusted = defineError<[string]>('JIT_ERR_POLICY_NOT_TRUSTED', 'no policy is in force: %s', { retriable: true, statusCode: 503 });

export const PolicyVersionUnknown = defineError<[string]>(
  'JIT_ERR_POLICY_VERSION_UNKNOWN',
  'policy version %s was never ratified on the log this process has read; nothing is issued under it (if it was ratified moments ago, the retry finds it)',
  { retriable: true, statusCode: 409 },
);
