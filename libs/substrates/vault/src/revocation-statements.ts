// What a database role's revocation statements leave a PostgreSQL grantee. Vault's PostgreSQL
// plugin runs a role's revocation statements in one transaction: with a bare `DROP ROLE` last, a
// grantee who left anything in another database of the cluster (anyone may create a large object
// wherever PUBLIC may connect) made the drop fail, and the rollback took `NOLOGIN` with it — the
// lease stayed live, every jit revoke failed, and the grantee logged in and wrote again until the
// role's VALID UNTIL (tested on OpenBao). The audit (`checkTtl`) reports such statements.

/** The drop that cannot undo the rest: a role left with objects elsewhere stays, NOLOGIN and without its privileges here. */
export const GUARDED_DROP_ROLE =
  'DO $$ BEGIN DROP ROLE IF EXISTS "{{name}}"; EXCEPTION WHEN dependent_objects_still_exist THEN RAISE WARNING \'role kept: it owns objects in another database\'; END $$';

/** Revocation statements for a PostgreSQL role of the database secrets engine that end a grant whatever the grantee left. */
export const POSTGRES_REVOCATION_STATEMENTS: readonly string[] = [
  'ALTER ROLE "{{name}}" NOLOGIN',
  `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = '{{name}}'`,
  'DROP OWNED BY "{{name}}"',
  GUARDED_DROP_ROLE,
];

/** Gaps of PostgreSQL-style revocation statements (empty when they are not about a ROLE: another engine). */
export function revocationGaps(statements: unknown): string[] {
  const list = Array.isArray(statements) ? statements.map(String) : [];
  const text = list.join('\n');
  if (!/\brole\b/i.test(text)) return [];
  // Vault splits each entry on ";" (a DO block is run whole), so look at the single statements.
  const single = list.flatMap((st) => (/^\s*do\b/i.test(st) ? [st] : st.split(';')));
  const gaps: string[] = [];
  if (!/\bnologin\b/i.test(text)) gaps.push('never set NOLOGIN, so the user may log in again until its VALID UNTIL');
  if (!/pg_terminate_backend/i.test(text)) gaps.push('never end open sessions (pg_terminate_backend), which keep their rights');
  if (single.some((st) => /^\s*drop\s+role\b/i.test(st))) {
    gaps.push(
      'run a bare DROP ROLE: Vault runs them in one transaction, so a user that left something in another database (a large object needs no privilege) makes the drop fail and the rollback undoes NOLOGIN too; drop the role in a DO block that tolerates dependent_objects_still_exist',
    );
  }
  return gaps;
}
