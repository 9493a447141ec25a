// The per-elevation hash chain (contract, ADR 0010): every event on jit.elevations.v1 names, in the
// CloudEvents extension `jitprev`, the digest of the event its producer last knew of on the same
// key (the elevation id; policy events: `policy-<project>`), so a consumer can tell that an event
// was removed, moved or altered. The digest is sha256 over the RFC 8785 canonical JSON of the whole
// event as published (signature attributes included), `sha256:` + base64url. The first event of a
// key has no `jitprev`. `jitprev` is set before signing, so the signature covers it.
//
// verifyEventLog checks a log (an export, or what the read API streams) in order: signatures by a
// trusted key (and by the producer role SIGNED_BY names), then each link. A link may point to any
// earlier event of its key, not only the one right before it: two producers appending to one
// elevation at once both point at the event they knew (a fork), which is no tampering. It is a
// problem when the event pointed at is nowhere in the log (missing), only later in the log
// (reordered), or when an event other than a key's first has no link (unchained).
import { createHash } from 'node:crypto';
import { canonicalJson, createEventVerifier, SIGNED_BY, type ProducerTrust, type SignatureCheck } from './event-signature';
import { eventKey } from './cloud-event';
import { EVENT_TYPES } from './topics';

/** Extension attribute: the digest of the previous event of the same elevation (absent on its first). */
export const CHAIN_ATTRIBUTE = 'jitprev';

const DIGEST = /^sha256:[A-Za-z0-9_-]{43}$/;

/** The digest a later event links to: `sha256:` + base64url(sha256(canonical JSON of the event as published)). */
export function eventDigest(event: object): string {
  return `sha256:${createHash('sha256').update(canonicalJson(event), 'utf8').digest('base64url')}`;
}

/** Whether `value` has the shape of a chain digest. */
export function isEventDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

/** The key an event is chained on: its Kafka key (the elevation id; a policy's `policy-<project>`). */
export function chainKeyOf(event: { subject?: unknown; elevationid?: unknown }): string {
  return eventKey({ subject: typeof event.subject === 'string' ? event.subject : undefined, elevationid: event.elevationid });
}

/** A copy of `event` linked to `previous` (a digest), or with no link for a key's first event. */
export function linkEvent<E extends object>(event: E, previous: string | undefined): E {
  const linked: Record<string, unknown> = { ...(event as Record<string, unknown>) };
  if (previous === undefined) delete linked[CHAIN_ATTRIBUTE];
  else linked[CHAIN_ATTRIBUTE] = previous;
  return linked as E;
}

export type ChainProblemKind = 'malformed' | 'unsigned' | 'untrusted_key' | 'bad_signature' | 'wrong_producer' | 'missing_event' | 'reordered' | 'unchained' | 'unended';

export interface ChainProblem {
  kind: ChainProblemKind;
  /** 0-based position of the event in the log given. */
  index: number;
  eventId?: string;
  type?: string;
  key?: string;
  /** One line saying what is wrong (ids and reasons only, never event data). */
  message: string;
}

export interface ChainReport {
  ok: boolean;
  /** Events read. */
  events: number;
  /** Distinct keys (elevations, policy streams) seen. */
  keys: number;
  /** Links that skip over events of their key (concurrent producers): not a problem. */
  forks: number;
  /** Keys whose first event in the log is before `since`: an export's anchor, its own link not checked. */
  anchors: number;
  /** Every problem, in log order; the first is what was broken first. */
  problems: ChainProblem[];
}

export interface VerifyLogOptions {
  /** The keys trusted per producer role (GET /v1/keys of each process, or pinned). */
  trust: ProducerTrust;
  /** Only the events of this key (an elevation id); the others are read for nothing. */
  key?: string;
  /** Keep at most this many problems (default 100); the report says when there were more. */
  maxProblems?: number;
  /**
   * The log is an export from this time on (`jit events --since`), which starts each key with its
   * last event before it (an anchor). A key's first event dated before `since` is that anchor: its
   * signature is checked, its link (to an event outside the export) is not. Every later event must
   * link as always, so an event removed from the window still breaks the next link; a key's first
   * event dated at or after `since` is no anchor and its missing predecessor is reported.
   */
  since?: Date;
  /**
   * For `unended`: when the log is known to reach (the live log: now). Default: the latest event
   * time in the log. A grant whose expiry plus `unendedGraceMs` is before this and that has no
   * `revoked` or `expired` after it is reported: its end was removed (the tail of a chain, which no
   * later link can show) or never came.
   */
  asOf?: Date;
  /** Default UNENDED_GRACE_MS. */
  unendedGraceMs?: number;
}

/** How long after its expiry a grant may still lack its `revoked`/`expired` before verify reports it: 15 minutes. */
export const UNENDED_GRACE_MS = 15 * 60_000;

const timeOf = (e: Record<string, unknown>): number => (typeof e['time'] === 'string' ? Date.parse(e['time']) : Number.NaN);

const short = (v: unknown, max = 128): string | undefined => (typeof v === 'string' ? v.slice(0, max) : undefined);

