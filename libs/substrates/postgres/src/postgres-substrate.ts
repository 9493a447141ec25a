// PostgreSQL substrate: a login role `jit_<grant>` per grant with the scope's GRANTs, found again
// by name and by its role comment; revoke = NOLOGIN, terminate its sessions, neutralise what it
// left behind, REASSIGN OWNED to a powerless owner, DROP OWNED, and keep the role as the grant's
// tombstone (NOLOGIN, no password, revokedAt in its comment) so a late issue is refused (ADR 0013). Every admin session runs
// with search_path pg_catalog,pg_temp and every function and relation is written schema-qualified,
// so nothing a grantee creates (e.g. a better-matching public.hashtextextended) runs as jit's admin.
import { randomBytes } from 'node:crypto';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import pg from 'pg';
import { z } from 'zod';
import type { Logger } from '@jit/observability';
import {
  SubstrateDenied,
  SubstrateFailed,
  SubstrateInvalidConfig,
  SubstrateInvalidHandle,
  SubstrateInvalidScope,
  SubstrateRejected,
  SubstrateTtlTooLong,
  SubstrateUnreachable,
  SubstrateUpstreamFailed,
  classifySubstrateError,
  defineSubstrate,
  grantWindow,
  nameAfterGrant,
  type Finding,
  type IssueRequest,
  type Issued,
  type LeftoverObject,
  type Problem,
  type RevocationHandle,
  type RevokeReport,
  type Substrate,
  type SubstrateDeps,
  type VerifyResult,
} from '@jit/substrates';
import type { JitError } from '@jit/errors';
import { isSystemSchema, parseGrant, renderGrant, schemasOf, type ParsedGrant } from './grant-grammar';
import { LeftoverOwnerUnsafe, capLeftovers, ensureLeftoverOwner, grantToAdmin, neutraliseOwned, otherDatabasesOf, stripPrivileges } from './revoke-leftovers';
import { scramVerifier } from './scram-verifier';
import { PostgresCredentialRefused, PostgresGrantRevoked, PostgresTlsConflict } from './errors';
import { classifyTls, pgSslOptions, postgresTlsSchema, tlsFiles, urlTlsParams } from './postgres-tls';

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

/** Grant roles are `jit_<grant>`; nothing else jit creates may use the prefix. */
const ROLE_PREFIX = 'jit_';

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

interface RoleMeta {
  jit: 1;
  grantId: string;
  elevationId?: string;
  requester?: string;
  expiresAt: string;
  /** Set when the revoke is complete: the role is then the grant's tombstone (NOLOGIN, no password,
   * holds and owns nothing), kept so that a late issue of the grant is refused rather than re-creating it. */
  revokedAt?: string;
}

interface Server {
  id: string;
  url: URL;
  pool?: PgPoolLike;
  /** The admin URL now, when it comes from a file (`adminUrlRef: file:`): re-read before a pool is used. */
  live?: () => string;
  /** What `live` returned when the pool was made. */
  liveText?: string;
  /** The last rotated text refused (another server, not a URL), so it is logged once. */
  refusedText?: string;
}

const ROLE_RE = /^jit_[A-Za-z0-9_-]{1,59}$/;
const MAX_GRANTS = 20;
const MAX_SCOPE_CONNECTIONS = 100;
/** Admin sessions see only the catalogue: nothing a grantee creates can shadow a name jit uses. */
const ADMIN_SESSION_OPTIONS = '-c search_path=pg_catalog,pg_temp';

/** Role name for a grant id: `jit_<grant>`, hashed down to 63 bytes when needed. */
export function roleNameFor(grantId: string): string {
  return nameAfterGrant(grantId, { prefix: ROLE_PREFIX, maxLength: 63 });
}

function parseServerUrl(raw: string): URL | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not a URL (expected postgres://user:password@host:port/database)';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return 'must use the postgres:// scheme';
  if (!url.hostname) return 'has no host';
  if (url.pathname.length <= 1) return 'names no database';
  // connection-string options would override the search_path jit pins on its admin sessions
  if (url.searchParams.has('options')) return 'sets `options`; jit sets the admin session options itself (search_path)';
  return url;
}

const serverIdOf = (url: URL): string => `${url.hostname}:${url.port || '5432'}/${decodeURIComponent(url.pathname.slice(1))}`;

