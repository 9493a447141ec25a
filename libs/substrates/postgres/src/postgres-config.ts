// The postgres adapter's vocabulary: its kind, the slice of pg's Pool it uses (injectable), the
// instance config (`postgresConfigSchema`, strict), the scope object and the instance's type.
import type pg from 'pg';
import { z } from 'zod';
import type { Finding, RevocationHandle, RevokeReport, Substrate } from '@jit/substrates';
import { PostgresTlsConflict } from './errors';
import { ROLE_PREFIX } from './grant-role';
import { postgresTlsSchema, urlTlsParams } from './postgres-tls';

export const POSTGRES_KIND = 'postgres';

/** The part of pg's Pool the adapter uses; tests inject a fake, apps the real pg.Pool. */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}
export interface PgPoolClientLike extends PgQueryable {
  release(err?: Error | boolean): void;
  /** pg's client is an EventEmitter: 'error' when its connection dies while it is checked out. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'error', listener: (err: Error) => void): unknown;
}
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgPoolClientLike>;
  end(): Promise<void>;
}
export type PgPoolFactory = (config: pg.PoolConfig) => PgPoolLike;

export const postgresConfigSchema = z
  .object({
    /** Admin connection URL (CREATEROLE and the rights it grants; best not a superuser). */
    adminUrl: z.string().min(1).optional(),
    /** More admin URLs (one per server/database this instance serves). jit issues only on servers
     * named here or in adminUrl, because revoke and listIssued can reach only those. */
    adminUrls: z.array(z.string().min(1)).max(100).optional(),
    /** The read-only credential developers and agents hold; checkDefaultIsReadOnly probes it. */
    defaultUrl: z.string().min(1).optional(),
    /** Host/port put into the issued credential's URL when users reach the server differently from jit. */
    loginHost: z.string().min(1).max(255).optional(),
    loginPort: z.number().int().min(1).max(65535).optional(),
    poolMax: z.number().int().min(1).max(50).default(4),
    connectTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
    statementTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /** How long revoke waits for terminated sessions to disappear before reporting a retriable failure. */
    sessionDrainTimeoutMs: z.number().int().min(100).max(120_000).default(5_000),
    /** CONNECTION LIMIT of issued roles unless the scope sets `connectionLimit`: a grantee must not
     * be able to fill max_connections and lock jit's admin out of the revoke. */
    connectionLimit: z.number().int().min(1).max(1000).default(5),
    /** NOLOGIN role that owns what revoked grants leave behind (created on first use). Outside the
     * `jit_` names of grant roles, so no grant id, listing or cleanup of grant roles can meet it. */
    leftoverOwner: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case role name (letters, digits, _)')
      .refine((n) => !n.startsWith(ROLE_PREFIX), `must not start with ${ROLE_PREFIX} (the names of grant roles)`)
      .default('jitleftovers'),
    maxTtlSeconds: z.number().int().positive().optional(),
    /** TLS to every server of the instance (admin, default credential): verify-full with a CA file, optional client certificate. */
    tls: postgresTlsSchema.optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.tls) return;
    // pg lets a URL's sslmode/sslrootcert override the ssl option: with `tls` set they must go (named, never the URL)
    const urls: Array<[string, string | undefined]> = [['adminUrl', c.adminUrl], ['defaultUrl', c.defaultUrl], ...(c.adminUrls ?? []).map((u, i): [string, string] => [`adminUrls[${i}]`, u])];
    for (const [key, url] of urls) {
      const params = url ? urlTlsParams(url) : [];
      if (params.length) ctx.addIssue({ code: 'custom', path: [key], message: `${PostgresTlsConflict.code}: carries ${params.join(', ')}; with tls set, drop TLS parameters from the URL` });
    }
  });
export type PostgresConfig = z.output<typeof postgresConfigSchema>;

export interface PostgresDeps {
  poolFactory: PgPoolFactory;
  now: () => Date;
}

/** The postgres scope object (the `grant` key of a policy.yaml scope; other keys such as `tier` are policy's). */
export interface PostgresScope {
  grant: string | string[];
  /** CONNECTION LIMIT of the issued role (1-100); default: the instance's `connectionLimit`. */
  connectionLimit?: number;
}

/** Admin sessions see only the catalogue: nothing a grantee creates can shadow a name jit uses. */
export const ADMIN_SESSION_OPTIONS = '-c search_path=pg_catalog,pg_temp';

/**
 * A postgres instance. `checkDefaultIsReadOnly()` is the contract's structural check (with no
 * argument it probes the configured `defaultUrl`); a deployment runs it once per instance for every
 * policy version (libs/substrates/wiring `createPolicyAudit`).
 */
export type PostgresSubstrate = Omit<Substrate, 'revoke'> &
  Required<Pick<Substrate, 'verifyRevoked' | 'listIssued' | 'close' | 'checkDefaultIsReadOnly' | 'checkSetup'>> & {
    /** Always reports what the role left behind (empty when nothing). */
    /** Probes `defaultUrl` (default: the configured one) by attempting writes that are rolled back. */
    checkDefaultIsReadOnly(defaultUrl?: string): Promise<Finding[]>;
    revoke(handle: RevocationHandle): Promise<RevokeReport>;
  };
