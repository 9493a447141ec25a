// Where browsers report Content-Security-Policy violations of the dashboard's pages (`report-uri`;
// the Reporting API's `report-to` format is read too): each one is logged as a warning with what a reader
// needs — the directive, what was blocked (an origin and path, or `inline`/`eval`), the page's
// path — and nothing else: no query string (a return path, a filter), no header, no cookie.
// Bodies over 8 KiB are refused, at most 10 reports of a body are read, and at most
// `maxPerMinute` are logged per minute by this process (the endpoint needs no session: anyone can
// post to it, so it must not be a way to flood the log).
import type { FastifyInstance } from 'fastify';

export const CSP_REPORT_PATH = '/ui/csp-report';
const MAX_BODY_BYTES = 8192;
const MAX_REPORTS_PER_BODY = 10;

/** A URL as logged: its origin and path (no query, fragment or credentials), or a CSP keyword. */
function where(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return undefined;
  if (/^[a-z-]{1,32}$/.test(value)) return value; // inline, eval, wasm-eval, data, self, …
  try {
    const u = new URL(value);
    return `${u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : u.protocol}${u.protocol.startsWith('http') ? u.pathname : ''}`.slice(0, 200);
  } catch {
    return '(not a URL)';
  }
}
const word = (value: unknown) => (typeof value === 'string' ? value.replace(/[^\w -]/g, '').slice(0, 64) : undefined);

interface Violation {
  directive?: string;
  blocked?: string;
  page?: string;
  disposition?: string;
}

/** Legacy `application/csp-report` ({"csp-report": {...}}) or Reporting API `application/reports+json` ([{type, body}]). */
function violations(body: unknown): Violation[] {
  const one = (r: Record<string, unknown>, legacy: boolean): Violation => {
    const page = where(r[legacy ? 'document-uri' : 'documentURL']);
    return {
      ...(word(r[legacy ? 'effective-directive' : 'effectiveDirective'] ?? r['violated-directive'])
        ? { directive: word(r[legacy ? 'effective-directive' : 'effectiveDirective'] ?? r['violated-directive']) }
        : {}),
      ...(where(r[legacy ? 'blocked-uri' : 'blockedURL']) ? { blocked: where(r[legacy ? 'blocked-uri' : 'blockedURL']) } : {}),
      ...(page ? { page: page.startsWith('http') ? new URL(page).pathname : page } : {}),
      ...(word(r['disposition']) ? { disposition: word(r['disposition']) } : {}),
    };
  };
  if (Array.isArray(body))
    return body
      .slice(0, MAX_REPORTS_PER_BODY)
      .filter((r): r is { type: string; body: Record<string, unknown> } => !!r && typeof r === 'object' && r.type === 'csp-violation' && !!r.body && typeof r.body === 'object')
      .map((r) => one(r.body, false));
  const legacy = (body as { 'csp-report'?: unknown } | null)?.['csp-report'];
  return legacy && typeof legacy === 'object' ? [one(legacy as Record<string, unknown>, true)] : [];
}

export function cspReportRoute(app: FastifyInstance, opts: { maxPerMinute?: number; now?: () => number } = {}): void {
  const max = opts.maxPerMinute ?? 60;
  const now = opts.now ?? Date.now;
  let window = { start: 0, logged: 0, dropped: 0 };
  for (const type of ['application/csp-report', 'application/reports+json'])
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit: MAX_BODY_BYTES }, (_req, body, done) => {
      try {
        done(null, JSON.parse(body as string));
      } catch {
        done(Object.assign(new Error('a CSP report must be JSON'), { statusCode: 400 }), undefined);
      }
    });
  app.post(CSP_REPORT_PATH, async (req, reply) => {
    const t = now();
    if (t - window.start >= 60_000) {
      if (window.dropped > 0) req.log.warn({ dropped: window.dropped }, 'CSP violation reports dropped (over the per-minute limit)');
      window = { start: t, logged: 0, dropped: 0 };
    }
    let dropped = 0;
    for (const v of violations(req.body)) {
      if (window.logged >= max) {
        dropped += 1;
        continue;
      }
      window.logged += 1;
      req.log.warn({ csp: v }, 'CSP violation reported by a browser');
    }
    window.dropped += dropped;
    return reply.code(dropped > 0 ? 429 : 204).send();
  });
}
