// Error catalogue of API authentication (JIT_ERR_AUTH_*, documented in docs/errors.md). No
// message ever quotes the token or the header: they say what was wrong and what to send instead.
import { defineError } from '@jit/errors';

export const AuthMissing = defineError(
  'JIT_ERR_AUTH_MISSING',
  'authentication required: send Authorization: Bearer <your GitLab token, or a GitLab CI ID token> (the CLI reads GITLAB_TOKEN or JIT_ID_TOKEN)',
  { statusCode: 401 },
);
export const AuthMalformed = defineError<[string]>('JIT_ERR_AUTH_MALFORMED', 'malformed Authorization header: %s; send Authorization: Bearer <token>', { statusCode: 401 });
export const AuthSchemeUnsupported = defineError('JIT_ERR_AUTH_SCHEME', 'unsupported authorization scheme: jit accepts Authorization: Bearer <GitLab token | GitLab CI ID token> only', {
  statusCode: 401,
});
export const AuthHeaderTooLarge = defineError<[number]>('JIT_ERR_AUTH_HEADER_TOO_LARGE', 'the Authorization header is larger than %s bytes; no GitLab token or CI ID token is that large', {
  statusCode: 431,
});
export const AuthTokenRefused = defineError<[string]>(
  'JIT_ERR_AUTH_TOKEN_REFUSED',
  'GitLab does not accept this token (%s); use a valid personal, project or group access token (read_user or api scope) or OAuth token',
  { statusCode: 401 },
);
export const AuthIdTokenInvalid = defineError<[string]>(
  'JIT_ERR_AUTH_ID_TOKEN_INVALID',
  "the CI ID token is not valid: %s; use a fresh token from the job's id_tokens: with aud set to this jit's audience",
  { statusCode: 401 },
);
export const AuthIdTokenProjectRefused = defineError<[string]>(
  'JIT_ERR_AUTH_ID_TOKEN_PROJECT',
  'CI ID tokens of project %s (or of this ref) are not accepted here; an operator allows projects with JIT_OIDC_ALLOWED_PROJECTS (default: the elevations project only), or send a GitLab token',
  { statusCode: 401 },
);
export const AuthIdTokensDisabled = defineError('JIT_ERR_AUTH_ID_TOKENS_DISABLED', 'this jit accepts no CI ID tokens (no audience configured: JIT_OIDC_AUDIENCE); send a GitLab token instead', {
  statusCode: 401,
});
export const AuthUnavailable = defineError<[string]>('JIT_ERR_AUTH_UNAVAILABLE', 'cannot check the caller right now: %s; try again shortly', { statusCode: 503, retriable: true });
