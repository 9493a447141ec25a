// Public API of the dashboard: the fastify plugin serving /ui and the routes it authenticates itself.
export { dashboardPlugin } from './dashboard-plugin';
export { dashboardOptions, DASHBOARD_SCOPE } from './dashboard-options';
export type { DashboardOptions } from './dashboard-options';
export { DASHBOARD_ROUTES, CONTENT_SECURITY_POLICY } from './dashboard-routes';
export { createSessionSealer, ephemeralSessionKey, MAX_COOKIE_BYTES } from './sessions';
export type { SessionSealer, SessionSealerOptions, Session } from './sessions';
export { safeReturnTo } from './return-to';
export { escapeHtml, html, Html } from './html';
export { CsrfRefused, ReadApiUnavailable, SessionTooLarge, SignInRefused, SignInUnavailable } from './errors';
