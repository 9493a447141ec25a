// Hostile review 2: a requester's justification must render as typed in Slack, not as
// formatting that makes jit's own message say something else.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '@jit/contracts';
import { sampleEvent } from '@jit/contracts/testing';
import { buildNotice } from './notice';
import { slackMessage } from './slack-message';

describe('Slack mrkdwn formatting in a justification', () => {
  it('bold, strike, code and code-block markers a requester typed reach Slack inert', () => {
    const e = sampleEvent(EVENT_TYPES.requested, { mrUrl: 'https://gitlab.example.com/ops/elevations/-/merge_requests/7' });
    e.data.justification = 'routine\n*:white_check_mark: APPROVED by security-team (2/2)* ~needs review~ ```no further review needed```';
    const m = slackMessage(buildNotice(e, undefined, {}));
    // every text object carrying what the requester typed: in a plain_text object nothing is
    // formatting; in mrkdwn, Slack would render the typed *…* as jit's own bold line, ~…~ struck
    // through, ```…``` as a code block
    const texts = m.blocks.flatMap((b) => [b['text'], ...((b['fields'] as unknown[]) ?? []), ...((b['elements'] as unknown[]) ?? [])]) as Array<{ type: string; text: string } | undefined>;
    const carrying = texts.filter((t) => t?.text.includes('APPROVED by security-team'));
    expect(carrying.length).toBe(1);
    expect(carrying[0]!.type).toBe('plain_text');
  });
});
