// What a revoked role leaves behind, and the part of revoke that deals with it. A grantee with
// CREATE (a `ddl` scope) or TRIGGER can leave code that runs with someone else's rights: a
// SECURITY DEFINER routine runs as its owner, a trigger runs as whoever writes the table, an event
// trigger as whoever runs DDL. Revoke must not hand such code to a privileged owner (it used to be
// `REASSIGN OWNED ... TO CURRENT_USER`, i.e. to jit's superuser admin). So, in the drop transaction:
//   1. event triggers the role owns, SECURITY DEFINER routines it owns, routines its triggers
//      call, and routines and operators named like pg_catalog's (a better-matching
//      public.hashtextextended(text, integer) runs in place of the catalog's for anyone whose
//      search_path has its schema) are dropped (with CASCADE, which takes their triggers, even on
//      tables the role does not own), and reported;
//   2. everything else it owns goes to a dedicated NOLOGIN owner role that holds no privilege and
//      is a member of nothing; views it owned are kept and reported (they now read with that
//      role's rights, i.e. nothing it was not given);
//   3. DROP OWNED removes its privileges; the same in every other database it owns something in
//      (otherDatabasesOf), then DROP ROLE the role.
// Dropping rather than `REVOKE EXECUTE ... FROM PUBLIC`: a revoke from PUBLIC leaves every explicit
// grant the grantee handed out, and triggers fire without any EXECUTE check at all.
import pg from 'pg';
import type { LeftoverObject } from '@jit/substrates';

/** The part of a pg client the helpers use (a transaction's client). */
export interface SqlRunner {
  query(text: string, values?: unknown[]): Promise<{ rows: any[] }>;
}

/**
 * A routine some other object calls implicitly: a rule or view (pg_rewrite), a column default or
 * generated column, a check or domain constraint or domain default, a row-level security policy, a
 * cast, an operator, a trigger's WHEN clause (whatever function the trigger runs), an index
 * expression. Like a trigger's, such a call runs with the rights of whoever touches the object —
 * a superuser's INSERT into a kept table with a grantee's rule ran the grantee's code as superuser.
 */
const REACHED = `EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                  WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.refobjid = p.oid
                    AND d.classid IN ('pg_catalog.pg_rewrite'::pg_catalog.regclass, 'pg_catalog.pg_attrdef'::pg_catalog.regclass,
                                      'pg_catalog.pg_constraint'::pg_catalog.regclass, 'pg_catalog.pg_policy'::pg_catalog.regclass,
                                      'pg_catalog.pg_cast'::pg_catalog.regclass, 'pg_catalog.pg_operator'::pg_catalog.regclass,
                                      'pg_catalog.pg_trigger'::pg_catalog.regclass, 'pg_catalog.pg_class'::pg_catalog.regclass,
                                      'pg_catalog.pg_type'::pg_catalog.regclass))`;

/** Most leftover entries one revoke reports (the rest are counted in one closing entry). */
export const MAX_REPORTED_LEFTOVERS = 100;

export class LeftoverOwnerUnsafe extends Error {}

const clean = (text: unknown, max = 300): string =>
  String(text ?? '')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .slice(0, max);

/**
 * The owner role for what revoked grants leave behind: created on first use (NOLOGIN, nothing
 * else), refused if someone gave it any attribute or membership that would make its objects run
 * with real rights. jit's admin becomes a member so that REASSIGN OWNED may hand objects to it.
 */
