// The CloudEvents 1.0 envelope (structured-mode JSON) of every elevation event: build with the
// cloudevents SDK, validate envelope + data by type on the way in.
import { createHash, randomUUID } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import { z } from 'zod';
import type { JitError } from '@jit/errors';
import { EVENT_NAME_BY_TYPE, isPolicyEventType, eventDataSchemas, eventDataSchemasStrict, schemaId, type EventDataByType } from './event-data';
import { InvalidEvent, SecretInEvent, UnknownEventType } from './errors';
import { findSecretLike } from './secret-like';
import type { ElevationEventType } from './topics';
import { EVENT_TYPES, policyKey, pushKey } from './topics';

/** A CloudEvents 1.0 structured-mode JSON document (the one definition; @jit/bus re-exports it). */
export interface CloudEventJson {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string;
  subject?: string;
  datacontenttype?: string;
  dataschema?: string;
  data?: unknown;
  [extension: string]: unknown;
}

export type Severity = 'info' | 'high';

/** An elevation event: envelope with `subject` = elevation id and the jit extensions. */
export interface ElevationEvent<T extends ElevationEventType = ElevationEventType> extends CloudEventJson {
  type: T;
  time: string;
  datacontenttype: 'application/json';
  dataschema: string;
  /** Extension: 'high' for break-glass, bypass and orphan events. */
  severity: Severity;
  /** Extension: the elevation id (absent only on orphan events with no known elevation). */
  elevationid?: string;
  data: EventDataByType[T];
}

/** Any elevation event, discriminated by `type`. */
export type AnyElevationEvent = { [K in ElevationEventType]: ElevationEvent<K> }[ElevationEventType];

export interface CreateEventOptions {
  /** URI-reference naming the producer, e.g. `/jit/approval-gate`. */
  source: string;
  /** Explicit event id. */
  id?: string;
  /**
   * Deterministic id: the same (type, idKey) always yields the same id, so a retried publish
   * carries the id of the first attempt and consumers deduplicate it. E.g. the grant id.
   */
  idKey?: string;
  /** Default: now. */
  time?: string | Date;
  /** Default 'info'; forced to 'high' for break-glass, bypass and orphan events. */
  severity?: Severity;
}

// The detector moved to ./secret-like; re-exported here for existing importers.
export { findSecretLike } from './secret-like';

const MAX_EVENT_JSON_BYTES = 1024 * 1024;
const HIGH_SEVERITY_TYPES: ReadonlySet<string> = new Set([
  EVENT_TYPES.bypassDetected,
  EVENT_TYPES.orphanRevoked,
  EVENT_TYPES.grantDuplicated,
  EVENT_TYPES.policyRefused,
  EVENT_TYPES.policyBypassDetected,
]);

/** CloudEvent subject of an event: its elevation id, else its grant id, else (policy events) policyKey. */
function subjectOf(type: string, d: { elevationId?: string; grantId?: string; projectId?: number; branch?: string }): string | undefined {
  if (isPolicyEventType(type) && typeof d.projectId === 'number') return policyKey(d.projectId);
  // A push is no elevation's event: `<project_id>@<branch>`.
  if (type === EVENT_TYPES.pushRecorded && typeof d.projectId === 'number' && typeof d.branch === 'string') return pushKey(d.projectId, d.branch).slice(0, 256);
  return d.elevationId ?? d.grantId;
}

