// Each format against its platform's published format (Block Kit rules, the Adaptive Cards 1.5
// schema), with hostile justifications: nothing notifies anyone, links nowhere, or breaks a limit.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { HOSTILE_JUSTIFICATIONS, TEAMS_MAX_MESSAGE_BYTES, validateSlackMessage, validateTeamsMessage } from './testing';
import { markdownEscape, slackEscape, truncate } from './escape';
import { buildNotice } from './notice';
import { SLACK_LIMITS, slackMessage } from './slack-message';
import { teamsMessage } from './teams-message';
import { webhookMessage } from './webhook-message';

const MR = 'https://gitlab.example.com/ops/elevations/-/merge_requests/7';
const requested = (justification: string) => {
  const e = sampleEvent(EVENT_TYPES.requested, { mrUrl: MR, breakGlass: true });
  // as a forged or future event could carry it: the contract's 4000-character cap is not relied on
  e.data.justification = justification;
  return e;
};
const notice = (justification: string) => buildNotice(requested(justification), undefined, { publicUrl: 'https://jit.example.com/' });

/** Every mrkdwn text of a Slack message. */
const slackTexts = (m: ReturnType<typeof slackMessage>): string[] => [
  m.text,
  ...m.blocks.flatMap((b) => [
    (b['text'] as { text?: string } | undefined)?.text ?? '',
    ...((b['fields'] as Array<{ text: string }> | undefined) ?? []).map((f) => f.text),
    ...((b['elements'] as Array<{ text: string }> | undefined) ?? []).map((e) => e.text),
  ]),
];

describe('notification formats', () => {
  it('say who, what, for how long, why, with the MR and jit links', () => {
    const n = notice('backfill order totals after INC-4411');
    expect(n.title).toBe('carol requests BREAK-GLASS orders-db/write for 30m');
    expect(n.fields).toEqual(
      expect.arrayContaining([
        { label: 'Requester', value: 'carol' },
        { label: 'For', value: '30m' },
      ]),
    );
    expect(n.links).toEqual({ mr: MR, jit: `https://jit.example.com/v1/elevations/${n.elevationId}` });
    const slack = JSON.stringify(slackMessage(n));
    expect(slack).toContain(`<${MR}|Open the merge request>`);
    expect(slack).toContain('backfill order totals after INC-4411');
    const teams = teamsMessage(n);
    expect(JSON.stringify(teams)).toContain(MR);
    expect(validateSlackMessage(slackMessage(n))).toEqual([]);
    expect(validateTeamsMessage(teams)).toEqual([]);
  });

  it('never carry the sealed credential or the handle of a grant', () => {
    const granted = sampleEvent(EVENT_TYPES.granted);
    const n = buildNotice(granted, undefined);
    const all = JSON.stringify([slackMessage(n), teamsMessage(n), webhookMessage(n)]);
    expect(all).not.toContain('AGE ENCRYPTED');
    expect(all).not.toContain(JSON.stringify(granted.data.handle.ref).slice(1, -1));
  });

  for (const [name, text] of Object.entries(HOSTILE_JUSTIFICATIONS)) {
    it(`keep a hostile justification (${name}) inert and within limits`, () => {
      const n = notice(text);
      const slack = slackMessage(n);
      expect(validateSlackMessage(slack)).toEqual([]);
      for (const t of slackTexts(slack)) {
        // no broadcast, user or group mention, no disguised link survives
        expect(t).not.toMatch(/<[!@#]/);
        expect(t).not.toMatch(/<https?:\/\/evil/);
        expect(t).not.toMatch(/<mailto/);
        expect(t).not.toMatch(/(^|[^\u2060])@(channel|here|everyone)/);
      }
      const teams = teamsMessage(n);
      expect(validateTeamsMessage(teams)).toEqual([]);
      const cardText = JSON.stringify(teams);
      expect(cardText).not.toMatch(/[^\\]\[the runbook\]\(/);
      expect(cardText).not.toMatch(/[^\\]\*\*urgent/);
      expect(Buffer.byteLength(cardText)).toBeLessThan(TEAMS_MAX_MESSAGE_BYTES);
      expect(JSON.stringify(webhookMessage(n)).length).toBeLessThan(16 * 1024);
    });
  }

  it('escape for each format', () => {
    expect(slackEscape('<!here> & <https://evil|x> @channel')).toBe('&lt;!here&gt; &amp; &lt;https://evil|x&gt; @\u2060channel');
    expect(markdownEscape('[x](https://evil) **b** @here')).toBe('\\[x\\]\\(https://evil\\) \\*\\*b\\*\\* @\u2060here');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('ab&amp;', 5)).toBe('ab…');
    expect(truncate('a\\\\\\*', 4)).toBe('a\\\\…');
    expect(truncate('abc\u{1F600}', 4)).toBe('abc…');
    expect(truncate('ab\u{1F600}c', 4)).toBe('ab…');
  });

  it('the checks have teeth: a wrong block, an over-long header or a bad card are reported', () => {
    const good = slackMessage(notice('backfill order totals after INC-4411'));
    expect(validateSlackMessage({ ...good, blocks: [...good.blocks, { type: 'table' }] }).join()).toMatch(/table is not a block/);
    expect(validateSlackMessage({ ...good, blocks: [{ type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } }] }).join()).toMatch(/max 150/);
    expect(validateSlackMessage({ ...good, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(SLACK_LIMITS.sectionText + 1) } }] }).join()).toMatch(/max 3000/);
    const card = teamsMessage(notice('backfill order totals after INC-4411'));
    const broken = structuredClone(card);
    (broken.attachments[0]!.content['body'] as Array<Record<string, unknown>>).push({ type: 'TextBlok', text: 'x' });
    expect(validateTeamsMessage(broken).length).toBeGreaterThan(0);
    expect(validateTeamsMessage({ ...card, attachments: [{ ...card.attachments[0]!, content: { ...card.attachments[0]!.content, msteams: 1 } }] }).length).toBeGreaterThan(0);
  });
});