const REASON_TEXT: Record<Exclude<SignatureCheck, { ok: true }>['reason'], string> = {
  unsigned: 'has no signature (jitkeyid/jitsig)',
  malformed: 'has a malformed signature',
  untrusted_key: 'is signed by a key that is not trusted',
  bad_signature: 'does not match its signature (altered after signing)',
};

/**
 * Checks a log in order. `events` are the events as read (parsed JSON, or `undefined` for a line
 * that could not be read, reported as malformed). Never throws.
 */
export function verifyEventLog(events: readonly unknown[], options: VerifyLogOptions): ChainReport {
  const { trust } = options;
  const max = options.maxProblems ?? 100;
  const anyKey = createEventVerifier([...trust.gate.keys, ...trust.issuer.keys, ...trust.revoker.keys]);
  // pass 1: where each digest is, per key
  const positions = new Map<string, Map<string, number[]>>();
  const keyAt: (string | undefined)[] = [];
  events.forEach((raw, i) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return void keyAt.push(undefined);
    const key = chainKeyOf(raw as Record<string, unknown>);
    keyAt.push(key);
    let byDigest = positions.get(key);
    if (!byDigest) positions.set(key, (byDigest = new Map()));
    const d = eventDigest(raw);
    byDigest.set(d, [...(byDigest.get(d) ?? []), i]);
  });
  // pass 2: signatures and links, in order
  const problems: ChainProblem[] = [];
  const lastOfKey = new Map<string, string>();
  /** Granted and not ended yet, per key: where, and until when. */
  const live = new Map<string, { index: number; eventId?: string; expiresAt: number }>();
  let latest = Number.NEGATIVE_INFINITY;
  let forks = 0;
  let anchors = 0;
  let read = 0;
  const keys = new Set<string>();
  events.forEach((raw, i) => {
    const key = keyAt[i];
    if (options.key !== undefined && key !== options.key && key !== undefined) return;
    read += 1;
    const add = (kind: ChainProblemKind, message: string) => {
      const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
      problems.push({ kind, index: i, eventId: short(e['id']), type: short(e['type'], 256), key: short(key, 256), message });
    };
    if (key === undefined) return add('malformed', 'is not a JSON object (a CloudEvent)');
    keys.add(key);
    const e = raw as Record<string, unknown>;
    const digest = eventDigest(e);
    const sig = anyKey.verify(e);
    if (!sig.ok) add(sig.reason, REASON_TEXT[sig.reason]);
    else {
      const role = typeof e['type'] === 'string' ? SIGNED_BY[e['type']] : undefined;
      if (role && !trust[role].verify(e).ok) add('wrong_producer', `is signed by a trusted key, but not by a ${role} key, the only producer of this type`);
    }
    const prev = e[CHAIN_ATTRIBUTE];
    const before = lastOfKey.get(key);
    const time = timeOf(e);
    if (!Number.isNaN(time)) latest = Math.max(latest, time);
    if (e['type'] === EVENT_TYPES.granted) {
      const expiresAt = Date.parse(String((e['data'] as { expiresAt?: unknown } | undefined)?.expiresAt));
      if (!Number.isNaN(expiresAt)) live.set(key, { index: i, ...(typeof e['id'] === 'string' ? { eventId: e['id'] } : {}), expiresAt });
    } else if (e['type'] === EVENT_TYPES.revoked || e['type'] === EVENT_TYPES.expired) live.delete(key);
    if (before === undefined && options.since && !Number.isNaN(time) && time < options.since.getTime()) {
      anchors += 1; // the export's anchor: what it links to is before the export
    } else if (prev === undefined) {
      if (before !== undefined) add('unchained', `has no ${CHAIN_ATTRIBUTE} link but is not the first event of ${short(key)}`);
    } else if (!isEventDigest(prev)) {
      add('malformed', `has a ${CHAIN_ATTRIBUTE} that is not a sha256 digest`);
    } else if (prev !== before) {
      const at = positions.get(key)?.get(prev) ?? [];
      if (at.some((p) => p < i)) forks += 1;
      else if (at.length > 0) add('reordered', `follows an event that comes after it in the log (position ${at[0]! + 1})`);
      else add('missing_event', `follows an event of ${short(key)} that is not in the log (removed, or altered so its digest changed)`);
    }
    lastOfKey.set(key, digest);
  });
  const asOf = options.asOf?.getTime() ?? latest;
  const grace = options.unendedGraceMs ?? UNENDED_GRACE_MS;
  for (const [key, g] of live) {
    if (g.expiresAt + grace >= asOf) continue;
    problems.push({
      kind: 'unended',
      index: g.index,
      ...(g.eventId ? { eventId: short(g.eventId) } : {}),
      type: EVENT_TYPES.granted,
      key: short(key, 256),
      message: `was granted until ${new Date(g.expiresAt).toISOString()}, but the log has no revoked or expired after it ${Math.round(grace / 60_000)} min past that (as of ${new Date(asOf).toISOString()}): its end was removed, or the revocation never happened`,
    });
  }
  problems.sort((a, b) => a.index - b.index);
  const kept = problems.slice(0, max);
  return { ok: problems.length === 0, events: read, keys: keys.size, forks, anchors, problems: kept };
}
