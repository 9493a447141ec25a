// A notice for a generic webhook: plain JSON (the receiver escapes for wherever it shows it).
// Never the event's data: only the notice's chosen fields, the event's id, type and time.
import { truncate } from './escape';
import type { Notice } from './notice';

export interface WebhookMessage {
  source: 'jit';
  event: Notice['event'];
  elevationId?: string;
  title: string;
  severity: Notice['severity'];
  fields: Notice['fields'];
  justification?: string;
  details: string[];
  links: Notice['links'];
}

export function webhookMessage(n: Notice): WebhookMessage {
  return {
    source: 'jit',
    event: n.event,
    ...(n.elevationId ? { elevationId: n.elevationId } : {}),
    title: n.title,
    severity: n.severity,
    fields: n.fields.map((f) => ({ label: f.label, value: truncate(f.value, 2000) })),
    ...(n.justification ? { justification: truncate(n.justification, 4000) } : {}),
    details: n.details.slice(0, 50).map((d) => truncate(d, 2000)),
    links: n.links,
  };
}
