import { describe, expect, it } from 'vitest';
import type { PolicyNotifications } from '@jit/contracts';
import { routeEvent } from './route';

const n: PolicyNotifications = {
  channels: { security: { kind: 'slack' }, approvers: { kind: 'teams' }, db: { kind: 'webhook' } },
  routes: [
    { events: ['elevation.bypass.detected', 'policy.bypass.detected'], to: ['security'] },
    { events: ['elevation.granted'], breakGlass: true, to: ['security'] },
    { events: ['elevation.requested'], tiers: ['destructive'], to: ['approvers', 'security'] },
    { events: ['elevation.requested', 'elevation.granted'], targets: ['orders-db'], to: ['db', 'approvers'] },
  ],
};

describe('routeEvent', () => {
  it('unions matching routes, each channel once, filtering by tier, target and break-glass', () => {
    expect(routeEvent(n, { name: 'elevation.requested', tier: 'destructive', target: 'orders-db', breakGlass: false })).toEqual(['approvers', 'security', 'db']);
    expect(routeEvent(n, { name: 'elevation.requested', tier: 'cosmetic', target: 'other', breakGlass: false })).toEqual([]);
    expect(routeEvent(n, { name: 'elevation.granted', tier: 'cosmetic', target: 'other', breakGlass: true })).toEqual(['security']);
    expect(routeEvent(n, { name: 'elevation.granted', tier: 'cosmetic', target: 'other', breakGlass: false })).toEqual([]);
    // policy events have no elevation: only unfiltered routes match
    expect(routeEvent(n, { name: 'policy.bypass.detected' })).toEqual(['security']);
    expect(routeEvent(undefined, { name: 'elevation.bypass.detected' })).toEqual([]);
  });
});
