// The dashboard's routes as the API's auth plugin must know them (they authenticate by the session
// cookie themselves), and the Content-Security-Policy every dashboard answer carries.
import { CSP_REPORT_PATH } from './csp-reports';

/** Routes the dashboard authenticates itself (by its session cookie): the API's auth plugin lets them through. */
export const DASHBOARD_ROUTES: ReadonlyArray<{ method: string; url: string }> = [
  'GET /ui',
  'GET /ui/',
  'GET /ui/*',
  'GET /ui/assets/:name',
  'GET /ui/sign-in',
  'GET /ui/auth/login',
  'GET /ui/auth/callback',
  'POST /ui/auth/logout',
  'GET /ui/waiting',
  'GET /ui/live',
  'GET /ui/history',
  'GET /ui/history.csv',
  'GET /ui/elevations/:id',
  'GET /ui/health',
  // browsers ask for it on every page, without credentials: no answer needs a session
  'GET /favicon.ico',
  // CSP violation reports: posted by the browser without credentials
  `POST ${CSP_REPORT_PATH}`,
].map((r) => ({ method: r.split(' ')[0]!, url: r.split(' ')[1]! }));

export const CONTENT_SECURITY_POLICY = `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; report-uri ${CSP_REPORT_PATH}`;
