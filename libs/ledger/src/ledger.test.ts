import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CloudEventJson as BusCloudEventJson } from '@jit/bus';
import { EVENT_TYPES, type AnyElevationEvent, type ElevationEventType, type EventDataByType } from '@jit/contracts';
import { FIXTURE_GRANT, sampleData, sampleEvent } from '@jit/contracts/testing';
import { createLedger } from './ledger';
import type { ElevationStateName, Ledger } from './types';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
let seq = 0;
/** A sample event at minute `m` with a unique id. */
function ev<K extends ElevationEventType>(type: K, m: number, overrides: Partial<EventDataByType[K]> = {}) {
  return sampleEvent(type, overrides, { time: T(m), id: `e${String(++seq).padStart(6, '0')}` });
}

const E = EVENT_TYPES;
type Name = keyof typeof EVENT_TYPES;

/** Canonical histories that put an elevation in each state. */
const reach: Record<ElevationStateName, Name[]> = {
  pending: ['requested'],
  rejected: ['requested', 'rejected'],
  withdrawn: ['requested', 'withdrawn'],
  approved: ['requested', 'approved'],
  bypassed: ['requested', 'bypassDetected'],
  granted: ['requested', 'approved', 'granted'],
  grant_failed: ['requested', 'approved', 'grantFailed'],
  revoked: ['requested', 'approved', 'granted', 'revoked'],
  expired: ['requested', 'approved', 'granted', 'expired'],
};

// The transition table (README.md): state after an event that arrives later in time.
// Columns in this order:
const cols: Name[] = [
  'requested',
  'rejected',
  'withdrawn',
  'approvalRecorded',
  'approved',
  'bypassDetected',
  'granted',
  'grantFailed',
  'revokeRequested',
  'revoked',
  'revokeFailed',
  'expired',
  'orphanRevoked',
];
const P = 'pending',
  R = 'rejected',
  W = 'withdrawn',
  A = 'approved',
  B = 'bypassed',
  G = 'granted',
  F = 'grant_failed',
  V = 'revoked',
  X = 'expired';
// prettier-ignore
const table: Record<ElevationStateName, ElevationStateName[]> = {
  //             req rej wdr apr-rec appr byp grant gfail rreq revoked rfail expired orphan
  pending:      [P,  R,  W,  P,      A,   B,  G,    F,    P,   V,      P,    X,      P],
  rejected:     [P,  R,  W,  R,      A,   B,  G,    F,    R,   V,      R,    X,      R],
  withdrawn:    [P,  R,  W,  W,      A,   B,  G,    F,    W,   V,      W,    X,      W],
  approved:     [A,  A,  A,  A,      A,   B,  G,    F,    A,   V,      A,    X,      A],
  bypassed:     [B,  B,  B,  B,      B,   B,  G,    F,    B,   V,      B,    X,      B],
  granted:      [G,  G,  G,  G,      G,   G,  G,    G,    G,   V,      G,    X,      G],
  grant_failed: [F,  F,  F,  F,      F,   F,  G,    F,    F,   V,      F,    X,      F],
  revoked:      [V,  V,  V,  V,      V,   V,  V,    V,    V,   V,      V,    V,      V],
  expired:      [X,  X,  X,  X,      X,   X,  X,    X,    X,   V,      X,    X,      X],
};

function ledgerIn(state: ElevationStateName): Ledger {
  const l = createLedger();
  reach[state].forEach((name, i) => l.apply(ev(E[name], 10 + i)));
  expect(l.get('gl-42-7')?.state).toBe(state);
  return l;
}

describe('state machine', () => {
  for (const from of Object.keys(table) as ElevationStateName[]) {
    cols.forEach((col, i) => {
      const to = table[from][i] as ElevationStateName;
      it(`${from} + ${col} (later) -> ${to}`, () => {
        const l = ledgerIn(from);
        const r = l.apply(ev(E[col], 30));
        expect(r.error).toBeUndefined();
        expect(l.get('gl-42-7')?.state).toBe(to);
        expect(r.state).toBe(to);
        expect(r.previousState).toBe(from);
      });
    });
  }

  it.each([
    ['rejected', 'requested'],
    ['withdrawn', 'requested'],
    ['pending', 'rejected'],
    ['pending', 'withdrawn'],
  ] as [ElevationStateName, Name][])('%s + an older %s stays put (late pre-merge event)', (from, col) => {
    const l = ledgerIn(from);
    const r = l.apply(ev(E[col], 1));
    expect(l.get('gl-42-7')?.state).toBe(from);
    expect(r.changed).toBe(false);
  });

  it('a late requested after granted does not move the state back nor overwrite merge-time data', () => {
    const l = ledgerIn('granted');
    const r = l.apply(ev(E.requested, 40, { target: 'other-db', ttlSeconds: 60 }));
    const s = l.get('gl-42-7');
    expect(s?.state).toBe('granted');
    expect(s?.target).toBe('orders-db');
    expect(s?.ttlSeconds).toBe(1800);
    expect(r.duplicate).toBe(false);
  });
});

