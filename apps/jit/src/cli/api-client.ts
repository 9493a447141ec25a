// HTTP client of jit's read API (the CLI's only way to see elevations). Errors become one line.
import type { CatalogResponse } from '@jit/policy';
import { displayText } from '@jit/contracts';
import { CliError } from './cli-error';

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
  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: FetchFn = fetch,
  ) {}

  private async get<T>(path: string): Promise<T> {
    let res: Response;
    try {
      res = await this.fetchFn(new URL(path, this.baseUrl).toString(), { headers: { accept: 'application/json' } });
    } catch (err) {
      throw new CliError(`cannot reach jit at ${this.baseUrl} (${(err as Error).message}); is it running? set --url or JIT_URL`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`jit answered ${res.status} with a body that is not JSON`);
    }
    if (!res.ok) {
      const b = (body ?? {}) as { message?: string; code?: string };
      // the server's words, as one line of plain text (a hostile server could send escapes or forge lines)
      throw new CliError(`${b.message !== undefined ? displayText(b.message, 500) : `jit answered ${res.status}`}${b.code ? ` (${displayText(b.code, 80)})` : ''}`);
    }
    return body as T;
  }

  catalog(): Promise<Partial<CatalogResponse>> {
    return this.get('/v1/catalog');
  }

  elevation(id: string): Promise<ElevationSummary> {
    return this.get(`/v1/elevations/${encodeURIComponent(id)}`);
  }

  elevations(filter: Record<string, string | undefined>): Promise<{ elevations: ElevationSummary[] }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined && v !== '') q.set(k, v);
    const qs = q.toString();
    return this.get(`/v1/elevations${qs ? `?${qs}` : ''}`);
  }

  credential(id: string): Promise<SealedCredentialBody> {
    return this.get(`/v1/elevations/${encodeURIComponent(id)}/credential`);
  }

  /** The public keys the server signs with (JWK Set). */
  keys(): Promise<{ keys: Array<{ kid?: string; x?: string; roles?: string[] }> }> {
    return this.get('/v1/keys');
  }
}