function sqlstate(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/**
 * What PostgreSQL says to simply run again: a serialization failure (40001) or a deadlock (40P01),
 * which its manual (13.4, "Serialization Failure Handling") tells applications to retry, and the
 * "tuple concurrently updated/deleted" (XX000) two sessions get when they change the same catalog
 * rows at once (concurrent GRANT/REVOKE/DROP OWNED on one table's ACL): a race, not a defect.
 */
/** Retries of one transaction on a transient conflict (waits 10 ms doubling, jittered, at most 250 ms). */
export const CONFLICT_RETRIES = 6;

export function isTransientConflict(err: unknown): boolean {
  const code = sqlstate(err);
  if (code === '40001' || code === '40P01') return true;
  // Two of jit's transactions creating the same role name at once (an issue and a revoke's tombstone,
  // when the advisory lock was not had): the loser runs again and then finds the winner's role.
  if (code === '23505' && (err as { constraint?: unknown }).constraint === 'pg_authid_rolname_index') return true;
  if (code === '42710' && /^role .* already exists$/.test(err instanceof Error ? err.message : '')) return true;
  return code === 'XX000' && /tuple concurrently (updated|deleted)/i.test(err instanceof Error ? err.message : '');
}

/** SQLSTATE → catalogue error; messages name the operation and the SQLSTATE, never the statement. */
function classifyPg(name: string, op: string, err: unknown, server?: string): JitError {
  return classifySubstrateError(name, op, err, (e) => {
    const tls = server ? classifyTls(name, server, e) : undefined;
    if (tls) return tls;
    const code = sqlstate(e);
    const what = code ? `${op}: SQLSTATE ${code}` : op;
    if (code) {
      if (code === '42501' || code.startsWith('28')) return SubstrateDenied(name, what, { cause: e });
      if (code.startsWith('08') || ['57P01', '57P02', '57P03'].includes(code)) return SubstrateUnreachable(name, what, { cause: e });
      if (code.startsWith('53') || ['40001', '40P01', '55P03', '57014'].includes(code)) return SubstrateUpstreamFailed(name, what, { cause: e });
      // concurrent GRANT/REVOKE/DROP OWNED on the same catalog rows: a race, not a defect — retry
      if (code === 'XX000' && /tuple concurrently (updated|deleted)/i.test(e instanceof Error ? e.message : '')) {
        return SubstrateUpstreamFailed(name, `${what} (concurrent catalog update)`, { cause: e });
      }
      if (code.startsWith('42') || code.startsWith('22') || code.startsWith('2B')) return SubstrateRejected(name, what, { cause: e });
      return SubstrateFailed(name, what, { cause: e });
    }
    const msg = e instanceof Error ? e.message : '';
    if (/Connection terminated|timeout exceeded when trying to connect|connection error|Connection refused/i.test(msg)) {
      return SubstrateUnreachable(name, `${op}: connection lost`, { cause: e });
    }
    return undefined;
  });
}

function parseMeta(comment: unknown): RoleMeta | undefined {
  if (typeof comment !== 'string' || comment.length > 4000) return undefined;
  try {
    const m = JSON.parse(comment) as Partial<RoleMeta>;
    if (m && m.jit === 1 && typeof m.grantId === 'string' && typeof m.expiresAt === 'string') return m as RoleMeta;
  } catch {
    /* not ours */
  }
  return undefined;
}

function grantsOf(scope: unknown): { grants: ParsedGrant[]; connectionLimit?: number; problems: Problem[] } {
  const problems: Problem[] = [];
  const grants: ParsedGrant[] = [];
  if (!scope || typeof scope !== 'object' || Array.isArray(scope)) {
    return { grants, problems: [{ path: 'scope', message: 'must be an object with a `grant` string, e.g. { grant: "SELECT ON ALL TABLES IN SCHEMA public" }' }] };
  }
  let connectionLimit: number | undefined;
  if (Object.prototype.hasOwnProperty.call(scope, 'connectionLimit')) {
    const n = (scope as { connectionLimit: unknown }).connectionLimit;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_SCOPE_CONNECTIONS) connectionLimit = n;
    else problems.push({ path: 'scope.connectionLimit', message: `must be a whole number from 1 to ${MAX_SCOPE_CONNECTIONS} (the issued role's CONNECTION LIMIT)` });
  }
  const raw = Object.prototype.hasOwnProperty.call(scope, 'grant') ? (scope as { grant: unknown }).grant : undefined;
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  if (list.length === 0) problems.push({ path: 'scope.grant', message: 'is required: one GRANT text or a list of them' });
  if (list.length > MAX_GRANTS) problems.push({ path: 'scope.grant', message: `lists more than ${MAX_GRANTS} grants` });
  list.slice(0, MAX_GRANTS).forEach((text, i) => {
    const parsed = parseGrant(text);
    const path = Array.isArray(raw) ? `scope.grant[${i}]` : 'scope.grant';
    if (parsed.ok) grants.push(parsed.grant);
    else problems.push({ path, message: parsed.error });
  });
  return { grants, connectionLimit, problems };
}

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