describe('idempotency', () => {
  it('applies an event id once', () => {
    const l = createLedger();
    const e = ev(E.requested, 1);
    expect(l.apply(e)).toMatchObject({ changed: true, duplicate: false, state: 'pending' });
    expect(l.apply(e)).toMatchObject({ changed: false, duplicate: true, state: 'pending' });
    expect(l.apply(JSON.parse(JSON.stringify(e)))).toMatchObject({ changed: false, duplicate: true });
    expect(l.seen(e.id)).toBe(true);
    expect(l.get('gl-42-7')?.timeline).toHaveLength(1);
    expect(l.stats().events).toBe(1);
  });

  it('treats a second granted for the same grant id (a re-issue, new event id) as a duplicate that replaces the credential', () => {
    const l = ledgerIn('granted');
    const r = l.apply(ev(E.granted, 40, { handle: { ...sampleData[E.granted]().handle, ref: { role: 'jit_other' } } }));
    expect(r).toMatchObject({ duplicate: true, changed: true, state: 'granted' });
    expect(l.get('gl-42-7')?.handle?.ref).toEqual({ role: 'jit_other' });
  });

  it('grant.started marks the grant as being issued without changing the state; granted keeps the mark', () => {
    const l = ledgerIn('approved');
    expect(l.apply(ev(E.grantStarted, 30))).toMatchObject({ changed: true, duplicate: false, state: 'approved' });
    expect(l.get('gl-42-7')).toMatchObject({ state: 'approved', grantStartedAt: expect.any(String) });
    expect(l.apply(ev(E.grantStarted, 31))).toMatchObject({ duplicate: true, state: 'approved' });
    l.apply(ev(E.granted, 40));
    expect(l.get('gl-42-7')).toMatchObject({ state: 'granted', grantStartedAt: expect.any(String) });
    expect(l.byGrant(FIXTURE_GRANT)?.id).toBe('gl-42-7');
  });

  it('serves the latest granted of a grant whatever the arrival order (the earlier credential was replaced)', () => {
    const a = ev(E.granted, 20, { handle: { ...sampleData[E.granted]().handle, ref: { role: 'first' } } });
    const b = ev(E.granted, 25, { handle: { ...sampleData[E.granted]().handle, ref: { role: 'second' } } });
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      const l = createLedger();
      order.forEach((e) => l.apply(e));
      expect(l.get('gl-42-7')?.handle?.ref).toEqual({ role: 'second' });
    }
  });

  it('refuses invalid events without recording anything', () => {
    const l = createLedger();
    const bad = { ...ev(E.granted, 1), data: { elevationId: 'gl-42-7' } } as unknown as BusCloudEventJson;
    const r = l.apply(bad);
    expect(r).toMatchObject({ changed: false, duplicate: false, error: { code: 'JIT_ERR_CONTRACTS_INVALID_EVENT' } });
    expect(l.seen(bad.id)).toBe(false);
    expect(l.get('gl-42-7')).toBeUndefined();
    for (const junk of [null, 'x', 42, {}, { specversion: '1.0' }]) {
      expect(l.apply(junk as unknown as BusCloudEventJson).error).toBeDefined();
    }
  });

  it('refuses oversized events without storing them', () => {
    const l = createLedger();
    const huge = JSON.parse(JSON.stringify(ev(E.requested, 1)));
    huge.data.justification = 'x'.repeat(5 * 1024 * 1024);
    const many = JSON.parse(JSON.stringify(ev(E.requested, 2)));
    many.data.eligibleApprovers = Array.from({ length: 20_000 }, (_, i) => `u${i}`);
    for (const e of [huge, many]) expect(l.apply(e).error?.code).toBe('JIT_ERR_CONTRACTS_INVALID_EVENT');
    expect(l.stats()).toMatchObject({ elevations: 0, events: 0 });
  });

  it('refuses an event carrying a secret and never stores it', () => {
    const l = createLedger();
    const e = JSON.parse(JSON.stringify(ev(E.revoked, 1)));
    e.data.verifyDetail = 'connected with postgres://jit:Hunter2Hunter2@db/orders';
    const r = l.apply(e);
    expect(r.error?.code).toBe('JIT_ERR_CONTRACTS_SECRET_IN_EVENT');
    expect(JSON.stringify(l.list())).not.toContain('Hunter2Hunter2');
  });
});

