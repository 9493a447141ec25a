// Type tests of the public contracts: they fail at typecheck (tsc) when a shape drifts.
import { describe, expectTypeOf, it } from 'vitest';
import type { RevocationHandle } from '@jit/substrates';
import {
  EVENT_TYPES,
  parseElevationEvent,
  parseElevationRequest,
  parsePolicy,
  type AnyElevationEvent,
  type ElevationEventType,
  type ElevationRequest,
  type EventDataByType,
  type Policy,
  type Problem,
  type RevocationHandleData,
} from './index';

describe('public contract types', () => {
  it('has a data type for every event type, and nothing else', () => {
    expectTypeOf<keyof EventDataByType>().toEqualTypeOf<ElevationEventType>();
    expectTypeOf<AnyElevationEvent['type']>().toEqualTypeOf<ElevationEventType>();
  });

  it('keeps the event handle in step with the Substrate contract', () => {
    expectTypeOf<RevocationHandleData>().toExtend<RevocationHandle>();
    expectTypeOf<RevocationHandle>().toExtend<RevocationHandleData>();
  });

  it('narrows parse results on ok', () => {
    const r = parseElevationRequest('');
    if (r.ok) {
      expectTypeOf(r.request).toEqualTypeOf<ElevationRequest>();
      expectTypeOf(r.request.spec.ttlSeconds).toBeNumber();
    } else {
      expectTypeOf(r.problems).toEqualTypeOf<Problem[]>();
    }
    const p = parsePolicy('');
    if (p.ok) expectTypeOf(p.policy).toEqualTypeOf<Policy>();
    const e = parseElevationEvent({});
    if (e.ok && e.event.type === EVENT_TYPES.revoked) {
      expectTypeOf(e.event.data.cause).toEqualTypeOf<'ttl' | 'requested' | 'reconciliation'>();
    }
  });
});