export async function ensureLeftoverOwner(c: SqlRunner, owner: string, adminIsSuperuser: boolean): Promise<void> {
  const read = () =>
    c.query(
      `SELECT r.rolsuper, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, r.rolreplication,
              (SELECT pg_catalog.count(*) FROM pg_catalog.pg_auth_members m WHERE m.member = r.oid)::int AS memberships
         FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
      [owner],
    );
  let { rows } = await read();
  if (rows.length === 0) {
    // Two revokes in different databases of one cluster can race here (advisory locks are per
    // database): the loser's CREATE fails on the unique name, and the role is then simply there.
    await c.query('SAVEPOINT jit_owner');
    try {
      await c.query(`CREATE ROLE ${pg.escapeIdentifier(owner)} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT`);
      await c.query(`COMMENT ON ROLE ${pg.escapeIdentifier(owner)} IS ${pg.escapeLiteral('jit: owns what revoked grants left behind; must stay NOLOGIN, without attributes or memberships')}`);
      await c.query('RELEASE SAVEPOINT jit_owner');
    } catch (err) {
      await c.query('ROLLBACK TO SAVEPOINT jit_owner');
      const code = (err as { code?: string }).code;
      if (code !== '23505' && code !== '42710') throw err;
    }
    ({ rows } = await read());
  }
  const r = rows[0] ?? {};
  const bad = ['rolsuper', 'rolcanlogin', 'rolcreaterole', 'rolcreatedb', 'rolbypassrls', 'rolreplication']
    .filter((k) => r[k] === true)
    .map((k) => (k === 'rolcanlogin' ? 'LOGIN' : k.slice(3).toUpperCase()));
  if (Number(r.memberships ?? 0) > 0) bad.push('membership in other roles');
  if (bad.length) throw new LeftoverOwnerUnsafe(`leftover owner role ${owner} has ${bad.join(', ')}; jit will not hand a revoked grant's objects to it`);
  if (!adminIsSuperuser) await grantToAdmin(c, owner);
}

/** `GRANT role TO CURRENT_USER` unless already a member: a non-superuser admin needs the role's
 * privileges to terminate its sessions and to REASSIGN/DROP what it owns. */
export async function grantToAdmin(c: SqlRunner, role: string): Promise<void> {
  const { rows } = await c.query(
    `SELECT 1 FROM pg_catalog.pg_auth_members m
       JOIN pg_catalog.pg_roles r ON r.oid = m.roleid
       JOIN pg_catalog.pg_roles a ON a.oid = m.member
      WHERE r.rolname = $1 AND a.rolname = CURRENT_USER AND m.inherit_option`,
    [role],
  );
  if (rows.length === 0) await c.query(`GRANT ${pg.escapeIdentifier(role)} TO CURRENT_USER WITH INHERIT TRUE, SET TRUE`);
}

/**
 * Steps 1-2 and DROP OWNED for `role` (which exists and is jit's) in the database `c` is connected
 * to; answers what was found. DROP ROLE is the caller's: objects are per database, so a role that
 * owns something in another database of the cluster must be cleared there first (otherDatabasesOf).
 */
export async function neutraliseOwned(c: SqlRunner, role: string, owner: string): Promise<LeftoverObject[]> {
  const leftovers: LeftoverObject[] = [];
  const qr = pg.escapeIdentifier(role);
  const qo = pg.escapeIdentifier(owner);
  const roleOid = `(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)`;

  const { rows: events } = await c.query(`SELECT evtname FROM pg_catalog.pg_event_trigger WHERE evtowner = ${roleOid}`, [role]);
  for (const e of events) {
    await c.query(`DROP EVENT TRIGGER IF EXISTS ${pg.escapeIdentifier(e.evtname as string)}`);
    leftovers.push({ kind: 'event trigger', name: clean(e.evtname), action: 'dropped', note: 'ran with the rights of whoever ran DDL' });
  }

  // regprocedure/regoperator/regclass print schema-qualified, quoted names (the admin session's
  // search_path is pg_catalog only), so the text is a valid, unambiguous name for DROP.
  const { rows: operators } = await c.query(
    `SELECT o.oid::pg_catalog.regoperator::pg_catalog.text AS signature FROM pg_catalog.pg_operator o
      WHERE o.oprowner = ${roleOid}
        AND EXISTS (SELECT 1 FROM pg_catalog.pg_operator q WHERE q.oprnamespace = 'pg_catalog'::pg_catalog.regnamespace AND q.oprname = o.oprname)
      ORDER BY 1`,
    [role],
  );
  for (const o of operators) {
    await c.query(`DROP OPERATOR IF EXISTS ${o.signature as string} CASCADE`);
    leftovers.push({ kind: 'operator', name: clean(o.signature), action: 'dropped', note: 'named like a pg_catalog operator: could run in its place' });
  }

  const { rows: routines } = await c.query(
    `SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS signature, p.prokind, p.prosecdef,
            EXISTS (SELECT 1 FROM pg_catalog.pg_proc q WHERE q.pronamespace = 'pg_catalog'::pg_catalog.regnamespace AND q.proname = p.proname) AS shadows,
            ${REACHED} AS reached,
            ARRAY(SELECT pg_catalog.format('%s.%I', t.tgrelid::pg_catalog.regclass, t.tgname)
                    FROM pg_catalog.pg_trigger t
                   WHERE t.tgfoid = p.oid AND NOT t.tgisinternal ORDER BY 1) AS triggers
       FROM pg_catalog.pg_proc p
      WHERE p.proowner = ${roleOid}
        AND (p.prosecdef
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgfoid = p.oid AND NOT t.tgisinternal)
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc q WHERE q.pronamespace = 'pg_catalog'::pg_catalog.regnamespace AND q.proname = p.proname)
             OR ${REACHED})
      ORDER BY 1`,
    [role],
  );
  for (const r of routines) {
    const kind = r.prokind === 'p' ? 'procedure' : r.prokind === 'a' ? 'aggregate' : 'function';
    await c.query(`DROP ${kind === 'aggregate' ? 'AGGREGATE' : 'ROUTINE'} IF EXISTS ${r.signature as string} CASCADE`);
    const why = [
      r.prosecdef ? 'SECURITY DEFINER: ran with its owner\u2019s rights' : undefined,
      (r.triggers as string[] | null)?.length ? 'called by a trigger' : undefined,
      r.shadows ? 'named like a pg_catalog function: could run in its place' : undefined,
      r.reached ? 'called from a rule, view, default, check, policy, cast, operator, trigger condition or index: ran with the rights of whoever used those' : undefined,
    ].filter(Boolean);
    leftovers.push({ kind, name: clean(r.signature), action: 'dropped', note: `${why.join('; ')}; dropped with what depended on it` });
    for (const t of (r.triggers as string[] | null) ?? []) {
      leftovers.push({ kind: 'trigger', name: clean(t), action: 'dropped', note: 'ran with the rights of whoever wrote the table' });
    }
  }

  // Triggers it planted on tables it does not own but holds TRIGGER on, whatever they call: a
  // trigger has no owner, and one running only built-in functions (a WHEN clause calling
  // pg_read_file, lo_export, set_config...) ran them as whoever wrote the table. "Created while the
  // grant was live" = an OID above the role's (OIDs come from one cluster-wide counter), so a trigger
  // the table's owner added during the grant goes too; it is reported like the rest.
  const { rows: planted } = await c.query(
    `SELECT pg_catalog.format('%s.%I', t.tgrelid::pg_catalog.regclass, t.tgname) AS name,
            pg_catalog.format('DROP TRIGGER IF EXISTS %I ON %s', t.tgname, t.tgrelid::pg_catalog.regclass) AS statement
       FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
      WHERE NOT t.tgisinternal AND t.oid > ${roleOid} AND c.relowner <> ${roleOid}
        AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a WHERE a.grantee = ${roleOid} AND a.privilege_type = 'TRIGGER')
      ORDER BY 1`,
    [role],
  );
  for (const t of planted) {
    await c.query(t.statement as string);
    leftovers.push({ kind: 'trigger', name: clean(t.name), action: 'dropped', note: 'added while the grant held TRIGGER on the table; ran as whoever wrote the table' });
  }

  const { rows: views } = await c.query(
    `SELECT c.oid::pg_catalog.regclass::pg_catalog.text AS name, c.relkind FROM pg_catalog.pg_class c
      WHERE c.relowner = ${roleOid} AND c.relkind IN ('v', 'm') ORDER BY 1`,
    [role],
  );
  for (const v of views) {
    leftovers.push({
      kind: v.relkind === 'm' ? 'materialized view' : 'view',
      name: clean(v.name),
      action: 'kept',
      note: `now owned by ${owner}, which holds no privileges: it reads only what that role is given`,
    });
  }

  // Foreign keys from its tables into tables it does not own (REFERENCES): kept, they would go on
  // refusing the owner's DELETE or UPDATE of every row the grantee pointed at, long after the TTL.
  const { rows: keys } = await c.query(
    `SELECT pg_catalog.format('%s.%I', k.conrelid::pg_catalog.regclass, k.conname) AS name,
            k.confrelid::pg_catalog.regclass::pg_catalog.text AS target,
            pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT IF EXISTS %I', k.conrelid::pg_catalog.regclass, k.conname) AS statement
       FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class t ON t.oid = k.conrelid
       JOIN pg_catalog.pg_class f ON f.oid = k.confrelid
      WHERE k.contype = 'f' AND t.relowner = ${roleOid} AND f.relowner <> ${roleOid}
      ORDER BY 1`,
    [role],
  );
  for (const k of keys) {
    await c.query(k.statement as string);
    leftovers.push({ kind: 'foreign key', name: clean(k.name), action: 'dropped', note: `referenced ${clean(k.target, 140)}, which it does not own: it held that table's rows` });
  }

  // ALTER ... OWNER (which REASSIGN runs for routines, types, ...) wants the new owner to hold
  // CREATE on the object's schema unless the admin is a superuser: lend it for this transaction.
  const { rows: schemas } = await c.query(
    `SELECT DISTINCT n.nspname FROM pg_catalog.pg_namespace n
      WHERE n.oid IN (SELECT pronamespace FROM pg_catalog.pg_proc WHERE proowner = ${roleOid}
                      UNION SELECT typnamespace FROM pg_catalog.pg_type WHERE typowner = ${roleOid}
                      UNION SELECT relnamespace FROM pg_catalog.pg_class WHERE relowner = ${roleOid}
                      UNION SELECT collnamespace FROM pg_catalog.pg_collation WHERE collowner = ${roleOid}
                      UNION SELECT connamespace FROM pg_catalog.pg_conversion WHERE conowner = ${roleOid}
                      UNION SELECT opcnamespace FROM pg_catalog.pg_opclass WHERE opcowner = ${roleOid}
                      UNION SELECT opfnamespace FROM pg_catalog.pg_opfamily WHERE opfowner = ${roleOid}
                      UNION SELECT oprnamespace FROM pg_catalog.pg_operator WHERE oprowner = ${roleOid}
                      UNION SELECT stxnamespace FROM pg_catalog.pg_statistic_ext WHERE stxowner = ${roleOid}
                      UNION SELECT cfgnamespace FROM pg_catalog.pg_ts_config WHERE cfgowner = ${roleOid}
                      UNION SELECT dictnamespace FROM pg_catalog.pg_ts_dict WHERE dictowner = ${roleOid})
        AND NOT pg_catalog.has_schema_privilege((SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2), n.oid, 'CREATE')
      ORDER BY 1`,
    [role, owner],
  );
  const lent = schemas.map((s) => pg.escapeIdentifier(s.nspname as string));
  for (const s of lent) await c.query(`GRANT CREATE ON SCHEMA ${s} TO ${qo}`);
  await c.query(`REASSIGN OWNED BY ${qr} TO ${qo}`);
  for (const s of lent) await c.query(`REVOKE CREATE ON SCHEMA ${s} FROM ${qo}`);
  await c.query(`DROP OWNED BY ${qr}`);
  return leftovers;
}

/**
 * Other databases of the cluster in which `role` owns objects or holds privileges (pg_shdepend is
 * cluster-wide). Any role may connect to a database whose CONNECT is PUBLIC's (the default) and
 * create a large object there, which PostgreSQL lets anyone do: DROP ROLE then fails, and the old
 * revoke rolled back everything it had neutralised, leaving the role its grants and its SECURITY
 * DEFINER code in the target database.
 */
export async function otherDatabasesOf(c: SqlRunner, role: string): Promise<string[]> {
  const { rows } = await c.query(
    `SELECT DISTINCT d.datname FROM pg_catalog.pg_shdepend s JOIN pg_catalog.pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_catalog.pg_authid'::pg_catalog.regclass
        AND s.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
        AND d.datname <> pg_catalog.current_database()
      ORDER BY 1`,
    [role],
  );
  return rows.map((r) => String(r.datname));
}

/**
 * Every privilege granted to `role` on objects it does not own in this database, revoked one by one
 * in a short transaction of its own. REVOKE takes no lock a reader holds, while the drop step's
 * REASSIGN does: anyone the grantee let read one of its tables (its everyday account) could hold
 * ACCESS SHARE on it in an open transaction and stall that step for ever — leaving the role its
 * privileges and its views and SECURITY DEFINER code working for whoever could call them. After
 * this, the role holds nothing here, whatever the drop step runs into. Answers how many objects.
 */
export async function stripPrivileges(c: SqlRunner, role: string): Promise<number> {
  const r = '(SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1::pg_catalog.text)';
  const held = (acl: string, extra = '') => `EXISTS (SELECT 1 FROM pg_catalog.aclexplode(${acl}) a WHERE a.grantee = ${r}${extra})`;
  // TRIGGER is given back after the REVOKE (harmless to a role that cannot log in): the drop step
  // finds the triggers the role planted by it, also when it is retried after this step.
  const { rows } = await c.query(
    `SELECT pg_catalog.format('REVOKE ALL ON %s %s FROM %I', CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, c.oid::pg_catalog.regclass, $1::pg_catalog.text) AS statement
       FROM pg_catalog.pg_class c WHERE c.relowner <> ${r} AND ${held('c.relacl')}
     UNION ALL
     SELECT pg_catalog.format('GRANT TRIGGER ON TABLE %s TO %I', c.oid::pg_catalog.regclass, $1::pg_catalog.text)
       FROM pg_catalog.pg_class c WHERE c.relowner <> ${r} AND ${held('c.relacl', " AND a.privilege_type = 'TRIGGER'")}
     UNION ALL
     SELECT pg_catalog.format('REVOKE ALL ON SCHEMA %I FROM %I', n.nspname, $1::pg_catalog.text)
       FROM pg_catalog.pg_namespace n WHERE n.nspowner <> ${r} AND ${held('n.nspacl')}
     UNION ALL
     SELECT pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM %I', p.oid::pg_catalog.regprocedure, $1::pg_catalog.text)
       FROM pg_catalog.pg_proc p WHERE p.proowner <> ${r} AND ${held('p.proacl')}
     UNION ALL
     SELECT pg_catalog.format('REVOKE ALL ON DATABASE %I FROM %I', d.datname, $1::pg_catalog.text)
       FROM pg_catalog.pg_database d
      WHERE d.datname = pg_catalog.current_database() AND d.datdba <> ${r} AND ${held('d.datacl')}`,
    [role],
  );
  const statements = rows.map((row) => String(row.statement));
  const revokes = statements.filter((x) => x.startsWith('REVOKE'));
  for (const st of [...revokes, ...statements.filter((x) => x.startsWith('GRANT'))]) await c.query(st);
  return revokes.length;
}

/** At most MAX_REPORTED_LEFTOVERS entries, the rest counted in one closing entry. */
export function capLeftovers(leftovers: LeftoverObject[]): LeftoverObject[] {
  if (leftovers.length > MAX_REPORTED_LEFTOVERS) {
    const rest = leftovers.splice(MAX_REPORTED_LEFTOVERS - 1);
    const dropped = rest.filter((l) => l.action === 'dropped').length;
    leftovers.push({
      kind: 'more',
      name: `${rest.length} more objects`,
      action: dropped > 0 ? 'dropped' : 'kept',
      note: `${dropped} dropped, ${rest.length - dropped} kept; not listed one by one`,
    });
  }
  return leftovers;
}
