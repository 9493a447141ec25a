// The timeline: every applied event of an elevation as one line a person reads, in (time, id)
// order whatever the order of arrival, the oldest dropped beyond the ledger's limit.
import { EVENT_TYPES, formatDuration, type AnyElevationEvent } from '@jit/contracts';
import type { ElevationRecord } from './fold';
import type { TimelineEntry } from './types';

export function addTimeline(r: ElevationRecord, entry: TimelineEntry, maxTimeline: number): void {
  // Insert in (time, id) order; arrival order does not matter.
  let i = r.timeline.length;
  const after = (a: TimelineEntry, b: TimelineEntry) => Date.parse(a.time) - Date.parse(b.time) || (a.id > b.id ? 1 : a.id < b.id ? -1 : 0);
  while (i > 0 && after(r.timeline[i - 1] as TimelineEntry, entry) > 0) i--;
  r.timeline.splice(i, 0, entry);
  if (r.timeline.length > maxTimeline) r.timeline.splice(0, r.timeline.length - maxTimeline);
}

export function summarize(ev: AnyElevationEvent): string {
  switch (ev.type) {
    case EVENT_TYPES.requested: {
      const d = ev.data;
      return `${d.requester} requested ${d.target}/${d.scope} (${d.tier}) for ${formatDuration(d.ttlSeconds)}${d.breakGlass ? ' [break-glass]' : ''}`;
    }
    case EVENT_TYPES.rejected:
      return `rejected: ${ev.data.problems.length} problem(s), first: ${ev.data.problems[0]?.path} ${ev.data.problems[0]?.message}`;
    case EVENT_TYPES.withdrawn:
      return `withdrawn${ev.data.by ? ` by ${ev.data.by}` : ''}: ${ev.data.reason}`;
    case EVENT_TYPES.approvalRecorded: {
      const d = ev.data;
      return `${d.action} by ${d.approver} (${d.counted ? 'counted' : `not counted: ${d.reason ?? 'unknown'}`})`;
    }
    case EVENT_TYPES.approved:
      return `approved at merge ${ev.data.mergeSha.slice(0, 12)} by ${ev.data.approvers.join(', ') || '(break-glass)'}`;
    case EVENT_TYPES.bypassDetected:
      return `BYPASS: ${ev.data.reasons.join('; ')}`;
    case EVENT_TYPES.granted:
      return `granted on ${ev.data.substrate} until ${ev.data.expiresAt}`;
    case EVENT_TYPES.grantStarted:
      return `issuing on ${ev.data.substrate}`;
    case EVENT_TYPES.grantFailed:
      return `grant failed after ${ev.data.attempts} attempt(s): ${ev.data.error.code}`;
    case EVENT_TYPES.revokeRequested:
      return `revoke requested by ${ev.data.requestedBy}: ${ev.data.reason}`;
    case EVENT_TYPES.revoked:
      return `revoked (${ev.data.cause}${ev.data.verified ? ', verified' : ''}), ${ev.data.latenessMs} ms after due`;
    case EVENT_TYPES.revokeFailed:
      return `revoke attempt ${ev.data.attempt} failed: ${ev.data.error.code}; next at ${ev.data.nextAttemptAt}`;
    case EVENT_TYPES.expired:
      return `expired at ${ev.data.expiredAt}${ev.data.note ? ` (${ev.data.note})` : ''}`;
    case EVENT_TYPES.orphanRevoked:
      return `orphan credential revoked on ${ev.data.substrate}`;
    case EVENT_TYPES.grantDuplicated:
      return `GRANT ISSUED ${ev.data.issues} TIMES on ${ev.data.substrate}: ${ev.data.handles.length} credential(s), each revoked${ev.data.afterEnd ? ' (the last one after the grant had ended: at once)' : ''}`;
    case EVENT_TYPES.credentialFetched:
      return `credential fetched by ${ev.data.by} (${ev.data.via}${ev.data.ci ? ` in ${ev.data.ci.projectPath}${ev.data.ci.ref ? `@${ev.data.ci.ref}` : ''}${ev.data.ci.jobId ? ` job ${ev.data.ci.jobId}` : ''}` : ''})`;
    // Policy events name no elevation, so no timeline shows them; named here for exhaustiveness.
    case EVENT_TYPES.policyRatified:
      return `policy ${ev.data.version.slice(0, 12)} ratified (${ev.data.how})`;
    case EVENT_TYPES.policyRefused:
      return `policy change !${ev.data.mrIid} refused: ${ev.data.reasons.join('; ')}`;
    case EVENT_TYPES.policyBypassDetected:
      return `POLICY BYPASS: ${ev.data.reasons.join('; ')}`;
    case EVENT_TYPES.pushRecorded:
      return `${ev.data.pusher} pushed ${ev.data.totalCommits} commit(s) to ${ev.data.branch}`;
  }
}
