// A grant's role: its name (`jit_<grant>`), the JSON comment jit marks it with (grant, expiry, and
// `revokedAt` once it is the grant's tombstone), and jit's advisory lock on it.
import type { Logger } from '@jit/observability';
import { nameAfterGrant } from '@jit/substrates';
import type { PgQueryable } from './postgres-config';

/** Grant roles are `jit_<grant>`; nothing else jit creates may use the prefix. */
export const ROLE_PREFIX = 'jit_';
export const ROLE_RE = /^jit_[A-Za-z0-9_-]{1,59}$/;

/** Role name for a grant id: `jit_<grant>`, hashed down to 63 bytes when needed. */
export function roleNameFor(grantId: string): string {
  return nameAfterGrant(grantId, { prefix: ROLE_PREFIX, maxLength: 63 });
}

export interface RoleMeta {
  jit: 1;
  grantId: string;
  elevationId?: string;
  requester?: string;
  expiresAt: string;
  /** Set when the revoke is complete: the role is then the grant's tombstone (NOLOGIN, no password,
   * holds and owns nothing), kept so that a late issue of the grant is refused rather than re-creating it. */
  revokedAt?: string;
}

export function parseMeta(comment: unknown): RoleMeta | undefined {
  if (typeof comment !== 'string' || comment.length > 4000) return undefined;
  try {
    const m = JSON.parse(comment) as Partial<RoleMeta>;
    if (m && m.jit === 1 && typeof m.grantId === 'string' && typeof m.expiresAt === 'string') return m as RoleMeta;
  } catch {
    /* not ours */
  }
  return undefined;
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
export function jitLock(log: Logger): (c: PgQueryable, lockName: string) => Promise<void> {
  return async (c: PgQueryable, lockName: string): Promise<void> => {
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
}

/** The role's comment and LOGIN, and whether jit's admin is a superuser. */
export async function roleComment(c: PgQueryable, role: string): Promise<{ exists: boolean; canLogin?: boolean; meta?: RoleMeta; adminIsSuperuser: boolean }> {
  const { rows } = await c.query(
    `SELECT pg_catalog.shobj_description(r.oid, 'pg_authid') AS comment, r.rolcanlogin,
            (SELECT a.rolsuper FROM pg_catalog.pg_roles a WHERE a.rolname = CURRENT_USER) AS admin_super
       FROM pg_catalog.pg_roles r WHERE r.rolname = $1`,
    [role],
  );
  const adminIsSuperuser = rows[0]?.admin_super === true;
  return rows.length === 0 ? { exists: false, adminIsSuperuser } : { exists: true, canLogin: rows[0]?.rolcanlogin !== false, meta: parseMeta(rows[0]?.comment), adminIsSuperuser };
}
