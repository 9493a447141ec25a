// ledger.phase: the phase before a merge verdict by log order, which the gate judges on; get().state
// orders the same events by time (for readers). They differ only when event times disagree with the
// log, e.g. two gate replicas whose clocks differ.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type ElevationEventType, type EventDataByType } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { createLedger } from './ledger';

const T = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
let n = 0;
const ev = <K extends ElevationEventType>(type: K, s: number, overrides: Partial<EventDataByType[K]> = {}) => sampleEvent(type, overrides, { time: T(s), id: `p${String(++n).padStart(6, '0')}` });

describe('ledger.phase', () => {
  it('is the last of requested / rejected / withdrawn in log order, whatever their times say', () => {
    const l = createLedger();
    const requested = ev(EVENT_TYPES.requested, 30); // written by a replica 30 s ahead
    const id = (requested.data as { elevationId: string }).elevationId;
    l.apply(requested);
    expect(l.phase(id)).toBe('pending');
    l.apply(ev(EVENT_TYPES.withdrawn, 1)); // then the close, by a replica on time
    expect(l.phase(id)).toBe('withdrawn');
    expect(l.get(id)?.state).toBe('pending'); // readers' view, by time
    l.apply(ev(EVENT_TYPES.requested, 2)); // the reopen
    expect(l.phase(id)).toBe('pending');
    l.apply(ev(EVENT_TYPES.rejected, 0));
    expect(l.phase(id)).toBe('rejected');
  });

  it('is undefined once a merge verdict is recorded, and for an unknown elevation', () => {
    const l = createLedger();
    const requested = ev(EVENT_TYPES.requested, 1);
    const id = (requested.data as { elevationId: string }).elevationId;
    l.apply(requested);
    l.apply(ev(EVENT_TYPES.approved, 2));
    expect(l.phase(id)).toBeUndefined();
    expect(l.phase('gl-9-9')).toBeUndefined();
  });
});