export function createPostgresSubstrate(config: PostgresConfig, deps: SubstrateDeps & Partial<PostgresDeps>): PostgresSubstrate {
  const name = deps.name;
  const log: Logger = deps.logger;
  const now = deps.now ?? (() => new Date());
  const rawPoolFactory: PgPoolFactory =
    deps.poolFactory ??
    ((c) => {
      const pool = new pg.Pool(c);
      // An idle client dying (server restart) must not crash the process; the next query reconnects.
      pool.on('error', (err) => log.warn({ code: sqlstate(err) }, 'idle postgres connection lost'));
      return pool;
    });
  // Every pool of the instance (admin, default-credential probe, search_path check) speaks TLS when configured.
  const ssl = config.tls ? pgSslOptions(config.tls) : undefined;
  const poolFactory: PgPoolFactory = ssl ? (c) => rawPoolFactory({ ...c, ssl }) : rawPoolFactory;
  const servers = new Map<string, Server>();

  const addServer = (raw: string, source: string): Server => {
    const url = parseServerUrl(raw);
    if (typeof url === 'string') throw SubstrateRejected(name, `${source} ${url}`);
    const id = serverIdOf(url);
    const known = servers.get(id);
    if (known) return known;
    const s: Server = { id, url };
    servers.set(id, s);
    return s;
  };
  // Configured servers are checked now, so a bad URL fails at boot rather than at the first revoke.
  const configured: [string, string][] = [
    ...(config.adminUrl ? [['adminUrl', config.adminUrl] as [string, string]] : []),
    ...(config.adminUrls ?? []).map((u, i): [string, string] => [`adminUrls[${i}]`, u]),
  ];
  for (const [key, raw] of configured) {
    const why = parseServerUrl(raw);
    if (typeof why === 'string') throw SubstrateInvalidConfig(name, `${key} ${why}`);
    addServer(raw, key);
  }
  // adminUrlRef: file:... — a rotated admin credential is used by connections opened after the rotation.
  const liveAdminUrl = deps.live?.['adminUrl'];
  if (liveAdminUrl && config.adminUrl) {
    const s = servers.get(serverIdOf(parseServerUrl(config.adminUrl) as URL))!;
    s.live = liveAdminUrl;
    s.liveText = config.adminUrl;
  }
  /**
   * classifyPg for a call on `s`. A login the server refuses while the admin URL comes from a file is a
   * rotation's gap (the server changed first, the mounted file not yet): retriable, and the next
   * connection reads the file again (JIT_ERR_POSTGRES_CREDENTIAL_REFUSED).
   */
  const classifyOn = (s: Server, op: string, err: unknown): JitError => {
    const code = sqlstate(err);
    if (s.live && (code === '28P01' || code === '28000')) {
      log.warn({ op, sqlstate: code }, 'the server refused the admin credential read from the file; retried (a rotation in progress is picked up when the file changes)');
      return PostgresCredentialRefused(name, `${op}: SQLSTATE ${code}`, { cause: err });
    }
    return classifyPg(name, op, err, s.id);
  };
  /** Pools replaced by a rotation, ending once their checked-out clients are released. */
  const retiring = new Set<Promise<void>>();

  /** Follows a rotated admin URL: the same server with a new credential gets a new pool; the old one drains. */
  const followRotation = (s: Server): void => {
    const text = s.live!();
    if (text === s.liveText || text === s.refusedText) return;
    const url = parseServerUrl(text);
    if (typeof url === 'string' || serverIdOf(url) !== s.id) {
      s.refusedText = text;
      log.warn(
        { setting: 'adminUrl' },
        `the rotated adminUrl ${typeof url === 'string' ? url : 'names another server'}; jit keeps the current one (revokes must reach the server grants were issued on)`,
      );
      return;
    }
    s.url = url;
    s.liveText = text;
    s.refusedText = undefined;
    const old = s.pool;
    s.pool = undefined;
    if (old) {
      const ending: Promise<void> = old
        .end()
        .catch(() => undefined)
        .finally(() => retiring.delete(ending));
      retiring.add(ending);
    }
    log.info({ setting: 'adminUrl' }, 'admin connection credential rotated: new connections use it, open ones finish their work');
  };

  const poolOf = (s: Server): PgPoolLike => {
    if (s.live) followRotation(s);
    s.pool ??= poolFactory({
      connectionString: s.url.toString(),
      max: config.poolMax,
      connectionTimeoutMillis: config.connectTimeoutMs,
      statement_timeout: config.statementTimeoutMs,
      application_name: `jit-substrate-${name}`.slice(0, 63),
      options: ADMIN_SESSION_OPTIONS,
    });
    return s.pool;
  };

  const serverForRequest = (connection: Record<string, unknown>): Server => {
    const raw = connection?.url ?? connection?.adminUrl;
    if (raw !== undefined) {
      if (typeof raw !== 'string') throw SubstrateRejected(name, 'target connection.url must be a string');
      const url = parseServerUrl(raw);
      if (typeof url === 'string') throw SubstrateRejected(name, `target connection.url ${url}`);
      // Revoke and the orphan sweep reach only configured servers: a grant elsewhere could never end.
      const known = servers.get(serverIdOf(url));
      if (!known) {
        throw SubstrateRejected(name, `target connection.url names ${serverIdOf(url)}, which is not among this instance's adminUrl/adminUrls; jit could not revoke there, so it does not issue there`);
      }
      return known;
    }
    // Without a connection URL the target must be the instance's only configured server.
    if (configured.length === 1) return servers.values().next().value as Server;
    throw SubstrateRejected(
      name,
      configured.length === 0
        ? 'no admin connection: set adminUrl on the instance or connection.url on the target'
        : 'the instance serves several servers: the target connection must say which (connection.url)',
    );
  };

  const checkHandle = (handle: RevocationHandle): { role: string; server: Server } => {
    if (!handle || typeof handle !== 'object' || handle.kind !== POSTGRES_KIND) throw SubstrateInvalidHandle(name, `kind must be ${POSTGRES_KIND}`);
    const role = handle.ref?.role;
    const serverId = handle.ref?.server;
    if (typeof role !== 'string' || !ROLE_RE.test(role)) throw SubstrateInvalidHandle(name, 'ref.role must be a jit_ role name');
    if (typeof serverId !== 'string') throw SubstrateInvalidHandle(name, 'ref.server is missing');
    if (typeof handle.grantId !== 'string' || roleNameFor(handle.grantId) !== role) {
      throw SubstrateInvalidHandle(name, 'ref.role is not the role named after the handle grant id');
    }
    const server = servers.get(serverId);
    if (!server) throw SubstrateInvalidHandle(name, `server ${serverId} is not configured on this instance (set adminUrl)`);
    return { role, server };
  };

  /**
   * Transient conflicts are retried here, quietly (debug): the whole transaction again, after a short
   * jittered wait, since each one jit runs is idempotent. Only when they persist does the caller see
   * JIT_ERR_SUBSTRATE_UPSTREAM (retriable) — concurrent revocations no longer log errors for a race.
   */
  const conflicts = retry(handleWhen(isTransientConflict), {
    maxAttempts: CONFLICT_RETRIES,
    backoff: new ExponentialBackoff({ initialDelay: 10, maxDelay: 250 }),
  });
  conflicts.onRetry((r) => {
    const err = 'error' in r ? r.error : undefined;
    log.debug({ sqlstate: sqlstate(err), waitMs: Math.round(r.delay), attempt: r.attempt }, 'concurrent catalog update or serialization conflict; transaction retried');
  });

  async function inTransaction<T>(s: Server, op: string, fn: (c: PgQueryable) => Promise<T>): Promise<T> {
    try {
      return await conflicts.execute(() => attempt(s, op, fn));
    } catch (err) {
      throw classifyPg(name, op, err);
    }
  }

  /**
   * Listens for the death of a checked-out connection. pg emits 'error' on a checked-out client whose
   * connection ends between two statements (server restart, a proxy cutting it), and an 'error' with no
   * listener ends the process (the chaos run's revoker died so). Heard, it fails the next statement
   * instead, which the caller classifies and retries. Returns the unsubscribe.
   */
  const heldClient = (client: PgPoolClientLike, op: string): (() => void) => {
    const onError = (err: Error) => log.warn({ op, code: sqlstate(err) }, 'postgres connection lost during an operation; it fails and is retried');
    client.on?.('error', onError);
    return () => void client.off?.('error', onError);
  };

  /** One transaction; a failure inside it is thrown as PostgreSQL raised it (inTransaction classifies). */
  async function attempt<T>(s: Server, op: string, fn: (c: PgQueryable) => Promise<T>): Promise<T> {
    let client: PgPoolClientLike;
    try {
      client = await poolOf(s).connect();
    } catch (err) {
      throw classifyOn(s, `${op} (connect)`, err);
    }
    const unhold = heldClient(client, op);
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      unhold();
      client.release();
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      unhold();
      client.release(err instanceof Error ? err : true);
      throw err;
    }
  }

  const LOCK_KEY = 'pg_catalog.hashtextextended($1::pg_catalog.text, 7270::pg_catalog.int8)';
  const lockRole = (c: PgQueryable, role: string) => c.query(`SELECT pg_catalog.pg_advisory_xact_lock(${LOCK_KEY})`, [role]);
  /**
   * jit's lock on `lockName` (issue and revoke). Advisory locks are open to every user of the
   * database and the key is public (the role name follows the grant id, whose merge sha GitLab
   * shows), so anyone can take it first, from the grantee's or another account's session: a
   * blocking wait kept a grant alive for as long as its grantee held on, or kept a grant from being
   * issued. So jit waits only while jit itself (a session of the admin role: another replica's
   * issue or revoke) holds the lock; when someone else does, it goes on without the lock and says
   * so. What the lock guarded needs it only against jit's own sessions: a re-issue never sets
   * LOGIN, so it cannot revive a role a revoke made NOLOGIN.
   */
  const lockAsJit = async (c: PgQueryable, lockName: string): Promise<void> => {
    for (let attempt = 0; attempt < 3; attempt++) {
      const { rows } = await c.query(`SELECT pg_catalog.pg_try_advisory_xact_lock(${LOCK_KEY}) AS got`, [lockName]);
      if (rows[0]?.got === true) return;
      const { rows: holders } = await c.query(
        `WITH k AS (SELECT ${LOCK_KEY} AS key)
         SELECT a.usename = CURRENT_USER AS ours
           FROM k, pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
            AND l.classid = ((k.key >> 32) & 4294967295)::pg_catalog.oid AND l.objid = (k.key & 4294967295)::pg_catalog.oid`,
        [lockName],
      );
      if (holders.length === 0) continue; // released in between: try again
      if (holders.some((h) => h.ours === true)) {
        await lockRole(c, lockName); // jit's own: wait (bounded by statement_timeout)
        return;
      }
      break;
    }
    log.warn({ role: lockName }, "jit's lock on a grant role is held by a session that is not jit's admin (someone stalling an issue or revoke?); going on without it");
  };
  const roleComment = async (c: PgQueryable, role: string): Promise<{ exists: boolean; canLogin?: boolean; meta?: RoleMeta; adminIsSuperuser: boolean }> => {
    const { rows } = await c.query(
      `SELECT pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment, r.rolcanlogin,
              (SELECT a.rolsuper FROM pg_catalog.pg_roles a WHERE a.rolname = CURRENT_USER) AS admin_super
         FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
      [role],
    );
    const adminIsSuperuser = rows[0]?.admin_super === true;
    return rows.length === 0 ? { exists: false, adminIsSuperuser } : { exists: true, canLogin: rows[0]?.rolcanlogin !== false, meta: parseMeta(rows[0]?.comment), adminIsSuperuser };
  };

  /** Each named table/sequence as the server resolves it: it must exist, be of that kind and live outside the system schemas. */
  const checkRelations = async (c: PgQueryable, grants: ParsedGrant[]): Promise<void> => {
    for (const g of grants) {
      if (g.kind !== 'table' && g.kind !== 'sequence') continue;
      for (const n of g.names) {
        const text = `${pg.escapeIdentifier(n.schema ?? '')}.${pg.escapeIdentifier(n.name)}`;
        const { rows } = await c.query(
          `SELECT n.nspname, c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = pg_catalog.to_regclass($1::pg_catalog.text)`,
          [text],
        );
        const row = rows[0];
        const label = `${n.schema}.${n.name}`;
        if (!row) throw SubstrateRejected(name, `issue: ${label} does not exist`);
        if (isSystemSchema(String(row.nspname))) throw SubstrateRejected(name, `issue: ${label} is in the system schema ${row.nspname}; not granting it`);
        const isSequence = row.relkind === 'S';
        if ((g.kind === 'sequence') !== isSequence) throw SubstrateRejected(name, `issue: ${label} is ${isSequence ? 'a sequence' : 'not a sequence'}; the grant says ${g.kind}`);
      }
    }
  };

  function validateScope(scope: unknown): Problem[] {
    return grantsOf(scope).problems;
  }

  async function issue(req: IssueRequest): Promise<Issued> {
    const { grants, connectionLimit: scopeLimit, problems } = grantsOf(req.scope);
    if (problems.length) throw SubstrateInvalidScope(name, problems.map((p) => `${p.path} ${p.message}`).join('; '));
    if (typeof req.grantId !== 'string' || req.grantId.length === 0 || req.grantId.length > 200) throw SubstrateRejected(name, 'grantId must be 1-200 characters');
    if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds <= 0) throw SubstrateRejected(name, 'ttlSeconds must be a positive integer');
    if (config.maxTtlSeconds && req.ttlSeconds > config.maxTtlSeconds) throw SubstrateTtlTooLong(name, req.ttlSeconds, config.maxTtlSeconds);
    // VALID UNTIL never later than the grant's own expiry: a late issue does not outlive the grant
    const expiresAt = grantWindow(name, req, now()).expiresAt.toISOString();
    const server = serverForRequest(req.connection);
    const role = roleNameFor(req.grantId);
    const password = randomBytes(24).toString('base64url');
    const meta: RoleMeta = { jit: 1, grantId: req.grantId, elevationId: req.elevationId, requester: req.requester, expiresAt };
    const qr = pg.escapeIdentifier(role);
    const lit = pg.escapeLiteral;
    const database = decodeURIComponent(server.url.pathname.slice(1));

    const limit = scopeLimit ?? config.connectionLimit;
    const reused = await inTransaction(server, 'issue', async (c) => {
      await lockAsJit(c, role);
      const existing = await roleComment(c, role);
      await checkRelations(c, grants);
      // The password is sent as a SCRAM verifier, never in clear (statement logs). VALID UNTIL is
      // the server's own backstop for new logins should the revoker be down at expiry.
      const auth = `PASSWORD ${lit(scramVerifier(password))} VALID UNTIL ${lit(expiresAt)} CONNECTION LIMIT ${limit}`;
      if (existing.exists) {
        if (existing.meta?.grantId !== req.grantId) throw SubstrateRejected(name, `role ${role} exists and was not created by jit for this grant; not touching it`);
        // NOLOGIN on our role means a revoke has begun or is done (the role is then the grant's
        // tombstone; issue never commits NOLOGIN): a late issue must not revive the grant.
        if (!existing.canLogin || existing.meta.revokedAt) throw PostgresGrantRevoked(name, req.grantId, server.id);
        // A retry of the same grant: same role, fresh password, so only one credential stays usable.
        // No LOGIN here: the role has it unless a revoke took it, and then it must stay without.
        await c.query(`ALTER ROLE ${qr} WITH ${auth}`);
      } else {
        await c.query(`CREATE ROLE ${qr} WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT LOGIN ${auth}`);
      }
      await c.query(`COMMENT ON ROLE ${qr} IS ${lit(JSON.stringify(meta))}`);
      await c.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(database)} TO ${qr}`);
      for (const s of new Set(grants.flatMap(schemasOf))) await c.query(`GRANT USAGE ON SCHEMA ${pg.escapeIdentifier(s)} TO ${qr}`);
      for (const g of grants) await c.query(renderGrant(g, role));
      return existing.exists;
    });
    // Checked again once the role is committed: a revoke makes the role NOLOGIN (or creates its
    // tombstone) before anything else, and the role name is unique, so either that revoke found this
    // role (and ends it) or this check finds it NOLOGIN. Without jit's lock (someone else held it)
    // the two can interleave; the role then cannot log in, and the revoke under way finishes it.
    if (await revokedMeanwhile(server, role)) {
      log.warn({ grantId: req.grantId, role, server: server.id }, 'the grant was revoked while this issue ran; its role cannot log in and is not handed out');
      throw PostgresGrantRevoked(name, req.grantId, server.id);
    }
    log.info({ grantId: req.grantId, role, server: server.id, expiresAt, reused }, 'postgres role issued');

    const host = config.loginHost ?? server.url.hostname;
    const port = String(config.loginPort ?? (server.url.port || '5432'));
    const login = new URL(`postgres://${host}:${port}/`);
    login.username = encodeURIComponent(role);
    login.password = encodeURIComponent(password);
    login.pathname = `/${encodeURIComponent(database)}`;
    // the grantee's URL asks for the same protection as jit's own connection (their CA file is theirs to give)
    const sslmode = config.tls?.mode ?? server.url.searchParams.get('sslmode');
    if (sslmode) login.searchParams.set('sslmode', sslmode);
    return {
      secret: { url: login.toString(), user: role, password, host, port, database },
      handle: {
        kind: POSTGRES_KIND,
        ...(name !== POSTGRES_KIND ? { instance: name } : {}),
        grantId: req.grantId,
        ref: { role, server: server.id },
        expiresAt,
      },
      expiresAt,
    };
  }

  /** Whether the role lost LOGIN (a revoke's first step, or its tombstone) or is gone. One row always. */
  const revokedMeanwhile = async (s: Server, role: string): Promise<boolean> => {
    let rows: any[];
    try {
      ({ rows } = await poolOf(s).query('SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1 AND rolcanlogin) AS "canLogin"', [role]));
    } catch (err) {
      throw classifyOn(s, 'issue (check for a revoke)', err);
    }
    return rows[0]?.canLogin === false;
  };

  const sessionCount = async (s: Server, role: string): Promise<number> => {
    const { rows } = await poolOf(s).query('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n FROM pg_catalog.pg_stat_activity WHERE usename = $1', [role]);
    return Number(rows[0]?.n ?? 0);
  };

  async function revoke(handle: RevocationHandle): Promise<RevokeReport> {
    const { role, server } = checkHandle(handle);
    const qr = pg.escapeIdentifier(role);
    const lit = pg.escapeLiteral;
    // The role is not dropped but kept as the grant's tombstone: NOLOGIN, no password, holding and
    // owning nothing, its comment saying when it was revoked. Only a role with CREATEROLE (and ADMIN
    // OPTION on it) may change a role's LOGIN or comment, so the grantee can neither undo nor forge
    // it, and a late issue of the grant finds it and is refused (JIT_ERR_POSTGRES_GRANT_REVOKED).
    const TOMBSTONE = `NOLOGIN PASSWORD NULL VALID UNTIL 'epoch' CONNECTION LIMIT 0`;
    const tombstoneMeta = (meta: RoleMeta | undefined): string =>
      lit(JSON.stringify({ ...(meta ?? { jit: 1, grantId: handle.grantId, expiresAt: String(handle.expiresAt ?? '') }), revokedAt: now().toISOString() }));
    // 1. No new logins, committed before anything else so a session cannot sneak in. A role that is
    //    not there (never created, or its issue not yet committed) gets its tombstone now, so an
    //    issue that comes later, or commits later, cannot leave a role that logs in.
    const present = await inTransaction(server, 'revoke (nologin)', async (c) => {
      await lockAsJit(c, role);
      const existing = await roleComment(c, role);
      if (!existing.exists) {
        await c.query(`CREATE ROLE ${qr} WITH NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT ${TOMBSTONE}`);
        await c.query(`COMMENT ON ROLE ${qr} IS ${tombstoneMeta(undefined)}`);
        return false;
      }
      if (existing.meta?.grantId !== handle.grantId) throw SubstrateInvalidHandle(name, `role ${role} is not marked as this grant's; not dropping it`);
      if (existing.meta.revokedAt) return false; // its tombstone: revoked before
      await c.query(`ALTER ROLE ${qr} WITH NOLOGIN`);
      // A non-superuser admin may signal, reassign and drop only what it has the privileges of.
      if (!existing.adminIsSuperuser) await grantToAdmin(c, role);
      return true;
    });
    // 2. End the sessions already open (VALID UNTIL alone leaves them alive), and wait until they are gone.
    const deadline = Date.now() + config.sessionDrainTimeoutMs;
    try {
      for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
        await poolOf(server).query('SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1 AND pid <> pg_catalog.pg_backend_pid()', [role]);
        if ((await sessionCount(server, role)) === 0) break;
        if (Date.now() > deadline) throw SubstrateUpstreamFailed(name, `revoke: sessions of ${role} still open after ${config.sessionDrainTimeoutMs} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    } catch (err) {
      throw classifyOn(server, 'revoke (terminate sessions)', err);
    }
    if (!present) return { leftovers: [] };
    // 3. Its privileges here, in a short transaction no reader's lock can stall (revoke-leftovers.ts).
    await inTransaction(server, 'revoke (strip privileges)', async (c) => {
      await lockAsJit(c, role);
      const existing = await roleComment(c, role);
      if (existing.exists) await stripPrivileges(c, role);
    });
    // 4. Drop the code it left that would run with others' rights, hand the rest to the powerless
    //    leftover owner (never to the admin), drop its privileges, drop the role (revoke-leftovers.ts).
    //    What it owns in other databases of the cluster is cleared there (same admin, that
    //    database); the neutralising here is committed first, so nothing waits on those.
    const clear = async (c: PgQueryable): Promise<{ found: LeftoverObject[]; elsewhere: string[] }> => {
      await lockAsJit(c, role);
      const existing = await roleComment(c, role);
      if (!existing.exists) return { found: [], elsewhere: [] };
      await lockAsJit(c, config.leftoverOwner);
      try {
        await ensureLeftoverOwner(c, config.leftoverOwner, existing.adminIsSuperuser);
      } catch (err) {
        if (err instanceof LeftoverOwnerUnsafe) throw SubstrateFailed(name, `revoke: ${err.message}`);
        throw err;
      }
      if (!existing.adminIsSuperuser) await grantToAdmin(c, role);
      const found = await neutraliseOwned(c, role, config.leftoverOwner);
      const elsewhere = await otherDatabasesOf(c, role);
      return { found, elsewhere };
    };
    /** Once it holds nothing in any database: the tombstone (no password, NOLOGIN, revokedAt in its comment). */
    const buryRole = async (c: PgQueryable): Promise<string[]> => {
      const elsewhere = await otherDatabasesOf(c, role);
      if (elsewhere.length > 0) return elsewhere;
      const existing = await roleComment(c, role);
      if (existing.exists && !existing.meta?.revokedAt) {
        await c.query(`ALTER ROLE ${qr} WITH ${TOMBSTONE}`);
        await c.query(`COMMENT ON ROLE ${qr} IS ${tombstoneMeta(existing.meta)}`);
      }
      return [];
    };
    const here = await inTransaction(server, 'revoke (drop)', async (c) => {
      const out = await clear(c);
      if (out.elsewhere.length === 0) await buryRole(c);
      return out;
    });
    const all = [...here.found];
    if (here.elsewhere.length > 0) {
      for (const db of here.elsewhere) {
        const url = new URL(server.url.toString());
        url.pathname = `/${encodeURIComponent(db)}`;
        const other: Server = { id: serverIdOf(url), url };
        try {
          const { found } = await inTransaction(other, `revoke (clear what ${role} owns in database ${db})`, clear);
          all.push(...found.map((l) => ({ ...l, note: `in database ${db}${l.note ? `; ${l.note}` : ''}` })));
        } finally {
          await other.pool?.end().catch(() => undefined);
        }
      }
      const left = await inTransaction(server, 'revoke (tombstone)', async (c) => {
        await lockAsJit(c, role);
        return buryRole(c);
      });
      if (left.length > 0) throw SubstrateUpstreamFailed(name, `revoke: ${role} still owns objects or privileges in database(s) ${left.join(', ')}`);
    }
    const leftovers = capLeftovers(all);
    if (leftovers.length > 0) {
      log.warn({ grantId: handle.grantId, role, server: server.id, leftovers }, 'the revoked role left objects that could run with other rights; see the leftovers');
    }
    log.info({ grantId: handle.grantId, role, server: server.id, leftovers: leftovers.length }, 'postgres role revoked');
    return { leftovers };
  }

  async function verifyRevoked(handle: RevocationHandle): Promise<VerifyResult> {
    const { role, server } = checkHandle(handle);
    let rows: any[];
    try {
      ({ rows } = await poolOf(server).query(
        `SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_roles WHERE rolname = $1)::pg_catalog.int4 AS roles,
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_roles WHERE rolname = $1 AND NOT rolcanlogin)::pg_catalog.int4 AS nologin,
                (SELECT pg_catalog.shobj_description(oid, 'pg_authid') FROM pg_catalog.pg_roles WHERE rolname = $1) AS comment,
                (SELECT pg_catalog.count(*) FROM pg_catalog.pg_stat_activity WHERE usename = $1)::pg_catalog.int4 AS sessions`,
        [role],
      ));
    } catch (err) {
      throw classifyOn(server, 'verify', err);
    }
    const roles = Number(rows[0]?.roles ?? 0);
    const sessions = Number(rows[0]?.sessions ?? 0);
    const tombstone = roles === 1 && Number(rows[0]?.nologin ?? 0) === 1 && parseMeta(rows[0]?.comment)?.revokedAt !== undefined;
    if (sessions === 0 && roles === 0) return { verified: true, detail: `role ${role} does not exist and has no sessions` };
    if (sessions === 0 && tombstone) return { verified: true, detail: `role ${role} is the revoked grant's tombstone (NOLOGIN) and has no sessions` };
    return { verified: false, detail: `role ${role}: ${roles ? (tombstone ? 'tombstone' : 'still exists') : 'gone'}, ${sessions} open session(s)` };
  }

  async function listIssued(): Promise<RevocationHandle[]> {
    const out: RevocationHandle[] = [];
    for (const s of servers.values()) {
      let rows: any[];
      try {
        ({ rows } = await poolOf(s).query("SELECT rolname, pg_catalog.shobj_description(oid, 'pg_authid') AS comment FROM pg_catalog.pg_roles WHERE rolname LIKE 'jit\\_%' ORDER BY rolname"));
      } catch (err) {
        throw classifyOn(s, 'list roles', err);
      }
      for (const r of rows) {
        const meta = parseMeta(r.comment);
        if (!meta || roleNameFor(meta.grantId) !== r.rolname) continue;
        if (meta.revokedAt) continue; // a revoked grant's tombstone: nothing left to revoke
        out.push({
          kind: POSTGRES_KIND,
          ...(name !== POSTGRES_KIND ? { instance: name } : {}),
          grantId: meta.grantId,
          ref: { role: r.rolname as string, server: s.id },
          expiresAt: meta.expiresAt,
        });
      }
    }
    return out;
  }

  async function checkDefaultIsReadOnly(defaultUrl = config.defaultUrl): Promise<Finding[]> {
    if (!defaultUrl) return [{ severity: 'warning', message: `${name}: no defaultUrl configured, so the default credential's read-only property is unproven` }];
    const url = parseServerUrl(defaultUrl);
    if (typeof url === 'string') return [{ severity: 'error', message: `${name}: defaultUrl ${url}` }];
    const pool = poolFactory({
      connectionString: url.toString(),
      max: 1,
      connectionTimeoutMillis: config.connectTimeoutMs,
      statement_timeout: config.statementTimeoutMs,
      options: ADMIN_SESSION_OPTIONS,
    });
    const findings: Finding[] = [];
    const where = serverIdOf(url);
    try {
      let client: PgPoolClientLike;
      try {
        client = await pool.connect();
      } catch (err) {
        throw classifyPg(name, 'check default credential (connect)', err, where);
      }
      const unhold = heldClient(client, 'check default credential');
      try {
        // READ WRITE explicitly: a default_transaction_read_only setting can be switched off by the
        // user, so it is not what makes a credential read-only; privileges are.
        await client.query('BEGIN READ WRITE');
        const { rows: attrs } = await client.query(
          'SELECT current_user AS "user", rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication FROM pg_catalog.pg_roles WHERE rolname = current_user',
        );
        const a = attrs[0] ?? {};
        for (const k of ['rolsuper', 'rolcreaterole', 'rolcreatedb', 'rolbypassrls', 'rolreplication']) {
          if (a[k] === true) findings.push({ severity: 'error', message: `${where}: default role ${a.user} has ${k.slice(3).toUpperCase()}` });
        }
        const { rows: schemas } = await client.query("SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY nspname LIMIT 200");
        const { rows: tables } = await client.query(
          `SELECT n.nspname, c.relname,
                  pg_catalog.has_table_privilege(c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') OR pg_catalog.has_any_column_privilege(c.oid, 'INSERT,UPDATE') AS writable
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r','p') AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            ORDER BY 1, 2 LIMIT 500`,
        );
        for (const t of tables) {
          if (t.writable === true) findings.push({ severity: 'error', message: `${where}: default credential holds a write privilege on ${t.nspname}.${t.relname}` });
        }
        // Attempt real writes, each in a savepoint rolled back: a "permission denied" is the proof.
        const attempt = async (label: string, sql: string): Promise<void> => {
          await client.query('SAVEPOINT jit_probe');
          try {
            await client.query(sql);
            findings.push({ severity: 'error', message: `${where}: default credential can ${label}` });
          } catch (err) {
            const code = sqlstate(err);
            // 23xxx = an integrity check stopped the row, i.e. the permission check had passed.
            if (code?.startsWith('23')) findings.push({ severity: 'error', message: `${where}: default credential can ${label}` });
            else if (code !== '42501') findings.push({ severity: 'warning', message: `${where}: could not decide whether the default credential can ${label} (SQLSTATE ${code ?? 'none'})` });
          } finally {
            await client.query('ROLLBACK TO SAVEPOINT jit_probe');
          }
        };
        const probeTable = `jit_readonly_probe_${randomBytes(4).toString('hex')}`;
        for (const s of schemas) {
          await attempt(`create tables in schema ${s.nspname}`, `CREATE TABLE ${pg.escapeIdentifier(s.nspname)}.${probeTable} (x int)`);
        }
        for (const t of tables) {
          const rel = `${pg.escapeIdentifier(t.nspname)}.${pg.escapeIdentifier(t.relname)}`;
          await attempt(`delete from ${t.nspname}.${t.relname}`, `DELETE FROM ${rel} WHERE false`);
          await attempt(`insert into ${t.nspname}.${t.relname}`, `INSERT INTO ${rel} DEFAULT VALUES`);
        }
        await client.query('ROLLBACK');
        unhold();
        client.release();
        if (!findings.some((f) => f.severity === 'error')) {
          findings.push({ severity: 'info', message: `${where}: default credential ${a.user} was refused every write tried (${schemas.length} schemas, ${tables.length} tables)` });
        }
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        unhold();
        client.release(true);
        throw classifyPg(name, 'check default credential', err);
      }
    } finally {
      await pool.end().catch(() => undefined);
    }
    return findings;
  }

  /** One configured server's admin role: superuser, reserved connection slot, schemas others can create in on its own search_path. */
  async function checkSetupOn(s: Server): Promise<Finding[]> {
    const findings: Finding[] = [];
    const where = s.id;
    let attrs: any;
    try {
      ({
        rows: [attrs],
      } = await poolOf(s).query(
        `SELECT current_user AS "user", r.rolsuper, r.rolcreaterole,
                pg_catalog.current_setting('reserved_connections', true) AS reserved,
                CASE WHEN pg_catalog.to_regrole('pg_use_reserved_connections') IS NULL THEN NULL
                     ELSE pg_catalog.pg_has_role(current_user, 'pg_use_reserved_connections', 'USAGE') END AS may_reserve
           FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
      ));
    } catch (err) {
      throw classifyOn(s, 'check admin', err);
    }
    const user = String(attrs?.user ?? '?');
    if (attrs?.rolsuper === true) {
      findings.push({
        severity: 'warning',
        message: `${where}: jit's admin role ${user} is a superuser; a non-superuser with CREATEROLE (owning, or holding WITH GRANT OPTION on, what the scopes grant) is enough and bounds what a hijacked admin session could do`,
      });
    } else {
      if (attrs?.rolcreaterole !== true) findings.push({ severity: 'error', message: `${where}: jit's admin role ${user} has no CREATEROLE; it cannot issue roles` });
      if (attrs?.may_reserve !== null && (attrs?.may_reserve !== true || Number(attrs?.reserved ?? 0) === 0)) {
        findings.push({
          severity: 'warning',
          message: `${where}: jit's admin role ${user} has no reserved connection slot: grantees filling max_connections would keep the revoke out; set reserved_connections > 0 and GRANT pg_use_reserved_connections TO ${user}`,
        });
      }
    }
    // The admin's own search_path, as any session without jit's pinned one would see it.
    const plain = poolFactory({ connectionString: s.url.toString(), max: 1, connectionTimeoutMillis: config.connectTimeoutMs, statement_timeout: config.statementTimeoutMs });
    let path: string[];
    try {
      const { rows } = await plain.query('SELECT pg_catalog.current_schemas(false)::pg_catalog.text[] AS path');
      path = Array.isArray(rows[0]?.path) ? (rows[0].path as string[]) : [];
    } catch (err) {
      throw classifyOn(s, 'check admin search_path', err);
    } finally {
      await plain.end().catch(() => undefined);
    }
    if (path.length > 0) {
      let rows: any[];
      try {
        ({ rows } = await poolOf(s).query(
          `SELECT n.nspname,
                  ARRAY(SELECT r.rolname::pg_catalog.text FROM pg_catalog.pg_roles r
                         WHERE r.rolname <> current_user AND NOT r.rolsuper
                           -- pg_database_owner stands for the database's owner: not "others" when that is the admin
                           AND NOT (r.rolname = 'pg_database_owner' AND pg_catalog.pg_get_userbyid(
                                     (SELECT d.datdba FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())) = current_user)
                           AND pg_catalog.has_schema_privilege(r.oid, n.oid, 'CREATE') ORDER BY 1 LIMIT 6) AS creators,
                  EXISTS (SELECT 1 FROM pg_catalog.aclexplode(n.nspacl) a WHERE a.grantee = 0 AND a.privilege_type = 'CREATE') AS public_create
             FROM pg_catalog.pg_namespace n WHERE n.nspname::pg_catalog.text = ANY ($1::pg_catalog.text[]) AND n.nspname <> 'pg_catalog' ORDER BY 1`,
          [path],
        ));
      } catch (err) {
        throw classifyOn(s, 'check admin search_path', err);
      }
      for (const r of rows) {
        const creators = (r.creators as string[]).slice(0, 5);
        if (r.public_create !== true && creators.length === 0) continue;
        const who = [r.public_create === true ? 'PUBLIC' : undefined, ...creators].filter(Boolean).join(', ') + ((r.creators as string[]).length > 5 ? ', ...' : '');
        findings.push({
          severity: 'warning',
          message:
            `${where}: schema ${r.nspname} is on admin role ${user}'s search_path and ${who} can create in it: a function there that matches a call better than pg_catalog's ` +
            `runs with the admin's rights in any session that does not pin its search_path (jit's own do); ALTER ROLE ${user} SET search_path = pg_catalog, or revoke CREATE`,
        });
      }
    }
    if (findings.length === 0)
      findings.push({ severity: 'info', message: `${where}: jit's admin role ${user} is not a superuser, has a reserved connection slot and no schema on its search_path others can create in` });
    return findings;
  }

  async function checkSetup(): Promise<Finding[]> {
    if (servers.size === 0) return [{ severity: 'error', message: `${name}: no adminUrl/adminUrls configured, so jit can issue nowhere` }];
    const out: Finding[] = [];
    for (const s of servers.values()) out.push(...(await checkSetupOn(s)));
    return out;
  }

  async function close(): Promise<void> {
    const pools = [...servers.values()].map((s) => s.pool).filter((p): p is PgPoolLike => !!p);
    for (const s of servers.values()) s.pool = undefined;
    await Promise.allSettled([...pools.map((p) => p.end()), ...retiring]);
  }

  return {
    kind: POSTGRES_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,
    validateScope,
    issue,
    revoke,
    verifyRevoked,
    listIssued,
    checkDefaultIsReadOnly,
    checkSetup,
    close,
  };
}

/** The registration: `registry.register(postgresSubstrate); registry.configure('postgres:orders', config)`. */
export const postgresSubstrate = defineSubstrate<PostgresConfig, PostgresDeps>({
  kind: POSTGRES_KIND,
  configSchema: postgresConfigSchema,
  credentialFiles: (c) => tlsFiles(c.tls),
  facts: (c) => ({ validateScope: (scope) => grantsOf(scope).problems, ...(c.maxTtlSeconds ? { maxTtlSeconds: c.maxTtlSeconds } : {}) }),
  create: createPostgresSubstrate,
});