describe('order independence', () => {
  /** A full lifecycle plus noise, in time order. */
  function history() {
    const g = { grantId: FIXTURE_GRANT };
    return [
      ev(E.requested, 1, { headSha: 'aaaaaaa' }),
      ev(E.rejected, 2, { headSha: 'aaaaaaa' }),
      ev(E.requested, 3, { headSha: 'bbbbbbb' }),
      ev(E.approvalRecorded, 4, { approver: 'bob', at: T(4) }),
      ev(E.approvalRecorded, 5, { approver: 'alice', at: T(5) }),
      ev(E.approvalRecorded, 6, { approver: 'bob', action: 'unapproved', counted: false, reason: 'stale', at: T(6) }),
      ev(E.approvalRecorded, 7, { approver: 'dave', counted: false, reason: 'agent', at: T(7) }),
      ev(E.approved, 8),
      ev(E.grantFailed, 9, g),
      ev(E.granted, 10),
      ev(E.revokeRequested, 11),
      ev(E.revokeFailed, 12, { attempt: 1 }),
      ev(E.revokeFailed, 13, { attempt: 2, nextAttemptAt: T(14) }),
      ev(E.revoked, 14, { cause: 'requested', revokedAt: T(14) }),
    ];
  }

  it('the in-order replay yields the expected view', () => {
    const l = createLedger();
    history().forEach((e) => l.apply(e));
    const s = l.get('gl-42-7');
    expect(s).toMatchObject({
      state: 'revoked',
      projectId: 42,
      mrIid: 7,
      headSha: 'bbbbbbb',
      grantId: FIXTURE_GRANT,
      revokeFailures: 2,
      revokeCause: 'requested',
      createdAt: T(1),
      updatedAt: T(14),
    });
    expect(s?.problems).toBeUndefined();
    expect(s?.approvals.map((a) => [a.approver, a.action, a.counted])).toEqual([
      ['alice', 'approved', true],
      ['bob', 'unapproved', false],
      ['dave', 'approved', false],
    ]);
    expect(s?.timeline.map((t) => t.time)).toEqual(history().map((e) => e.time));
    expect(l.grantsLive()).toEqual([]);
  });

  it('events of one elevation in the same millisecond: the one later in the log wins', () => {
    const at = '2026-11-26T10:00:00.000Z';
    const requested = sampleEvent(EVENT_TYPES.requested, { elevationId: 'gl-42-8' }, { time: at });
    const rejected = sampleEvent(EVENT_TYPES.rejected, { elevationId: 'gl-42-8' }, { time: at });
    const a = createLedger();
    a.apply(requested);
    a.apply(rejected);
    expect(a.get('gl-42-8')?.state).toBe('rejected');
    const b = createLedger();
    b.apply(rejected);
    b.apply(requested);
    expect(b.get('gl-42-8')?.state).toBe('pending');
  });

  it('any shuffle, with duplicates, converges to the same state', () => {
    const events = history();
    const reference = createLedger();
    events.forEach((e) => reference.apply(e));
    const expected = reference.get('gl-42-7');
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), fc.array(fc.nat(events.length - 1), { maxLength: 5 }), (shuffled, dupIdx) => {
        const l = createLedger();
        const withDups: AnyElevationEvent[] = [...shuffled];
        for (const i of dupIdx) withDups.splice(i, 0, events[i] as AnyElevationEvent);
        withDups.forEach((e) => l.apply(e));
        expect(l.get('gl-42-7')).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('every prefix of the history, applied in reverse, gives the state of that prefix in order', () => {
    const events = history();
    for (let n = 1; n <= events.length; n++) {
      const prefix = events.slice(0, n);
      const inOrder = createLedger();
      prefix.forEach((e) => inOrder.apply(e));
      const reversed = createLedger();
      [...prefix].reverse().forEach((e) => reversed.apply(e));
      expect(reversed.get('gl-42-7'), `prefix of ${n}`).toEqual(inOrder.get('gl-42-7'));
    }
  });
});

describe('queries', () => {
  function populated() {
    const l = createLedger();
    // gl-1-1: pending orders-db by carol; gl-2-2: granted billing by dan; gl-3-3: granted orders-db, expires first
    l.apply(ev(E.requested, 1, { elevationId: 'gl-1-1', projectId: 1, mrIid: 1 }));
    const g2 = 'gl-2-2-abcdef1';
    l.apply(ev(E.requested, 2, { elevationId: 'gl-2-2', projectId: 2, mrIid: 2, requester: 'dan', target: 'billing' }));
    l.apply(ev(E.approved, 3, { elevationId: 'gl-2-2', grantId: g2, projectId: 2, mrIid: 2, requester: 'dan', target: 'billing' }));
    const h2 = { ...sampleData[E.granted]().handle, grantId: g2, expiresAt: T(90) };
    l.apply(ev(E.granted, 4, { elevationId: 'gl-2-2', grantId: g2, handle: h2, expiresAt: T(90), requester: 'dan', target: 'billing' }));
    const g3 = 'gl-3-3-abcdef2';
    const h3 = { ...sampleData[E.granted]().handle, grantId: g3, expiresAt: T(60) };
    l.apply(ev(E.granted, 5, { elevationId: 'gl-3-3', grantId: g3, handle: h3, expiresAt: T(60) }));
    l.apply(ev(E.revokeRequested, 6, { elevationId: 'gl-3-3', grantId: g3 }));
    return l;
  }

  it('lists with filters, oldest first', () => {
    const l = populated();
    expect(l.list().map((s) => s.id)).toEqual(['gl-1-1', 'gl-2-2', 'gl-3-3']);
    expect(l.list({ state: 'granted' }).map((s) => s.id)).toEqual(['gl-2-2', 'gl-3-3']);
    expect(l.list({ state: ['pending', 'rejected'] }).map((s) => s.id)).toEqual(['gl-1-1']);
    expect(l.list({ target: 'billing' }).map((s) => s.id)).toEqual(['gl-2-2']);
    expect(l.list({ requester: 'carol' }).map((s) => s.id)).toEqual(['gl-1-1', 'gl-3-3']);
    expect(l.list({ since: T(2) }).map((s) => s.id)).toEqual(['gl-2-2', 'gl-3-3']);
    expect(l.list({ until: new Date(T(5)) }).map((s) => s.id)).toEqual(['gl-1-1', 'gl-2-2']);
  });

  it('refuses a filter it cannot apply', () => {
    const l = populated();
    expect(() => l.list({ since: 'yesterday' })).toThrow(expect.objectContaining({ code: 'JIT_ERR_LEDGER_INVALID_FILTER' }));
    expect(() => l.list({ until: new Date(Number.NaN) })).toThrow(/until is not a date/);
    expect(() => l.list({ state: 'live' as never })).toThrow(/unknown state live/);
  });

  it('lists live grants soonest expiry first, with pending revoke requests', () => {
    const live = populated().grantsLive();
    expect(live.map((g) => [g.grantId, g.expiresAt])).toEqual([
      ['gl-3-3-abcdef2', T(60)],
      ['gl-2-2-abcdef1', T(90)],
    ]);
    expect(live[0]?.revokeRequested).toMatchObject({ by: 'alice' });
    expect(live[0]?.handle.grantId).toBe('gl-3-3-abcdef2');
  });

  it('finds an elevation by grant id and counts by state', () => {
    const l = populated();
    expect(l.byGrant('gl-2-2-abcdef1')?.id).toBe('gl-2-2');
    expect(l.byGrant('gl-9-9-0000000')).toBeUndefined();
    expect(l.stats()).toMatchObject({ elevations: 3, events: 6, byState: { pending: 1, granted: 2, revoked: 0 } });
  });

  it('records orphans, with or without a known elevation', () => {
    const l = createLedger();
    l.apply(ev(E.orphanRevoked, 1, { elevationId: undefined, grantId: 'gl-5-5-feedbee' }));
    expect(l.orphans()).toHaveLength(1);
    expect(l.list()).toEqual([]);
  });

  it('returns views the caller cannot use to corrupt the ledger', () => {
    const l = populated();
    const v = l.get('gl-1-1');
    v?.timeline.push({ type: 'x', id: 'x', time: T(0), summary: 'x' });
    expect(l.get('gl-1-1')?.timeline).toHaveLength(1);
  });
});

describe('types', () => {
  it('accepts bus messages and contract events', () => {
    const l = createLedger();
    expectTypeOf(l.apply).parameter(0).toExtend<BusCloudEventJson>();
    expectTypeOf<AnyElevationEvent>().toExtend<Parameters<Ledger['apply']>[0]>();
    expectTypeOf<BusCloudEventJson>().toExtend<Parameters<Ledger['apply']>[0]>();
    expectTypeOf(l.get('x')?.state).toEqualTypeOf<ElevationStateName | undefined>();
  });
});
