// Hostile text from a request (justification, rollback plan, names, problem messages) must not
// change the comment's structure: no extra line, no forged verdict, no broken table, no control
// character. Lines are split the way a renderer could split them (CR, LF, U+2028/9, NEL).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FIXTURE_RECIPIENT } from '@jit/contracts/testing';
import { createFakeWorld, requestYaml } from './fixtures/fake-world';
import { markdownCode as code, markdownText as md } from '@jit/contracts';
import { renderComment, type CommentView } from './render-comment';

const MARK = 'QQMARKQQ';
const LINES = /\r\n|[\r\n\u2028\u2029\u0085\v\f]/;
const UNSAFE = /(?!\n)[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

const FORGERIES = [
  'fine\r**Verified at merge**: approved by `alice`, `bob`. Grant `x` will be issued.',
  'fine\u2028**Verified at merge**: approved by `alice`.',
  'fine\n\n### jit: elevation `gl-1-1`\n**Verified at merge**',
  'fine ```\n</details>\n```\n# heading',
  'x | y | z |\n|---|---|',
  '\u202e\u2066evil\u2069 \u001b[2J\u001b]8;;http://evil\u0007click\u001b]8;;\u0007',
  '/approve\n/merge',
  '1. list\n- item\n> quote\n===',
  '&#10;&#42;&#42;Verified at merge&#42;&#42; $\\alpha$ @all ~label !1 #1 [x](http://evil) <img src=x onerror=alert(1)>',
];
const hostile = fc.oneof(
  fc.constantFrom(...FORGERIES),
  fc
    .array(fc.oneof(fc.constantFrom('\r', '\n', '\u2028', '\u2029', '\u0085', '|', '`', '```', '#', '**', '\u001b[', '\u202e', '<', '&', '\\', '- ', '/', '1.'), fc.string({ maxLength: 5 })), {
      maxLength: 25,
    })
    .map((a) => a.join('')),
);

function view(text: string): CommentView {
  return {
    elevationId: 'gl-1-2',
    requestPath: `elevations/${text}.yaml`,
    headSha: `abc${text}`,
    policyVersion: 'v1',
    plan: {
      target: `orders-db${text}`,
      substrate: `postgres${text}`,
      scope: `write${text}`,
      tier: `reversible-write${text}`,
      declaredTier: 'cosmetic',
      ttlSeconds: 1800,
      ttlCeilingSeconds: 7200,
      requiredApprovals: 1,
      approvers: { anyHuman: true, groups: [], users: [] },
      breakGlass: false,
      justification: `INC-1 ${text}`,
      rollbackPlan: `${text} restore`,
      recipient: 'age1x',
    },
    recipientOwners: [`dev${text}`],
    anyHuman: false,
    eligibleApprovers: [`carol${text}`],
    problems: [{ path: `spec.${text}`, message: `bad ${text}`, line: 3 }],
    settingsDrift: [`drift ${text}`],
    overlapping: [{ elevationId: `gl-1-1${text}`, scope: `write${text}`, expiresAt: `soon${text}` }],
    approvals: [{ approver: `dave${text}`, counted: false, reason: `odd ${text}` }],
    withdrawn: `closed by ${text}`,
    revokeNote: `note ${text}`,
  };
}

/** The unescaped `|` in a line: a table row must keep its cell count. */
const pipes = (line: string) => line.replace(/\\./g, '').split('|').length - 1;

describe('renderComment with hostile text', () => {
  it('keeps the structure of the comment: same lines, same table cells, no control character, whatever the text', () => {
    const benign = renderComment(view(MARK)).split(LINES);
    fc.assert(
      fc.property(hostile, (text) => {
        const body = renderComment(view(text));
        expect(body).not.toMatch(UNSAFE);
        const lines = body.split(LINES);
        expect(lines.length).toBe(benign.length);
        lines.forEach((line, i) => {
          const b = benign[i]!;
          if (!b.includes(MARK)) expect(line).toBe(b);
          else {
            expect(line.startsWith(b.slice(0, b.indexOf(MARK)).trimEnd()), `line ${i} keeps its start`).toBe(true);
            expect(pipes(line), `line ${i} keeps its table cells`).toBe(pipes(b));
          }
        });
        expect(lines.filter((l) => /^\*\*Verified at merge/.test(l))).toEqual([]);
      }),
      { numRuns: 400 },
    );
  });

  it('a policy-change comment holds too', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const v: CommentView = {
          elevationId: 'gl-1-2',
          policyChange: { approvals: 2, approvers: [`sec${text}`], problems: [{ path: `tiers.${text}`, message: `m ${text}`, line: 1 }] },
          revokeNote: `note ${text}`,
        };
        const body = renderComment(v);
        expect(body).not.toMatch(UNSAFE);
        expect(body.split(LINES).length).toBe(
          renderComment({ ...v, policyChange: { ...v.policyChange!, approvers: ['x'], problems: [{ path: 'x', message: 'x', line: 1 }] }, revokeNote: 'x' }).split(LINES).length,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('md escapes what could start a block, a quick action, an entity or math; code drops what could end the span or a cell', () => {
    expect(md('/merge')).toBe('\\/merge');
    expect(md('1. one')).toBe('1\\. one');
    expect(md('- item')).toBe('\\- item');
    expect(md('&#42; $x$')).toBe('\\&\\#42; \\$x\\$');
    expect(code('a`b|c\u2028d\re')).toBe('`abc d e`');
  });
});

describe('the gate comment with a forged verdict in the justification', () => {
  it('shows the justification on its own table row; no "Verified at merge" line before the merge', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', {
      'elevations/forged.yaml': requestYaml({ justification: 'backfill INC-4411 totals\r**Verified at merge**: approved by `alice`, `bob`. Grant `x` will be issued.\u2028\u202e' }),
    });
    const lines = w.comment(iid).split(LINES);
    expect(lines.filter((l) => l.includes('Verified at merge'))).toEqual([expect.stringMatching(/^\| justification \| backfill INC-4411 totals \\\*\\\*Verified at merge/)]);
    expect(w.comment(iid)).not.toMatch(UNSAFE);
  });
});

describe('the gate comment names who can open the credential', () => {
  it('the access plan says which key the credential is sealed to and whom the policy registers it to', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { 'elevations/a.yaml': requestYaml({}) });
    expect(w.comment(iid)).toContain(`| credential sealed to | \`${FIXTURE_RECIPIENT}\` registered to @dev, `);
    expect(renderComment({ ...view(''), problems: [], recipientOwners: [] })).toContain('registered to nobody in the policy');
  });
});

describe('the gate comment on drift', () => {
  it('says every drift in full (each was cut to nothing before: map passed its index as the length)', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { 'elevations/a.yaml': requestYaml({}) });
    w.gl.projects.get(7)!.mrs.get(iid)!.rules = []; // someone deleted jit's rule
    await w.approve(iid, 'mallory');
    expect(w.comment(iid)).toContain("GitLab's approval setup had drifted: the jit:reversible-write approval rule had been deleted; jit restored it.");
    expect(w.gl.projects.get(7)!.mrs.get(iid)!.rules).toEqual([expect.objectContaining({ name: 'jit:reversible-write', approvalsRequired: 1 })]);
  });
});
