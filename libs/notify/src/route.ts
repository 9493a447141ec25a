// Which channels hear about an event: the union of the policy's matching routes. A route matches
// when the event is one of its `events` and every filter it gives (tiers, targets, breakGlass)
// holds for the event's elevation. Policy events have no elevation: only routes without
// elevation filters match them.
import type { PolicyNotifications } from '@jit/contracts';

export interface RouteFacts {
  /** NOTIFY_EVENT_NAMES form, e.g. elevation.requested. */
  name: string;
  tier?: string;
  target?: string;
  breakGlass?: boolean;
}

/** Channel names, each once, in the order routes name them. */
export function routeEvent(notifications: PolicyNotifications | undefined, facts: RouteFacts): string[] {
  if (!notifications) return [];
  const out = new Set<string>();
  for (const r of notifications.routes) {
    if (!r.events.includes(facts.name)) continue;
    if (r.tiers && (!facts.tier || !r.tiers.includes(facts.tier))) continue;
    if (r.targets && (!facts.target || !r.targets.includes(facts.target))) continue;
    if (r.breakGlass !== undefined && (facts.breakGlass === undefined || r.breakGlass !== facts.breakGlass)) continue;
    for (const ch of r.to) if (notifications.channels[ch]) out.add(ch);
  }
  return [...out];
}
