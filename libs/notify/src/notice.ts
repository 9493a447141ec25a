// What a notification says, before any receiver's format: who, what, for how long, why, the MR
// and jit links, built from the event and what the log said earlier about its elevation. Only
// fields chosen here ever leave: never the event's data wholesale (a granted event carries the
// sealed credential, a handle names substrate objects).
import type { CloudEventJson } from '@jit/bus';
import { EVENT_NAME_BY_TYPE, formatDuration } from '@jit/contracts';
import type { ElevationState } from '@jit/ledger';

export interface Notice {
  event: { id: string; type: string; name: string; time?: string };
  elevationId?: string;
  /** One line, plain text (each format escapes it). */
  title: string;
  severity: 'info' | 'warning' | 'critical';
  /** Label/value pairs, plain text. */
  fields: Array<{ label: string; value: string }>;
  /** The requester's own words, plain text. */
  justification?: string;
  /** Reasons and problems (bypass, rejection, failures), plain text. */
  details: string[];
  links: { mr?: string; jit?: string };
}

/** `dev.jit.elevation.bypass.detected.v1` → `elevation.bypass.detected` (the names routes use). */
export function notifyEventName(type: string): string {
  return type.replace(/^dev\.jit\./, '').replace(/\.v1$/, '');
}

const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export interface NoticeOptions {
  /** jit's public URL: the notice links to `<url>/v1/elevations/<id>`. */
  publicUrl?: string;
}

export function buildNotice(event: CloudEventJson, state: ElevationState | undefined, options: NoticeOptions = {}): Notice {
  const name = notifyEventName(event.type);
  const data = rec(event.data);
  const id = str(data['elevationId']) ?? state?.id;
  const who = str(data['requester']) ?? state?.requester;
  const target = str(data['target']) ?? state?.target;
  const scope = str(data['scope']) ?? state?.scope;
  const tier = str(data['tier']) ?? state?.tier;
  const rawTtl = data['ttlSeconds'];
  const ttl = typeof rawTtl === 'number' && Number.isSafeInteger(rawTtl) && rawTtl > 0 ? rawTtl : state?.ttlSeconds;
  const breakGlass = data['breakGlass'] === true || state?.breakGlass === true;
  const what = target ? `${target}${scope ? `/${scope}` : ''}` : undefined;
  const mr = str(data['mrUrl']) ?? state?.mrUrl;

  const fields: Notice['fields'] = [];
  const add = (label: string, value: string | undefined) => value && fields.push({ label, value });
  add('Requester', who);
  add('Target', what);
  add('Tier', tier ? `${tier}${breakGlass ? ' (BREAK-GLASS)' : ''}` : breakGlass ? 'BREAK-GLASS' : undefined);
  add('For', ttl ? formatDuration(ttl) : undefined);
  const details: string[] = [];
  let severity: Notice['severity'] = breakGlass ? 'warning' : 'info';
  let title: string;
  const subject = `${what ?? id ?? 'an elevation'}`;
  switch (name) {
    case 'elevation.requested':
      title = `${who ?? 'someone'} requests ${breakGlass ? 'BREAK-GLASS ' : ''}${subject}${ttl ? ` for ${formatDuration(ttl)}` : ''}`;
      add('Approvals needed', typeof data['requiredApprovals'] === 'number' ? `${data['requiredApprovals']} (approve in GitLab)` : undefined);
      break;
    case 'elevation.approved':
      title = `Approved: ${subject} for ${who ?? 'the requester'}`;
      add('Approved by', Array.isArray(data['approvers']) ? (data['approvers'] as unknown[]).filter((a) => typeof a === 'string').join(', ') : undefined);
      break;
    case 'elevation.rejected':
      title = `Rejected: ${subject}`;
      for (const p of Array.isArray(data['problems']) ? data['problems'] : []) details.push(`${str(rec(p)['path']) ?? ''}: ${str(rec(p)['message']) ?? ''}`);
      break;
    case 'elevation.bypass.detected':
      severity = 'critical';
      title = `BYPASS: ${subject} was merged without verified approvals`;
      for (const r of Array.isArray(data['reasons']) ? data['reasons'] : []) if (typeof r === 'string') details.push(r);
      break;
    case 'elevation.granted':
      if (breakGlass) severity = 'critical';
      title = `Granted${breakGlass ? ' (BREAK-GLASS)' : ''}: ${subject} to ${who ?? 'the requester'}`;
      add('Expires', str(data['expiresAt']));
      break;
    case 'elevation.grant.failed':
      severity = 'warning';
      title = `Grant failed: ${subject}`;
      add('Error', str(rec(data['error'])['code']));
      break;
    case 'elevation.revoked':
      title = `Revoked: ${subject} (${str(data['cause']) ?? 'done'})`;
      add('Verified', typeof data['verified'] === 'boolean' ? (data['verified'] ? 'yes' : 'no') : undefined);
      break;
    case 'elevation.revoke.failed':
      severity = 'critical';
      title = `Revocation failing: ${subject} (attempt ${typeof data['attempt'] === 'number' ? data['attempt'] : '?'})`;
      add('Error', str(rec(data['error'])['code']));
      break;
    case 'elevation.expired':
      title = `Expired: ${subject}`;
      break;
    case 'elevation.revoke.requested':
      title = `Revocation requested: ${subject} by ${str(data['requestedBy']) ?? 'someone'}`;
      if (str(data['reason'])) details.push(str(data['reason'])!);
      break;
    case 'policy.bypass.detected':
    case 'policy.refused':
      severity = 'critical';
      title = name === 'policy.refused' ? 'Policy change refused: it never comes into force' : 'policy.yaml changed outside a ratified policy MR';
      for (const r of Array.isArray(data['reasons']) ? data['reasons'] : []) if (typeof r === 'string') details.push(r);
      break;
    case 'policy.ratified':
      title = `Policy ${str(data['version'])?.slice(0, 12) ?? ''} came into force (${str(data['how']) ?? 'ratified'})`;
      break;
    default:
      title = `${EVENT_NAME_BY_TYPE[event.type] ? name : 'event'}: ${subject}`;
  }
  const justification = name.startsWith('elevation.') ? (str(data['justification']) ?? state?.justification) : undefined;
  const jit = id && options.publicUrl ? `${options.publicUrl.replace(/\/+$/, '')}/v1/elevations/${encodeURIComponent(id)}` : undefined;
  return {
    event: { id: event.id, type: event.type, name, ...(event.time ? { time: event.time } : {}) },
    ...(id ? { elevationId: id } : {}),
    title,
    severity,
    fields,
    ...(justification ? { justification } : {}),
    details,
    links: { ...(mr && /^https?:\/\//.test(mr) ? { mr } : {}), ...(jit ? { jit } : {}) },
  };
}
