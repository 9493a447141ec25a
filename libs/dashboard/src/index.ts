// Public API of the dashboard: the fastify plugin serving /ui and the routes it authenticates itself.
export { dashboardPlugin, dashboardOptions, DASHBOARD_ROUTES, DASHBOARD_SCOPE, CONTENT_SECURITY_POLICY } from './dashboard-plugin';
export type { DashboardOptions } from './dashboard-plugin';
export { createSessionSealer, ephemeralSessionKey, MAX_COOKIE_BYTES } from './sessions';
export type { SessionSealer, SessionSealerOptions, Session } from './sessions';
export { safeReturnTo } from './return-to';
export { escapeHtml, html, Html } from './html';
export { CsrfRefused, ReadApiUnavailable, SessionTooLarge, SignInRefused, SignInUnavailable } from './errors';
