import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countdownText } from './live-page';
import { apiQuery, historyCsv } from './history-page';
import { mrLink } from './format';
import type { Elevation } from './types';

describe('live countdown', () => {
  it('the page script ticks with the very text the server renders first', () => {
    const script = readFileSync(new URL('../../static/dashboard.js', import.meta.url), 'utf8');
    // the script's formatter, taken out of its closure
    const left = runInNewContext(`${script.slice(script.indexOf('function left'), script.indexOf('function tick'))}; left`) as (ms: number) => string;
    for (const ms of [0, -5, 999, 9_000, 59_999, 60_000, 245_000, 3_600_000, 3_909_000, 90_061_000]) expect(left(ms), String(ms)).toBe(countdownText(ms));
    expect(countdownText(3_909_000)).toBe('1h 05m 09s left');
    expect(countdownText(9_500)).toBe('9s left');
  });
});

describe('history', () => {
  it('takes datetime-local fields as UTC and refuses what is not a date or a state', () => {
    expect(apiQuery({ since: '2026-12-07T19:00', state: 'granted', target: ' orders-db ' }).query).toEqual({
      since: '2026-12-07T19:00:00.000Z',
      state: 'granted',
      target: 'orders-db',
      requester: undefined,
      until: undefined,
    });
    expect(apiQuery({ since: 'yesterday', state: 'owned' }).problems).toEqual(['unknown state', 'since must be a date and time']);
  });

  it('exports CSV a spreadsheet reads as text: quotes, line breaks and formulas are defused', () => {
    const e = {
      id: 'gl-1-2',
      state: 'revoked',
      requester: '=HYPERLINK("https://evil.example")',
      target: 'a,b',
      scope: 'line\nbreak',
      approvals: [],
      timeline: [],
      breakGlass: false,
    } as unknown as Elevation;
    const [header, row] = historyCsv([e]).split('\r\n');
    expect(header).toBe('id,state,requester,target,scope,tier,ttlSeconds,breakGlass,createdAt,issuedAt,expiresAt,revokedAt,revokeVerified,latenessMs,mrUrl');
    expect(row).toBe(`gl-1-2,revoked,"'=HYPERLINK(""https://evil.example"")","a,b","line\nbreak",,,false,,,,,,,`);
  });
});

describe('MR links', () => {
  it('links only http(s) URLs; anything else is text', () => {
    expect(String(mrLink('https://gitlab.example/g/p/-/merge_requests/3', 'MR !3'))).toBe('<a href="https://gitlab.example/g/p/-/merge_requests/3" rel="noopener noreferrer">MR !3</a>');
    expect(String(mrLink('javascript:alert(1)', 'MR !3'))).toBe('javascript:alert(1)');
  });
});
