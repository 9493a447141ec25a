// The tables the CLI prints, each column read from a field of the API's answer (typed by the
// API's own types: a renamed field is a type error here, and `tables.test.ts` runs them against
// the real catalog and read API so an empty column fails a test).
import { displayText, formatDuration } from '@jit/contracts';
import type { CatalogEntry, CatalogResponse } from '@jit/policy';
import type { ElevationSummary } from './api-client';
import type { Column } from './render';

/** `jit catalog`: one row per allowed (target, scope). */
export const CATALOG_COLUMNS: Array<Column<CatalogEntry>> = [
  { header: 'target', value: (e) => e.target },
  { header: 'scope', value: (e) => e.scope },
  { header: 'substrate', value: (e) => e.substrate },
  { header: 'tier', value: (e) => e.tier },
  { header: 'ttlMax', value: (e) => (Number.isSafeInteger(e.ttlMaxSeconds) && e.ttlMaxSeconds > 0 ? formatDuration(e.ttlMaxSeconds) : e.ttlMaxSeconds) },
  { header: 'approvals', value: (e) => e.requiredApprovals },
];

/** `jit catalog`, under the table: which policy version is in force, when and by whom it was ratified. */
export function catalogPolicyLines(c: Partial<CatalogResponse>): string[] {
  const out: string[] = [];
  const r = c.ratified;
  if (r) {
    const how =
      r.how === 'pin' ? 'pinned by the operator (JIT_POLICY_PIN)' : `ratified by MR !${r.mrIid ?? '?'}, approved by ${r.by.join(', ') || '(nobody)'}${r.mergedBy ? `, merged by ${r.mergedBy}` : ''}`;
    out.push(displayText(`policy ${String(r.version).slice(0, 12)} in force: ${how}, at ${r.at}`));
  } else if (c.version) out.push(displayText(`policy ${String(c.version).slice(0, 12)} in force`));
  const rej = c.latestPolicyRejected;
  if (rej?.version) out.push(displayText(`not in force: policy.yaml ${String(rej.version).slice(0, 12)} on the default branch (${rej.code ?? 'rejected'})`));
  return out;
}

/** `jit audit` (table and CSV): one row per elevation. */
export const AUDIT_COLUMNS: Array<Column<ElevationSummary>> = [
  { header: 'id', value: (e) => e.id },
  { header: 'state', value: (e) => e.state },
  { header: 'requester', value: (e) => e.requester },
  { header: 'target', value: (e) => e.target },
  { header: 'scope', value: (e) => e.scope },
  { header: 'tier', value: (e) => e.tier },
  { header: 'expiresAt', value: (e) => e.expiresAt },
  { header: 'updatedAt', value: (e) => e.updatedAt },
];
