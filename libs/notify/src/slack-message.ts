// A notice as a Slack incoming-webhook message (Block Kit): header, fields, the justification,
// details and links, every piece of text escaped for mrkdwn and cut to Block Kit's limits
// (https://api.slack.com/reference/block-kit/blocks). Links are to the MR (approve there: a
// notification never approves) and to jit.
import { slackText, truncate } from './escape';
import type { Notice } from './notice';

/** Block Kit limits this message keeps to (a header's text 150, a section's text 3000, 10 fields of 2000, 50 blocks). */
export const SLACK_LIMITS = { header: 150, sectionText: 3000, fields: 10, fieldText: 2000, blocks: 50, fallbackText: 3000 } as const;

export interface SlackMessage {
  text: string;
  blocks: Array<Record<string, unknown>>;
}

/** A URL inside `<url|label>`: the characters that would end or split it are percent-encoded. */
const slackUrl = (u: string): string => u.replace(/[<>| ]/g, (c) => encodeURIComponent(c));

const ICON: Record<Notice['severity'], string> = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' };

export function slackMessage(n: Notice): SlackMessage {
  const blocks: Array<Record<string, unknown>> = [];
  blocks.push({ type: 'header', text: { type: 'plain_text', text: truncate(n.title, SLACK_LIMITS.header), emoji: false } });
  if (n.fields.length > 0) {
    blocks.push({
      type: 'section',
      fields: n.fields.slice(0, SLACK_LIMITS.fields).map((f) => ({ type: 'mrkdwn', text: `*${f.label}*\n${slackText(f.value, SLACK_LIMITS.fieldText - f.label.length - 4)}` })),
    });
  }
  if (n.justification) {
    // plain_text: mrkdwn has no escape for `*`, `_`, `~` or backticks, so a requester's text in a
    // mrkdwn object renders as jit's own bold, strike-through or code ("*APPROVED by security*")
    blocks.push({ type: 'section', text: { type: 'plain_text', text: `Why: ${slackText(n.justification, SLACK_LIMITS.sectionText - 8)}`, emoji: false } });
  }
  if (n.details.length > 0) {
    const lines = n.details.slice(0, 20).map((d) => `• ${slackText(d, 500)}`);
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: truncate(lines.join('\n'), SLACK_LIMITS.sectionText) } });
  }
  const links = [
    n.links.mr ? `<${slackUrl(n.links.mr)}|Open the merge request> (approvals happen there)` : undefined,
    n.links.jit ? `<${slackUrl(n.links.jit)}|jit>` : undefined,
    n.elevationId ? `\`jit status ${slackText(n.elevationId, 100)}\`` : undefined,
  ].filter((l): l is string => !!l);
  if (links.length > 0) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: truncate(links.join(' · '), SLACK_LIMITS.sectionText) }] });
  return { text: `${ICON[n.severity]} ${slackText(n.title, SLACK_LIMITS.fallbackText - 30)}`, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}
