// What PostgreSQL's errors mean to jit: the SQLSTATE of an error, the transient conflicts a
// transaction is simply run again for, and the mapping of the rest onto the substrate catalogue.
import type { JitError } from '@jit/errors';
import { SubstrateDenied, SubstrateFailed, SubstrateRejected, SubstrateUnreachable, SubstrateUpstreamFailed, classifySubstrateError } from '@jit/substrates';
import { classifyTls } from './postgres-tls';

export function sqlstate(err: unknown): string | undefined {
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
export function classifyPg(name: string, op: string, err: unknown, server?: string): JitError {
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
