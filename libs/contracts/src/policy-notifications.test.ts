// policy.yaml's notifications: channels by name and kind (never a URL), routes by event, tier,
// target and break-glass, cross-checked against the channels, tiers and targets defined.
import { describe, expect, it } from 'vitest';
import { SAMPLE_POLICY_YAML } from './testing';
import { parsePolicy } from './policy';

const withNotifications = (yaml: string) => `${SAMPLE_POLICY_YAML}notifications:\n${yaml}`;

describe('policy notifications', () => {
  it('parses channels and routes', () => {
    const r = parsePolicy(
      withNotifications(`  channels:
    security: { kind: slack, description: "#sec-alerts" }
    platform-approvers: { kind: teams }
  routes:
    - { events: [elevation.bypass.detected, policy.bypass.detected], to: [security] }
    - { events: [elevation.granted], breakGlass: true, to: [security] }
    - { events: [elevation.requested], tiers: [semi-destructive, destructive], targets: [orders-db], to: [platform-approvers] }
`),
    );
    expect(r.problems).toEqual([]);
    expect(r.ok && r.policy.notifications?.routes[2]).toEqual({ events: ['elevation.requested'], tiers: ['semi-destructive', 'destructive'], targets: ['orders-db'], to: ['platform-approvers'] });
    expect(r.ok && r.policy.notifications?.channels['security']).toEqual({ kind: 'slack', description: '#sec-alerts' });
  });

  it('refuses a URL in the policy, unknown channels, tiers, targets and event names', () => {
    const r = parsePolicy(
      withNotifications(`  channels:
    security: { kind: slack, url: "https://hooks.slack.com/services/T0/B0/secret" }
    chat: { kind: irc }
  routes:
    - { events: [elevation.requestd], tiers: [huge], targets: [nope], to: [elsewhere] }
`),
    );
    expect(r.ok).toBe(false);
    const text = r.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(text).toMatch(/notifications\.channels\.security.*url/);
    expect(text).toMatch(/notifications\.channels\.chat\.kind: must be slack, teams or webhook/);
    expect(text).toMatch(/notifications\.routes\[0\]\.events\[0\]: must be an event name/);
    expect(text).not.toContain('secret');
    const refs = parsePolicy(withNotifications(`  channels: { security: { kind: slack } }\n  routes:\n    - { events: [elevation.requested], tiers: [huge], targets: [nope], to: [elsewhere] }\n`));
    const refText = refs.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
    expect(refText).toMatch(/notifications\.routes\[0\]\.to\[0\]: channel elsewhere is not defined/);
    expect(refText).toMatch(/notifications\.routes\[0\]\.tiers\[0\]: tier huge is not defined/);
    expect(refText).toMatch(/notifications\.routes\[0\]\.targets\[0\]: target nope is not defined/);
  });
});
