import { describe, expect, it } from 'vitest';
import { contentHash, parseElevationRequest } from './elevation-request';
import { FIXTURE_RECIPIENT } from './testing';

const valid = `apiVersion: jit/v1
kind: ElevationRequest
spec:
  target: orders-db
  scope: write
  ttl: 30m                 # required
  riskTier: reversible-write
  justification: "backfill order totals after INC-4411 (min 20 chars)"
  rollbackPlan: "restore from the 02:00 snapshot; script in runbook R-17"
  recipient: ${FIXTURE_RECIPIENT}
  breakGlass: false
`;

function problemsOf(text: string) {
  const r = parseElevationRequest(text);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.problems;
}

describe('parseElevationRequest', () => {
  it('parses the DESIGN.md §3 example', () => {
    const r = parseElevationRequest(valid);
    expect(r.ok && r.locate(['spec', 'ttl'])).toEqual({ line: 6, column: 8 });
    expect(r).toEqual({
      ok: true,
      problems: [],
      locate: expect.any(Function),
      request: {
        apiVersion: 'jit/v1',
        kind: 'ElevationRequest',
        spec: {
          target: 'orders-db',
          scope: 'write',
          ttl: '30m',
          ttlSeconds: 1800,
          riskTier: 'reversible-write',
          justification: 'backfill order totals after INC-4411 (min 20 chars)',
          rollbackPlan: 'restore from the 02:00 snapshot; script in runbook R-17',
          recipient: FIXTURE_RECIPIENT,
          breakGlass: false,
        },
      },
    });
  });

  it('defaults breakGlass to false and leaves rollbackPlan out when absent', () => {
    const text = valid.replace(/\n {2}rollbackPlan:.*\n/, '\n').replace(/\n {2}breakGlass: false\n/, '\n');
    const r = parseElevationRequest(text);
    expect(r.ok && r.request.spec).toMatchObject({ breakGlass: false });
    expect(r.ok && 'rollbackPlan' in r.request.spec).toBe(false);
  });

  it('reports every problem at once with path, line and column', () => {
    const text = `apiVersion: jit/v2
kind: ElevationRequest
spec:
  target: orders-db
  scope: 7
  ttl: 1.5h
  riskTier: reversible-write
  justification: too short
  recipient: age1notarealkey
  breakGlass: "yes"
  color: blue
`;
    const problems = problemsOf(text);
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p]));
    expect(Object.keys(byPath).sort()).toEqual(['apiVersion', 'spec.breakGlass', 'spec.color', 'spec.justification', 'spec.recipient', 'spec.scope', 'spec.ttl'].sort());
    expect(byPath['apiVersion']).toMatchObject({ line: 1, column: 13, message: 'must be jit/v1' });
    expect(byPath['spec.scope']).toMatchObject({ line: 5, column: 10, message: 'must be a string' });
    expect(byPath['spec.ttl']).toMatchObject({ line: 6 });
    expect(byPath['spec.ttl']?.message).toMatch(/not a duration/);
    expect(byPath['spec.justification']?.message).toMatch(/at least 20 characters/);
    expect(byPath['spec.recipient']?.message).toMatch(/age X25519 recipient/);
    expect(byPath['spec.color']).toMatchObject({ line: 11, column: 3 });
    expect(byPath['spec.color']?.message).toMatch(/unknown field/);
  });

  it('names missing fields, located at their parent', () => {
    const problems = problemsOf('apiVersion: jit/v1\nkind: ElevationRequest\nspec:\n  target: orders-db\n');
    for (const f of ['scope', 'ttl', 'riskTier', 'justification', 'recipient']) {
      expect(problems).toContainEqual(expect.objectContaining({ path: `spec.${f}`, message: 'is required', line: 3 }));
    }
  });

  it.each([
    ['empty file', ''],
    ['a list', '- a\n- b\n'],
    ['a scalar', 'hello'],
    ['missing spec', 'apiVersion: jit/v1\nkind: ElevationRequest\n'],
    ['spec as a list', 'apiVersion: jit/v1\nkind: ElevationRequest\nspec: [1, 2]\n'],
    ['invalid YAML', 'spec: {target: [\n'],
    ['two documents', 'apiVersion: jit/v1\n---\nkind: x\n'],
    ['binary garbage', '\u0000\u0001\u0002\uFFFF'],
    ['a tab-indented map', 'spec:\n\ttarget: x\n'],
  ])('returns problems for %s', (_what, text) => {
    expect(problemsOf(text).length).toBeGreaterThan(0);
  });

  // how fast hostile input is refused is measured in bench/, not timed here
  it('rejects a 5 MB file by its size', () => {
    const big = `${valid}# ${'x'.repeat(5 * 1024 * 1024)}\n`;
    const problems = problemsOf(big);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(/limit is 65536 bytes/);
  });

  it('survives a billion-laughs alias bomb', () => {
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]', ...'bcdefgh'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`)].join('\n');
    const problems = problemsOf(bomb);
    expect(problems[0]?.message).toMatch(/alias/);
  });

  it.each([
    ['flow lists', `spec: ${'['.repeat(30_000)}${']'.repeat(30_000)}\n`],
    ['flow maps', `spec: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`],
    ['compact block lists', `spec: \n  ${'- '.repeat(30_000)}x\n`],
    ['indented maps', Array.from({ length: 200 }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1\n'],
  ])('rejects deep nesting of %s', (_what, deep) => {
    expect(problemsOf(deep)[0]?.message).toMatch(/nested deeper than 16 levels/);
  });

  it('rejects duplicate keys with the position of the second one', () => {
    const problems = problemsOf(valid.replace('  scope: write\n', '  scope: write\n  scope: ddl\n'));
    expect(problems[0]).toMatchObject({ message: expect.stringMatching(/duplicate key/), line: 6, column: 3 });
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects a %s key and pollutes nothing', (key) => {
    const problems = problemsOf(valid.replace('spec:\n', `spec:\n  ${key}: { isAdmin: true }\n`));
    expect(problems[0]).toMatchObject({ path: `spec.${key}`, line: 4 });
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it.each([
    ['a custom tag', 'target: !env ORDERS'],
    ['a binary tag', 'target: !!binary aGk='],
    ['a set', 'target: !!set {a, b}'],
    ['infinity', 'target: .inf'],
  ])('rejects %s', (_what, line) => {
    const problems = problemsOf(valid.replace('  target: orders-db', `  ${line}`));
    expect(problems[0]?.line).toBe(4);
  });

  it('rejects non-string keys', () => {
    expect(problemsOf(valid.replace('spec:\n', 'spec:\n  1: one\n'))[0]?.message).toMatch(/keys must be plain strings/);
  });

  it('accepts a small, harmless alias', () => {
    const text = valid.replace('  target: orders-db', '  target: &t orders-db').replace('  scope: write', '  scope: write\n') + '';
    expect(parseElevationRequest(text).ok).toBe(true);
  });
});

describe('contentHash', () => {
  it('is the sha256 hex of the bytes', () => {
    expect(contentHash('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(contentHash(new TextEncoder().encode('abc'))).toBe(contentHash('abc'));
  });
});
