import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JitError, type ErrorFactory } from '@jit/errors';
import * as catalogue from './errors';

describe('gate error catalogue', () => {
  const factories = Object.values(catalogue) as ErrorFactory<unknown[]>[];
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const start = doc.indexOf('\n## gate\n');
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);

  it('documents every code under "## gate" in docs/errors.md, with its retriable flag', () => {
    expect(start).toBeGreaterThan(-1);
    for (const f of factories) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${f.code}\` |`));
      expect(row, f.code).toBeDefined();
      expect(row!.split('|')[2]!.trim(), f.code).toBe(f.retriable ? 'yes' : 'no');
    }
  });

  it('uses unique JIT_ERR_GATE_* codes that build JitErrors', () => {
    const codes = factories.map((f) => f.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const f of factories) {
      expect(f.code).toMatch(/^JIT_ERR_GATE_/);
      expect(f('x', 'y')).toBeInstanceOf(JitError);
    }
  });
});
