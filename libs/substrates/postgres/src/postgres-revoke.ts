// revoke: NOLOGIN first (or a tombstone for a role not there yet), end its sessions and wait for them
// to go, strip its privileges, neutralise and hand over what it owns here and in the cluster's other
// databases (revoke-leftovers.ts), then keep the role as the grant's tombstone (ADR 0013). Also what
// proves a revoke (verifyRevoked) and what the orphan sweep finds (listIssued).
import pg from 'pg';
import { SubstrateFailed, SubstrateInvalidHandle, SubstrateUpstreamFailed, type LeftoverObject, type RevocationHandle, type RevokeReport, type VerifyResult } from '@jit/substrates';
import { serverIdOf, type AdminConnections, type PgContext, type Server } from './admin-connections';
import { jitLock, parseMeta, roleComment, roleNameFor, type RoleMeta } from './grant-role';
import { POSTGRES_KIND, type PgQueryable } from './postgres-config';
import { LeftoverOwnerUnsafe, capLeftovers, ensureLeftoverOwner, grantToAdmin, neutraliseOwned, otherDatabasesOf, stripPrivileges } from './revoke-leftovers';

async function sessionCount(poolOf: AdminConnections['poolOf'], s: Server, role: string): Promise<number> {
  const { rows } = await poolOf(s).query('SELECT pg_catalog.count(*)::pg_catalog.int4 AS n FROM pg_catalog.pg_stat_activity WHERE usename = $1', [role]);
  return Number(rows[0]?.n ?? 0);
}

export async function revokeGrant(ctx: PgContext, handle: RevocationHandle): Promise<RevokeReport> {
  const { name, config, log, now } = ctx;
  const { checkHandle, inTransaction, poolOf, classifyOn } = ctx.conn;
  const lockAsJit = jitLock(log);
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
      if ((await sessionCount(poolOf, server, role)) === 0) break;
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

export async function verifyGrantRevoked(ctx: PgContext, handle: RevocationHandle): Promise<VerifyResult> {
  const { checkHandle, poolOf, classifyOn } = ctx.conn;
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

export async function listIssuedGrants(ctx: PgContext): Promise<RevocationHandle[]> {
  const { name } = ctx;
  const { servers, poolOf, classifyOn } = ctx.conn;
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
