// Where a sign-in may send the browser back to: a path of this dashboard only. Anything else
// (another host, a scheme, `//host`, a backslash some browsers read as a slash, control characters)
// is replaced by the dashboard's home, so the sign-in cannot be turned into an open redirect.
export const DASHBOARD_HOME = '/ui/waiting';

export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2048) return DASHBOARD_HOME;
  if (!value.startsWith('/ui/') || value.includes('\\') || [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return DASHBOARD_HOME;
  let parsed: URL;
  try {
    parsed = new URL(value, 'http://dashboard.invalid');
  } catch {
    return DASHBOARD_HOME;
  }
  if (parsed.origin !== 'http://dashboard.invalid' || !parsed.pathname.startsWith('/ui/') || parsed.pathname.startsWith('/ui/auth/')) return DASHBOARD_HOME;
  return `${parsed.pathname}${parsed.search}`;
}
