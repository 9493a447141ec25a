import { describe, expect, it } from 'vitest';
import { CHAIN_ATTRIBUTE, eventDigest, linkEvent, verifyEventLog } from './event-chain';
import { createEventSigner, generateSigningKeyPem, producerTrust, type EventSigner } from './event-signature';
import { sampleData, sampleEvent } from './testing';
import { EVENT_TYPES, type ElevationEventType } from './topics';

const gate = createEventSigner(generateSigningKeyPem());
const issuer = createEventSigner(generateSigningKeyPem());
const revoker = createEventSigner(generateSigningKeyPem());
const stranger = createEventSigner(generateSigningKeyPem());
const trust = producerTrust({ gate: [gate.publicKey], issuer: [issuer.publicKey], revoker: [revoker.publicKey] });

/** One elevation's life, each event linked to the one before and signed by its producer. */
function lifecycle(elevationId = 'gl-42-7', times?: string[]): Record<string, unknown>[] {
  const steps: [ElevationEventType, EventSigner][] = [
    [EVENT_TYPES.requested, gate],
    [EVENT_TYPES.approved, gate],
    [EVENT_TYPES.granted, issuer],
    [EVENT_TYPES.revoked, revoker],
  ];
  const out: Record<string, unknown>[] = [];
  for (const [type, signer] of steps) {
    const prev = out.length ? eventDigest(out[out.length - 1]!) : undefined;
    const base = sampleData[type]() as { elevationId: string; grantId?: string };
    const ids = { elevationId, ...(base.grantId ? { grantId: base.grantId.replace(base.elevationId, elevationId) } : {}) };
    const e = sampleEvent(type, ids as never, { id: `${type}-${elevationId}`, ...(times ? { time: times[out.length]! } : {}) });
    out.push(signer.sign(linkEvent(e as unknown as Record<string, unknown>, prev)));
  }
  return out;
}
const kinds = (events: unknown[]) => verifyEventLog(events, { trust }).problems.map((p) => [p.kind, p.index]);

describe('per-elevation hash chain', () => {
  it('an intact log verifies, interleaved keys and JSON round trip included; the link is covered by the signature', () => {
    const a = lifecycle('gl-42-7');
    const b = lifecycle('gl-1-3');
    const log = JSON.parse(JSON.stringify([a[0], b[0], a[1], a[2], b[1], b[2], a[3], b[3]]));
    expect(verifyEventLog(log, { trust })).toMatchObject({ ok: true, events: 8, keys: 2, forks: 0, problems: [] });
    expect(a[1]![CHAIN_ATTRIBUTE]).toBe(eventDigest(a[0]!));
    expect(a[0]).not.toHaveProperty(CHAIN_ATTRIBUTE);
  });

  it('a removed event breaks the next link; a removed first event too', () => {
    const a = lifecycle();
    expect(kinds([a[0], a[2], a[3]])).toEqual([['missing_event', 1]]);
    expect(kinds([a[1], a[2], a[3]])).toEqual([['missing_event', 0]]);
  });

  it('two events swapped are reported as reordered', () => {
    const a = lifecycle();
    expect(kinds([a[0], a[2], a[1], a[3]])).toEqual([['reordered', 1]]);
  });

  it('an edited event fails its signature, and the event after it no longer links to anything', () => {
    const a = lifecycle();
    const edited = { ...a[2]!, data: { ...(a[2]!['data'] as object), expiresAt: '2099-01-01T00:00:00.000Z' } };
    expect(kinds([a[0], a[1], edited, a[3]])).toEqual([
      ['bad_signature', 2],
      ['missing_event', 3],
    ]);
    // re-linking and re-signing with a key of one's own does not help
    const resigned = stranger.sign(linkEvent(edited, eventDigest(a[1]!)));
    expect(kinds([a[0], a[1], resigned])).toEqual([['untrusted_key', 2]]);
  });

  it('an approval signed by a trusted key of another role is refused; an unchained later event and bad lines are reported', () => {
    const a = lifecycle();
    const byIssuer = issuer.sign(linkEvent({ ...a[1]! }, eventDigest(a[0]!)));
    expect(kinds([a[0], byIssuer])).toEqual([['wrong_producer', 1]]);
    const unlinked = gate.sign(linkEvent({ ...a[1]! }, undefined));
    expect(kinds([a[0], unlinked])).toEqual([['unchained', 1]]);
    expect(kinds([a[0], undefined, 'text', a[1]])).toEqual([
      ['malformed', 1],
      ['malformed', 2],
    ]);
    const badLink = gate.sign({ ...a[1]!, [CHAIN_ATTRIBUTE]: 'md5:abc' });
    expect(kinds([a[0], badLink])).toEqual([['malformed', 1]]);
  });

  it('two producers appending at once (a fork), and a redelivered duplicate, are no tampering', () => {
    const a = lifecycle();
    const fetched = issuer.sign(linkEvent(sampleEvent(EVENT_TYPES.credentialFetched) as unknown as Record<string, unknown>, eventDigest(a[2]!)));
    const report = verifyEventLog([a[0], a[1], a[2], a[3], fetched, a[3]], { trust });
    expect(report).toMatchObject({ ok: true, forks: 2 });
  });

  it('with a key, only that elevation is checked', () => {
    const a = lifecycle('gl-42-7');
    const b = lifecycle('gl-1-3');
    expect(verifyEventLog([a[0], b[1], a[1]], { trust, key: 'gl-42-7' })).toMatchObject({ ok: true, events: 2, keys: 1 });
    expect(verifyEventLog([a[0], b[1], a[1]], { trust, key: 'gl-1-3' }).problems.map((p) => p.kind)).toEqual(['missing_event']);
  });
});

