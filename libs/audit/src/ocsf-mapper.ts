// jit events as OCSF 1.8.0 (docs/ocsf.md says which class each type maps to and why): grants,
// revocations and expiries are User Access Management (3005) Assign / Revoke Privileges; the other
// steps of an elevation (request, approvals, approval, rejection, withdrawal, a credential fetch) are
// 3005 with activity Other and their own activity_name, so a SIEM finds an elevation's whole life in
// one class, joined by metadata.correlation_uid (the elevation id); bypasses (an elevation or a
// policy merged without verified approvals) are Detection Findings (2004); policy and push events,
// which change no user's privileges, are Base Events (0). The mapper folds what it maps: a
// `revoked` carries no requester, so the user comes from the elevation's earlier events.
import { LRUCache } from 'lru-cache';
import { CHAIN_ATTRIBUTE, EVENT_TYPES, KEY_ID_ATTRIBUTE, TOPIC_ELEVATIONS, chainKeyOf } from '@jit/contracts';

export const OCSF_VERSION = '1.8.0';

/** An OCSF event as JSON (the class's attributes). */
export type OcsfEvent = Record<string, unknown>;

interface Context {
  requester?: string;
  target?: string;
  scope?: string;
  tier?: string;
}

const ASSIGN = 1;
const REVOKE = 2;
const OTHER = 99;
const USER_ACCESS = { class_uid: 3005, class_name: 'User Access Management', category_uid: 3, category_name: 'Identity & Access Management' };
const DETECTION = { class_uid: 2004, class_name: 'Detection Finding', category_uid: 2, category_name: 'Findings' };
const BASE = { class_uid: 0, class_name: 'Base Event', category_uid: 0, category_name: 'Uncategorized' };

type Step = { activity: number; name: string; failed?: boolean };
const USER_ACCESS_STEPS: Record<string, Step> = {
  [EVENT_TYPES.requested]: { activity: OTHER, name: 'Request Privileges' },
  [EVENT_TYPES.approvalRecorded]: { activity: OTHER, name: 'Record Approval' },
  [EVENT_TYPES.approved]: { activity: OTHER, name: 'Approve' },
  [EVENT_TYPES.rejected]: { activity: OTHER, name: 'Reject', failed: true },
  [EVENT_TYPES.withdrawn]: { activity: OTHER, name: 'Withdraw' },
  [EVENT_TYPES.grantStarted]: { activity: OTHER, name: 'Start Grant' },
  [EVENT_TYPES.granted]: { activity: ASSIGN, name: 'Assign Privileges' },
  [EVENT_TYPES.grantFailed]: { activity: ASSIGN, name: 'Assign Privileges', failed: true },
  [EVENT_TYPES.credentialFetched]: { activity: OTHER, name: 'Fetch Credential' },
  [EVENT_TYPES.revokeRequested]: { activity: OTHER, name: 'Request Revocation' },
  [EVENT_TYPES.revoked]: { activity: REVOKE, name: 'Revoke Privileges' },
  [EVENT_TYPES.revokeFailed]: { activity: REVOKE, name: 'Revoke Privileges', failed: true },
  [EVENT_TYPES.expired]: { activity: REVOKE, name: 'Revoke Privileges' },
  [EVENT_TYPES.orphanRevoked]: { activity: REVOKE, name: 'Revoke Privileges' },
};
const BYPASS_TYPES: ReadonlySet<string> = new Set([EVENT_TYPES.bypassDetected, EVENT_TYPES.policyBypassDetected]);
/** Detections a human must follow up besides the bypasses: one grant issued more than once. */
const DETECTION_TYPES: ReadonlySet<string> = new Set([...BYPASS_TYPES, EVENT_TYPES.grantDuplicated]);

const str = (v: unknown, max = 1024): string | undefined => (typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined);
const shortType = (type: string) => type.replace(/^dev\.jit\./, '').replace(/\.v\d+$/, '');
const compact = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export interface OcsfMapper {
  /** The OCSF event for a jit event (as read from the log); undefined for something that is no jit event. */
  map(event: Record<string, unknown>): OcsfEvent | undefined;
}

export interface OcsfMapperOptions {
  /** Elevations whose requester/target the mapper remembers (default 50 000). */
  maxElevations?: number;
}