/** Deterministic UUID-shaped id from (type, key): sha256, formatted 8-4-4-4-12. */
export function deterministicEventId(type: string, key: string): string {
  const h = createHash('sha256').update(`${type}\n${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function issuesToProblems(issues: readonly z.core.$ZodIssue[], prefix: string): string[] {
  return issues.map((i) => `${[prefix, ...i.path.map(String)].filter(Boolean).join('.') || '(root)'}: ${i.message}`);
}

/**
 * Build an elevation event. Validates the data strictly against the type's schema and refuses
 * anything shaped like a secret. Throws JitError (JIT_ERR_CONTRACTS_*) — a producer bug, not retriable.
 */
export function createElevationEvent<T extends ElevationEventType>(type: T, data: EventDataByType[T], options: CreateEventOptions): ElevationEvent<T> {
  const name = EVENT_NAME_BY_TYPE[type];
  if (!name) throw UnknownEventType(String(type));
  const parsed = eventDataSchemasStrict[name].safeParse(data);
  if (!parsed.success) {
    const problems = issuesToProblems(parsed.error.issues, 'data');
    throw InvalidEvent(type, problems.join('; '), { details: { problems } });
  }
  const secretAt = findSecretLike(data);
  if (secretAt) throw SecretInEvent(type, `data.${secretAt}`, { details: { path: `data.${secretAt}` } });

  const d = parsed.data as { elevationId?: string; grantId?: string; breakGlass?: boolean };
  const severity: Severity = d.breakGlass === true || HIGH_SEVERITY_TYPES.has(type) ? 'high' : (options.severity ?? 'info');
  const id = options.id ?? (options.idKey !== undefined ? deterministicEventId(type, options.idKey) : randomUUID());
  const time = options.time instanceof Date ? options.time.toISOString() : (options.time ?? new Date().toISOString());
  const subject = subjectOf(type, parsed.data as { projectId?: number });

  let ce: CloudEvent<unknown>;
  try {
    ce = new CloudEvent<unknown>({
      specversion: '1.0',
      id,
      source: options.source,
      type,
      time,
      subject,
      datacontenttype: 'application/json',
      dataschema: schemaId(type),
      severity,
      ...(d.elevationId ? { elevationid: d.elevationId } : {}),
      data: parsed.data,
    });
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw InvalidEvent(type, `envelope: ${msg}`, { cause: err, details: { problems: [`envelope: ${msg}`] } });
  }
  const json = ce.toJSON() as Record<string, unknown>;
  // The SDK normalises `time`; keep the producer's exact string so deterministic events are byte-stable.
  return { ...json, time, data: parsed.data } as unknown as ElevationEvent<T>;
}

/** Kafka key of an elevation event: the elevation id (orphan events without one: the grant id). */
export function eventKey(event: Pick<CloudEventJson, 'subject'> & { elevationid?: unknown }): string {
  if (typeof event.elevationid === 'string' && event.elevationid) return event.elevationid;
  return event.subject ?? '';
}

const envelopeSchema = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(256),
  source: z.string().min(1).max(2048),
  type: z.string().min(1).max(256),
  time: z.iso.datetime({ offset: true }),
  subject: z.string().min(1).max(256).optional(),
  datacontenttype: z.literal('application/json').optional(),
  dataschema: z.string().max(2048).optional(),
  severity: z.enum(['info', 'high']).optional(),
  elevationid: z.string().max(256).optional(),
  data: z.unknown(),
});

export type ParseEventResult = { ok: true; event: AnyElevationEvent } | { ok: false; error: JitError };

/**
 * Validate an incoming elevation event (object or JSON text): envelope, then data by type.
 * Unknown data keys are stripped (a newer producer may add fields). Never throws.
 */
export function parseElevationEvent(input: unknown): ParseEventResult {
  let json: unknown = input;
  if (typeof input === 'string') {
    if (Buffer.byteLength(input, 'utf8') > MAX_EVENT_JSON_BYTES) {
      return fail('(unknown)', [`event is larger than ${MAX_EVENT_JSON_BYTES} bytes`]);
    }
    try {
      json = JSON.parse(input);
    } catch {
      return fail('(unknown)', ['event is not valid JSON']);
    }
  }
  const env = envelopeSchema.safeParse(json);
  const type = json && typeof json === 'object' && typeof (json as { type?: unknown }).type === 'string' ? (json as { type: string }).type : '(unknown)';
  if (!env.success) return fail(type, issuesToProblems(env.error.issues, ''));
  const name = EVENT_NAME_BY_TYPE[env.data.type];
  if (!name) {
    return { ok: false, error: UnknownEventType(env.data.type.slice(0, 256)) };
  }
  const data = eventDataSchemas[name].safeParse(env.data.data);
  if (!data.success) return fail(type, issuesToProblems(data.error.issues, 'data'));
  const problems: string[] = [];
  const d = data.data as { elevationId?: string; grantId?: string; projectId?: number };
  const subject = subjectOf(env.data.type, d);
  if (env.data.subject !== undefined && env.data.subject !== subject) {
    problems.push(isPolicyEventType(env.data.type) ? 'subject: must be policy-<data.projectId>' : 'subject: must equal data.elevationId');
  }
  if (env.data.elevationid !== undefined && env.data.elevationid !== d.elevationId) {
    problems.push('elevationid: must equal data.elevationId');
  }
  if (problems.length > 0) return fail(type, problems);
  // A producer that skipped createElevationEvent must not get a secret into any read model.
  const secretAt = findSecretLike(data.data);
  if (secretAt) return { ok: false, error: SecretInEvent(type.slice(0, 256), `data.${secretAt}`) };
  const event = {
    ...(json as Record<string, unknown>),
    ...env.data,
    datacontenttype: 'application/json',
    dataschema: env.data.dataschema ?? schemaId(env.data.type),
    severity: env.data.severity ?? 'info',
    data: data.data,
  } as unknown as AnyElevationEvent;
  return { ok: true, event };
}

function fail(type: string, problems: string[]): { ok: false; error: JitError } {
  const shown = problems.slice(0, 20).join('; ') + (problems.length > 20 ? `; … ${problems.length - 20} more` : '');
  return { ok: false, error: InvalidEvent(type.slice(0, 256), shown, { details: { problems } }) };
}