describe('what no later link can show (ADR 0010 §6)', () => {
  // the sample grant runs until 00:30; another elevation's event at 02:00 shows the log reaches past it
  const later = (id: string) => lifecycle(id, ['2026-01-01T02:00:00.000Z', '2026-01-01T02:01:00.000Z', '2026-01-01T02:02:00.000Z', '2026-01-01T02:03:00.000Z']);

  it('a grant whose revoked was removed (the chain’s tail) is reported once its expiry plus 15 minutes is behind the log', () => {
    const a = lifecycle();
    const b = later('gl-1-3');
    expect(verifyEventLog([a[0], a[1], a[2], a[3], ...b], { trust })).toMatchObject({ ok: true });
    const r = verifyEventLog([a[0], a[1], a[2], ...b], { trust });
    expect(r.problems.map((p) => [p.kind, p.index, p.key])).toEqual([['unended', 2, 'gl-42-7']]);
    expect(r.problems[0]!.message).toMatch(/granted until 2026-01-01T00:30:00\.000Z.*no revoked or expired/);
    // the live log: as of now; an export that ends before expiry + grace: not (yet) a finding
    expect(kinds([a[0], a[1], a[2]])).toEqual([]);
    expect(verifyEventLog([a[0], a[1], a[2]], { trust, asOf: new Date('2026-01-01T00:50:00Z') }).problems.map((p) => p.kind)).toEqual(['unended']);
    expect(verifyEventLog([a[0], a[1], a[2]], { trust, asOf: new Date('2026-01-01T00:40:00Z') }).ok).toBe(true);
  });

  it('an export from a point in time (--since) verifies from each elevation’s anchor; a removed event inside it still does not', () => {
    const times = ['2026-01-01T00:00:00.000Z', '2026-01-01T00:01:00.000Z', '2026-01-01T00:02:00.000Z', '2026-01-01T00:40:00.000Z'];
    const a = lifecycle('gl-42-7', times);
    const since = new Date('2026-01-01T00:01:30Z');
    // the export: the last event before `since` (the anchor), then the window
    const exported = [a[1], a[2], a[3]];
    expect(kinds(exported)).toEqual([['missing_event', 0]]); // without --since: the anchor's own link is outside
    expect(verifyEventLog(exported, { trust, since })).toMatchObject({ ok: true, anchors: 1 });
    // removed: the first event of the window (the anchor's successor) — the next link breaks
    expect(verifyEventLog([a[1], a[3]], { trust, since }).problems.map((p) => [p.kind, p.index])).toEqual([['missing_event', 1]]);
    // removed: the anchor and the first of the window — the window's next event is no anchor (dated after since)
    expect(verifyEventLog([a[3]], { trust, since }).problems.map((p) => [p.kind, p.index])).toEqual([['missing_event', 0]]);
    // an anchor is still checked for its signature
    const forged = stranger.sign({ ...a[1]! });
    expect(verifyEventLog([forged, a[2], a[3]], { trust, since }).problems.map((p) => p.kind)).toEqual(['untrusted_key', 'missing_event']);
  });
});
