// The policy audit's checks (libs/substrates/wiring createPolicyAudit): the default credential really
// is read-only (writes tried in savepoints, rolled back), and each configured server's admin role is
// set up safely (no superuser needed, a reserved connection slot, no schema others can create in on
// its own search_path).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Finding } from '@jit/substrates';
import { parseServerUrl, serverIdOf, type PgContext, type Server } from './admin-connections';
import { classifyPg, sqlstate } from './pg-errors';
import { ADMIN_SESSION_OPTIONS, type PgPoolClientLike } from './postgres-config';

/** Probes `defaultUrl` (default: the configured one) by attempting writes that are rolled back. */
export async function checkDefaultIsReadOnly(ctx: PgContext, defaultUrl = ctx.config.defaultUrl): Promise<Finding[]> {
  const { name, config } = ctx;
  const { poolFactory, heldClient } = ctx.conn;
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
async function checkSetupOn(ctx: PgContext, s: Server): Promise<Finding[]> {
  const { config } = ctx;
  const { poolOf, poolFactory, classifyOn } = ctx.conn;
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

export async function checkAdminSetup(ctx: PgContext): Promise<Finding[]> {
  const { name } = ctx;
  const { servers } = ctx.conn;
  if (servers.size === 0) return [{ severity: 'error', message: `${name}: no adminUrl/adminUrls configured, so jit can issue nowhere` }];
  const out: Finding[] = [];
  for (const s of servers.values()) out.push(...(await checkSetupOn(ctx, s)));
  return out;
}