export function createOcsfMapper(options: OcsfMapperOptions = {}): OcsfMapper {
  const context = new LRUCache<string, Context>({ max: options.maxElevations ?? 50_000 });
  const remember = (key: string, d: Record<string, unknown>) => {
    const before = context.get(key) ?? {};
    const next: Context = {
      requester: str(d['requester'], 255) ?? before.requester,
      target: str(d['target'], 63) ?? before.target,
      scope: str(d['scope'], 63) ?? before.scope,
      tier: str(d['tier'], 63) ?? before.tier,
    };
    context.set(key, next);
    return next;
  };

  return {
    map(event) {
      const type = str(event['type'], 256);
      if (!type || !type.startsWith('dev.jit.')) return undefined;
      const data = (event['data'] && typeof event['data'] === 'object' ? event['data'] : {}) as Record<string, unknown>;
      const key = chainKeyOf(event);
      const ctx = remember(key, data);
      const parsedTime = typeof event['time'] === 'string' ? Date.parse(event['time']) : Number.NaN;
      const high = event['severity'] === 'high' || DETECTION_TYPES.has(type);
      const elevationId = str(data['elevationId'], 256);
      const common = {
        time: Number.isNaN(parsedTime) ? 0 : parsedTime,
        severity_id: high ? 4 : 1,
        severity: high ? 'High' : 'Informational',
        metadata: compact({
          version: OCSF_VERSION,
          product: { name: 'jit', vendor_name: 'jit', uid: str(event['source'], 256) },
          uid: str(event['id'], 256),
          correlation_uid: elevationId ?? (key || undefined),
          event_code: shortType(type),
          log_name: TOPIC_ELEVATIONS,
          original_time: str(event['time'], 64),
          // the producer's key and the chain link, so an OCSF consumer can go back to the signed event
          labels: [str(event[KEY_ID_ATTRIBUTE], 64) && `jitkeyid:${str(event[KEY_ID_ATTRIBUTE], 64)}`, str(event[CHAIN_ATTRIBUTE], 64) && `jitprev:${str(event[CHAIN_ATTRIBUTE], 64)}`].filter(
            (l): l is string => typeof l === 'string',
          ),
        }),
      };
      const resources = ctx.target ? [compact({ name: ctx.target, uid: ctx.target, type: 'jit target', role: undefined })] : undefined;
      const privileges = ctx.target && ctx.scope ? [`${ctx.target}:${ctx.scope}`] : [];
      const unmapped = compact({
        jit_type: type,
        elevation_id: elevationId,
        grant_id: str(data['grantId'], 256),
        tier: ctx.tier,
        ttl_seconds: typeof data['ttlSeconds'] === 'number' ? data['ttlSeconds'] : undefined,
        expires_at: str(data['expiresAt'], 64),
        break_glass: typeof data['breakGlass'] === 'boolean' ? data['breakGlass'] : undefined,
        mr_url: str(data['mrUrl'], 2048),
      });

      if (DETECTION_TYPES.has(type)) {
        const duplicate = type === EVENT_TYPES.grantDuplicated;
        const reasons = duplicate
          ? [`issued ${Number(data['issues']) || 2} times; ${Array.isArray(data['handles']) ? data['handles'].length : 0} distinct credential(s), each revoked`]
          : Array.isArray(data['reasons'])
            ? data['reasons'].filter((r): r is string => typeof r === 'string')
            : [];
        return compact({
          ...DETECTION,
          activity_id: 1,
          activity_name: 'Create',
          type_uid: DETECTION.class_uid * 100 + 1,
          type_name: `${DETECTION.class_name}: Create`,
          ...common,
          is_alert: true,
          message: duplicate ? 'one grant was issued more than once' : type === EVENT_TYPES.bypassDetected ? 'merged without verified approvals' : 'policy changed without a verified ratification',
          finding_info: compact({
            uid: str(event['id'], 256) ?? key,
            title: shortType(type),
            desc: reasons.join('; ').slice(0, 4000) || undefined,
            types: [duplicate ? 'jit duplicate issue' : 'jit bypass'],
          }),
          resources,
          unmapped,
        });
      }

      const step = USER_ACCESS_STEPS[type];
      if (!step) {
        return compact({
          ...BASE,
          activity_id: OTHER,
          activity_name: shortType(type),
          type_uid: OTHER,
          type_name: `${BASE.class_name}: Other`,
          ...common,
          message: shortType(type),
          unmapped,
        });
      }
      const actorName = str(data['approver'], 255) ?? str(data['requestedBy'], 255) ?? str(data['by'], 255);
      const error = data['error'] && typeof data['error'] === 'object' ? (data['error'] as Record<string, unknown>) : undefined;
      return compact({
        ...USER_ACCESS,
        activity_id: step.activity,
        activity_name: step.name,
        type_uid: USER_ACCESS.class_uid * 100 + step.activity,
        type_name: `${USER_ACCESS.class_name}: ${step.activity === OTHER ? 'Other' : step.name}`,
        ...common,
        ...(step.failed ? { status_id: 2, status: 'Failure' } : step.activity === OTHER ? {} : { status_id: 1, status: 'Success' }),
        status_code: str(error?.['code'], 128),
        status_detail: str(error?.['message'], 2000),
        message: `${shortType(type)}${elevationId ? ` ${elevationId}` : ''}`,
        // the user whose privileges change: the requester (unknown only when the log was cut before the request)
        user: { name: ctx.requester ?? 'unknown', type_id: ctx.requester ? 1 : 0 },
        actor: actorName ? { user: { name: actorName, type_id: 1 } } : { app_name: str(event['source'], 256) ?? 'jit' },
        privileges,
        resources,
        unmapped,
      });
    },
  };
}
