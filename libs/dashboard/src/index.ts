// Public API of the dashboard: the fastify plugin serving /ui and the routes it authenticates itself.
export { dashboardPlugin, dashboardOptions, DASHBOARD_ROUTES, DASHBOARD_SCOPE, CONTENT_SECURITY_POLICY } from './dashboard-plugin';
export type { DashboardOptions } from './dashboard-plugin';
export { createSessionStore } from './sessions';
export type { SessionStore, Session } from './sessions';
export { safeReturnTo } from './return-to';
export { escapeHtml, html, Html } from './html';
export { CsrfRefused, ReadApiUnavailable, SignInRefused, SignInUnavailable } from './errors';
