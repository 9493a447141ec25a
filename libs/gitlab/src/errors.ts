// Error catalogue of libs/gitlab: what went wrong talking to GitLab, and whether a retry can help.
import { defineError } from '@jit/errors';

export const GitlabUnavailable = defineError<[string, string]>(
  'JIT_ERR_GITLAB_UNAVAILABLE',
  'GitLab did not answer %s successfully (%s) after retrying; the operation will be retried later — check GitLab status and rate limits',
  { retriable: true, statusCode: 503 },
);

export const GitlabNotFound = defineError<[string]>('JIT_ERR_GITLAB_NOT_FOUND', 'GitLab answered 404 for %s: the project, merge request, file or user does not exist or the token cannot see it', {
  statusCode: 404,
});

export const GitlabCommitNotFound = defineError<[string]>(
  'JIT_ERR_GITLAB_COMMIT_NOT_FOUND',
  'GitLab answered 404 Commit Not Found for %s: the commit is not in the repository GitLab serves (not replicated yet, or removed by a force-push); retried — if it persists, check that the commit still exists',
  { retriable: true, statusCode: 503 },
);

export const GitlabForbidden = defineError<[string, number]>(
  'JIT_ERR_GITLAB_FORBIDDEN',
  'GitLab refused %s (HTTP %s): check that the token is valid and has api scope and Maintainer access on the project',
  { statusCode: 502 },
);

/**
 * GitLab answered 401 to a token read from a file (GITLAB_TOKEN_FILE). GitLab's token rotation revokes
 * the old token at once and the mounted secret shows the new one later (kubelet syncs a secret volume
 * a minute or two after the secret manager), so the call is retried; the next one carries the file's
 * current token. A token that stays refused ends the caller's retry budget.
 */
export const GitlabCredentialRefused = defineError<[string]>(
  'JIT_ERR_GITLAB_CREDENTIAL_REFUSED',
  "GitLab refused %s (HTTP 401) with the token read from its file (GITLAB_TOKEN_FILE); the file may be mid-rotation, so the call is retried with the file's next content — if this persists, put a valid token in the file",
  { retriable: true, statusCode: 503 },
);

export const GitlabRejected = defineError<[string, number, string]>(
  'JIT_ERR_GITLAB_REJECTED',
  'GitLab rejected %s (HTTP %s: %s); the request is invalid for the current state and will not succeed on retry',
  { statusCode: 502 },
);

export const GitlabBadResponse = defineError<[string, string]>('JIT_ERR_GITLAB_BAD_RESPONSE', 'GitLab answered %s with an unexpected body (%s); check that GITLAB_URL points at a GitLab REST v4 API', {
  statusCode: 502,
});

export const GitlabConfigInvalid = defineError<[string]>('JIT_ERR_GITLAB_CONFIG_INVALID', 'GitLab client configuration is invalid: %s', { statusCode: 500 });
