// jit's admin connections of one instance: the configured servers (adminUrl, adminUrls), a pool per
// server (TLS when configured, search_path pinned), the admin URL followed through a rotation of its
// file (`adminUrlRef: file:`; a login refused in the rotation's gap is retriable), the server a
// request or a handle names, and one transaction with transient conflicts retried.
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import pg from 'pg';
import type { JitError } from '@jit/errors';
import type { Logger } from '@jit/observability';
import { SubstrateInvalidConfig, SubstrateInvalidHandle, SubstrateRejected, type RevocationHandle, type SubstrateDeps } from '@jit/substrates';
import { PostgresCredentialRefused } from './errors';
import { ROLE_RE, roleNameFor } from './grant-role';
import { CONFLICT_RETRIES, classifyPg, isTransientConflict, sqlstate } from './pg-errors';
import { ADMIN_SESSION_OPTIONS, POSTGRES_KIND, type PgPoolClientLike, type PgPoolFactory, type PgPoolLike, type PgQueryable, type PostgresConfig, type PostgresDeps } from './postgres-config';
import { pgSslOptions } from './postgres-tls';

export interface Server {
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

export function parseServerUrl(raw: string): URL | string {
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

export const serverIdOf = (url: URL): string => `${url.hostname}:${url.port || '5432'}/${decodeURIComponent(url.pathname.slice(1))}`;

/** What the instance's other files use of its connections. */
export interface AdminConnections {
  /** Every configured server by id (`host:port/database`). */
  servers: Map<string, Server>;
  /** The pool factory of the instance (TLS applied), for the probes' own short-lived pools. */
  poolFactory: PgPoolFactory;
  poolOf(s: Server): PgPoolLike;
  /** classifyPg for a call on `s`; a refused login of a file-sourced admin URL is retriable. */
  classifyOn(s: Server, op: string, err: unknown): JitError;
  serverForRequest(connection: Record<string, unknown>): Server;
  checkHandle(handle: RevocationHandle): { role: string; server: Server };
  inTransaction<T>(s: Server, op: string, fn: (c: PgQueryable) => Promise<T>): Promise<T>;
  /** Listens for the death of a checked-out connection; returns the unsubscribe. */
  heldClient(client: PgPoolClientLike, op: string): () => void;
  close(): Promise<void>;
}

/** What the issue, revoke and audit files of an instance share. */
export interface PgContext {
  name: string;
  config: PostgresConfig;
  log: Logger;
  now: () => Date;
  conn: AdminConnections;
}

export function createAdminConnections(config: PostgresConfig, deps: SubstrateDeps & Partial<PostgresDeps>): AdminConnections {
  const name = deps.name;
  const log: Logger = deps.logger;
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

  async function close(): Promise<void> {
    const pools = [...servers.values()].map((s) => s.pool).filter((p): p is PgPoolLike => !!p);
    for (const s of servers.values()) s.pool = undefined;
    await Promise.allSettled([...pools.map((p) => p.end()), ...retiring]);
  }

  return { servers, poolFactory, poolOf, classifyOn, serverForRequest, checkHandle, inTransaction, heldClient, close };
}
