// HTTP client of jit's read API (the CLI's only way to see elevations). Every call carries the
// caller's token (`Authorization: Bearer`); errors become one line that never contains it.
import type { CatalogResponse } from '@jit/policy';
import { displayText } from '@jit/contracts';
import { refusalHint, type CallerToken } from './caller-token';
import { CliError } from './cli-error';

/** sysexits EX_TEMPFAIL: jit (or the GitLab behind it) is unavailable now; the same call may work later. */
export const EXIT_RETRY = 75;

/** jit answered an error: its status and catalogue code, for callers that act on them. */
export class JitApiError extends CliError {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
    exitCode = 1,
  ) {
    super(message, exitCode);
    this.name = 'JitApiError';
  }
}

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

export interface ElevationSummary {
  id: string;
  state: string;
  requester?: string;
  target?: string;
  scope?: string;
  tier?: string;
  ttlSeconds?: number;
  expiresAt?: string;
  updatedAt?: string;
  timeline?: Array<{ type: string; id?: string; time: string; summary?: string }>;
  [key: string]: unknown;
}

export interface SealedCredentialBody {
  elevationId: string;
  grantId?: string;
  sealedCredential: string;
  expiresAt: string;
  substrate: string;
  /** The issuer's signature of (elevation id, grant id, expiry, sha256 of the blob). */
  credentialSignature?: { kid: string; signature: string };
}

export class JitApi {
  /**
   * @param auth the caller's token, asked for on the first call (commands that never call jit
   *   need none); a CliError from it (no token set) is the call's error.
   */
  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: FetchFn = fetch,
    private readonly auth?: () => Promise<CallerToken>,
  ) {}

  private caller: Promise<CallerToken> | undefined;

  private async get<T>(path: string, what?: string): Promise<T> {
    const caller = this.auth ? await (this.caller ??= this.auth()) : undefined;
    // A hostile or broken server may echo the token back: it is cut out of anything quoted.
    // Credentials in JIT_URL (`http://user:pw@host`) are never shown either: not in the URL, not in an error quoting it.
    const userinfo = urlUserinfo(this.baseUrl);
    const cut = (v: string) => (userinfo ? v.split(userinfo).join('') : v);
    const quote = (v: unknown, max: number) => displayText(cut(caller ? String(v).split(caller.token).join('[REDACTED]') : String(v)), max);
    let res: Response;
    try {
      res = await this.fetchFn(new URL(path, this.baseUrl).toString(), {
        headers: { accept: 'application/json', ...(caller ? { authorization: `Bearer ${caller.token}` } : {}) },
      });
    } catch (err) {
      throw new CliError(`cannot reach jit at ${cut(this.baseUrl)} (${quote((err as Error).message, 300)}); is it running? set --url or JIT_URL`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new JitApiError(`jit answered ${res.status} with a body that is not JSON`, res.status, undefined, res.status === 503 ? EXIT_RETRY : 1);
    }
    if (!res.ok) {
      const b = (body ?? {}) as { message?: unknown; code?: unknown };
      const code = typeof b.code === 'string' ? quote(b.code, 80) : undefined;
      // the server's words, as one line of plain text (a hostile server could send escapes or forge lines)
      const said = `${b.message !== undefined ? quote(b.message, 500) : `jit answered ${res.status}`}${code ? ` (${code})` : ''}`;
      if (res.status === 401 && caller) throw new JitApiError(`jit refused the ${caller.kind} from ${caller.from} (401): ${refusalHint(caller.kind)} [${said}]`, 401, code);
      if (res.status === 403) throw new JitApiError(`jit refused the request (403): ${said}`, 403, code);
      if (res.status === 404 && what)
        throw new JitApiError(`${what} not found, or not visible to you (jit shows an elevation only to its requester, its eligible approvers and auditors) [${said}]`, 404, code);
      if (res.status === 503 && code === 'JIT_ERR_AUTH_UNAVAILABLE')
        throw new JitApiError(`jit cannot reach GitLab to check your token right now (503); retry in a moment [${said}]`, 503, code, EXIT_RETRY);
      if (res.status === 503) throw new JitApiError(`${said}; jit is unavailable (503), retry in a moment`, 503, code, EXIT_RETRY);
      throw new JitApiError(said, res.status, code);
    }
    return body as T;
  }

  catalog(): Promise<Partial<CatalogResponse>> {
    return this.get('/v1/catalog');
  }

  elevation(id: string): Promise<ElevationSummary> {
    return this.get(`/v1/elevations/${encodeURIComponent(id)}`, `elevation ${id}`);
  }

  elevations(filter: Record<string, string | undefined>): Promise<{ elevations: ElevationSummary[] }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== '') q.set(k, v);
    const qs = q.toString();
    return this.get(`/v1/elevations${qs ? `?${qs}` : ''}`);
  }

  credential(id: string): Promise<SealedCredentialBody> {
    return this.get(`/v1/elevations/${encodeURIComponent(id)}/credential`, `the credential of elevation ${id}`);
  }

  /** The public keys the server signs with (JWK Set). */
  keys(): Promise<{ keys: Array<{ kid?: string; x?: string; roles?: string[] }> }> {
    return this.get('/v1/keys');
  }
}

/** The `user:password@` part of a URL as it is written in it, or undefined when it has none. */
function urlUserinfo(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return undefined;
    return `${u.username}${u.password ? `:${u.password}` : ''}@`;
  } catch {
    return undefined;
  }
}
