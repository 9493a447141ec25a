// issue: the grant's role `jit_<grant>` (LOGIN, a SCRAM verifier of a fresh password, VALID UNTIL
// the grant's end, CONNECTION LIMIT), its comment and the scope's GRANTs, in one transaction under
// jit's lock; a retry of the same grant re-keys the role, a revoked grant's tombstone refuses it.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SubstrateInvalidScope, SubstrateRejected, SubstrateTtlTooLong, grantWindow, type IssueRequest, type Issued } from '@jit/substrates';
import type { AdminConnections, PgContext, Server } from './admin-connections';
import { PostgresGrantRevoked } from './errors';
import { isSystemSchema, renderGrant, schemasOf, type ParsedGrant } from './grant-grammar';
import { jitLock, roleComment, roleNameFor, type RoleMeta } from './grant-role';
import { POSTGRES_KIND, type PgQueryable } from './postgres-config';
import { grantsOf } from './postgres-scope';
import { scramVerifier } from './scram-verifier';

/** Each named table/sequence as the server resolves it: it must exist, be of that kind and live outside the system schemas. */
async function checkRelations(name: string, c: PgQueryable, grants: ParsedGrant[]): Promise<void> {
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
}

/** Whether the role lost LOGIN (a revoke's first step, or its tombstone) or is gone. One row always. */
async function revokedMeanwhile(conn: AdminConnections, s: Server, role: string): Promise<boolean> {
  const { poolOf, classifyOn } = conn;
  let rows: any[];
  try {
    ({ rows } = await poolOf(s).query('SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1 AND rolcanlogin) AS "canLogin"', [role]));
  } catch (err) {
    throw classifyOn(s, 'issue (check for a revoke)', err);
  }
  return rows[0]?.canLogin === false;
}

export async function issueGrant(ctx: PgContext, req: IssueRequest): Promise<Issued> {
  const { name, config, log, now } = ctx;
  const { serverForRequest, inTransaction } = ctx.conn;
  const lockAsJit = jitLock(log);
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
    await checkRelations(name, c, grants);
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
  if (await revokedMeanwhile(ctx.conn, server, role)) {
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
