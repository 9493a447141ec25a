// A notice as a Microsoft Teams workflow-webhook message: an Adaptive Card (schema 1.5, what
// Teams renders) in the `message` envelope the "When a Teams webhook request is received"
// workflow posts. Every piece of text is escaped for TextBlock markdown; lengths are capped so
// the card stays well under Teams' 28 KB message limit.
import { teamsText } from './escape';
import type { Notice } from './notice';

export const TEAMS_LIMITS = { title: 300, factValue: 500, facts: 10, justification: 2000, detail: 500, details: 10 } as const;
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

export interface TeamsMessage {
  type: 'message';
  attachments: Array<{ contentType: typeof ADAPTIVE_CARD_CONTENT_TYPE; contentUrl: null; content: Record<string, unknown> }>;
}

const COLOR: Record<Notice['severity'], string> = { info: 'Default', warning: 'Warning', critical: 'Attention' };

export function teamsMessage(n: Notice): TeamsMessage {
  const body: Array<Record<string, unknown>> = [{ type: 'TextBlock', text: teamsText(n.title, TEAMS_LIMITS.title), weight: 'Bolder', size: 'Medium', wrap: true, color: COLOR[n.severity] }];
  if (n.fields.length > 0) {
    body.push({ type: 'FactSet', facts: n.fields.slice(0, TEAMS_LIMITS.facts).map((f) => ({ title: f.label, value: teamsText(f.value, TEAMS_LIMITS.factValue) })) });
  }
  if (n.justification) {
    body.push({ type: 'TextBlock', text: 'Why', weight: 'Bolder', wrap: true, spacing: 'Medium' });
    body.push({ type: 'TextBlock', text: teamsText(n.justification, TEAMS_LIMITS.justification), wrap: true });
  }
  for (const d of n.details.slice(0, TEAMS_LIMITS.details)) body.push({ type: 'TextBlock', text: teamsText(d, TEAMS_LIMITS.detail), wrap: true, isSubtle: true });
  if (n.elevationId) body.push({ type: 'TextBlock', text: teamsText(`jit status ${n.elevationId}`, 200), wrap: true, isSubtle: true, fontType: 'Monospace' });
  const actions: Array<Record<string, unknown>> = [];
  if (n.links.mr) actions.push({ type: 'Action.OpenUrl', title: 'Open the merge request (approve there)', url: n.links.mr });
  if (n.links.jit) actions.push({ type: 'Action.OpenUrl', title: 'jit', url: n.links.jit });
  const card = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: '1.5',
    body,
    ...(actions.length > 0 ? { actions } : {}),
  };
  return { type: 'message', attachments: [{ contentType: ADAPTIVE_CARD_CONTENT_TYPE, contentUrl: null, content: card }] };
}
