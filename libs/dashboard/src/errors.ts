// Error catalogue of the dashboard (JIT_ERR_UI_*): what a sign-in or a page could not do.
import { defineError } from '@jit/errors';

export const SignInRefused = defineError<[string]>('JIT_ERR_UI_SIGN_IN_REFUSED', 'sign-in refused: %s; start again from the sign-in page', { statusCode: 400 });
export const SignInUnavailable = defineError<[string]>('JIT_ERR_UI_SIGN_IN_UNAVAILABLE', 'GitLab could not complete the sign-in (%s); try again shortly', { statusCode: 503, retriable: true });
export const CsrfRefused = defineError('JIT_ERR_UI_CSRF', 'the form did not come from this dashboard (missing or wrong anti-forgery token, or another origin); reload the page and try again', {
  statusCode: 403,
});
export const ReadApiUnavailable = defineError<[string]>('JIT_ERR_UI_READ_API', 'the read API did not answer (%s); try again shortly', { statusCode: 503, retriable: true });
export const SessionTooLarge = defineError<[number]>(
  'JIT_ERR_UI_SESSION_TOO_LARGE',
  'the session would not fit in a browser cookie (%d bytes sealed); GitLab answered with unusually large tokens or username — check GITLAB_URL points at GitLab',
  { statusCode: 502 },
);
