// The queries the gate judges on: the current version of a request, approvals since the last
// validated change (by log order, never by event time), verdicts, live grants on a target, pushes.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type ElevationEventType, type EventDataByType } from '@jit/contracts';
import { FIXTURE_ELEVATION, sampleEvent } from '@jit/contracts/testing';
import { createLedger } from './ledger';

const T = (minute: number) => new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
let n = 0;
function ev<K extends ElevationEventType>(type: K, m: number, overrides: Partial<EventDataByType[K]> = {}) {
  return sampleEvent(type, overrides, { time: T(m), id: `v${String(++n).padStart(6, '0')}` });
}
const E = EVENT_TYPES;
const ID = FIXTURE_ELEVATION;
const approval = (m: number, approver: string, action: 'approved' | 'unapproved' = 'approved', counted = true) =>
  ev(E.approvalRecorded, m, { approver, action, counted, at: T(m), ...(counted ? { reason: undefined } : { reason: 'not_eligible' as const }) });

describe('ledger: request versions and approvals since the last validated change', () => {
  it('an approval given before the current version never counts for it, even when its clock says later', () => {
    const l = createLedger();
    l.apply(ev(E.requested, 1, { headSha: 'a'.repeat(40) }));
    // recorded by a replica whose clock runs ahead: its time is after the new version's
    l.apply(approval(30, 'alice'));
    l.apply(ev(E.requested, 5, { headSha: 'b'.repeat(40), contentHash: 'c'.repeat(64) }));
    expect(l.request(ID)?.data.headSha).toBe('b'.repeat(40));
    expect([...l.approvalsSinceLastChange(ID).keys()]).toEqual([]);
    expect(l.lastApproval(ID, 'Alice')).toBeUndefined();
    expect(l.lastApproval(ID, 'Alice', { ever: true })).toMatchObject({ approver: 'alice', action: 'approved' });
    l.apply(approval(6, 'Bob'));
    l.apply(approval(7, 'carol', 'approved', false));
    expect(Object.fromEntries([...l.approvalsSinceLastChange(ID)].map(([k, a]) => [k, [a.action, a.counted]]))).toEqual({ bob: ['approved', true], carol: ['approved', false] });
  });

  it("each approver's last action in log order wins (an unapproval after an approval)", () => {
    const l = createLedger();
    l.apply(ev(E.requested, 1));
    l.apply(approval(2, 'alice'));
    l.apply(approval(3, 'alice', 'unapproved'));
    expect(l.approvalsSinceLastChange(ID).get('alice')?.action).toBe('unapproved');
    expect(l.lastApproval(ID, 'alice')?.action).toBe('unapproved');
  });

  it('a rejection after the request: no validated request, the rejection is the current version', () => {
    const l = createLedger();
    l.apply(ev(E.requested, 1));
    l.apply(approval(2, 'alice'));
    l.apply(ev(E.rejected, 3, { headSha: 'd'.repeat(40) }));
    expect(l.request(ID)).toBeUndefined();
    expect(l.rejection(ID)).toMatchObject({ headSha: 'd'.repeat(40) });
    expect(l.approvalsSinceLastChange(ID).size).toBe(0);
    // since the rejection, not since the request
    expect(l.lastApproval(ID, 'alice')).toBeUndefined();
    l.apply(ev(E.requested, 4));
    expect(l.rejection(ID)).toBeUndefined();
    expect(l.request(ID)).toBeDefined();
  });

  it('decided once a merge verdict or a later phase is on record, whatever came after', () => {
    for (const [type, data] of [
      [E.approved, {}],
      [E.bypassDetected, {}],
      [E.granted, {}],
      [E.grantFailed, {}],
      [E.revoked, {}],
      [E.expired, {}],
    ] as const) {
      const l = createLedger();
      l.apply(ev(E.requested, 1));
      expect(l.isDecided(ID)).toBe(false);
      l.apply(ev(type as ElevationEventType, 2, data));
      l.apply(ev(E.requested, 3));
      expect(l.isDecided(ID), type).toBe(true);
    }
    const l = createLedger();
    l.apply(ev(E.requested, 1));
    l.apply(ev(E.revokeRequested, 2));
    l.apply(ev(E.withdrawn, 3));
    expect(l.isDecided(ID)).toBe(false);
    expect(l.isDecided('gl-1-1')).toBe(false);
  });

  it('the verdicts as published', () => {
    const l = createLedger();
    l.apply(ev(E.requested, 1));
    expect(l.verdict(ID)).toEqual({});
    l.apply(ev(E.approved, 2, { approvers: ['alice'] }));
    expect(l.verdict(ID)?.approved?.approvers).toEqual(['alice']);
    expect(l.verdict('gl-1-1')).toBeUndefined();
  });

  it('live on a target: approved or granted, not ended, not past its expiry', () => {
    const l = createLedger();
    l.apply(ev(E.requested, 1));
    l.apply(ev(E.approved, 2));
    const target = l.get(ID)!.target!;
    expect(l.liveOnTarget(target).map((g) => g.elevationId)).toEqual([ID]);
    expect(l.liveOnTarget('another-target')).toEqual([]);
    l.apply(ev(E.granted, 3));
    const expiresAt = Date.parse(l.get(ID)!.expiresAt!);
    expect(l.liveOnTarget(target, expiresAt - 1)).toHaveLength(1);
    expect(l.liveOnTarget(target, expiresAt)).toEqual([]);
    l.apply(ev(E.revoked, 4));
    expect(l.liveOnTarget(target, expiresAt - 1)).toEqual([]);
  });

  it('pushes per project in log order, and the newest time of a set of types', () => {
    const l = createLedger();
    expect(l.newestAt(new Set([E.requested]))).toBeUndefined();
    l.apply(ev(E.pushRecorded, 1, { pusher: 'mallory', after: 'e'.repeat(40), commits: ['e'.repeat(40)] }));
    l.apply(ev(E.pushRecorded, 2, { pusher: 'dev' }));
    expect(l.pushes(42).map((p) => p.pusher)).toEqual(['mallory', 'dev']);
    expect(l.pushes(43)).toEqual([]);
    l.apply(ev(E.requested, 9));
    l.apply(ev(E.requested, 4));
    l.apply(ev(E.granted, 20));
    expect(l.newestAt(new Set([E.requested, E.withdrawn]))).toBe(T(9));
  });
});
