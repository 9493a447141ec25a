import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JitError, type ErrorFactory } from '@jit/errors';
import * as catalogue from './errors';

describe('dashboard error catalogue', () => {
  const factories = Object.values(catalogue) as ErrorFactory<unknown[]>[];
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('\n## dashboard'));

  it('documents every code under "## dashboard" in docs/errors.md', () => {
    expect(doc).toContain('\n## dashboard');
    for (const f of factories) expect(section.slice(0, section.indexOf('\n## ', 4)), f.code).toContain(`\`${f.code}\``);
  });

  it('uses JIT_ERR_UI_* codes, unique, retriable exactly when the answer is 503', () => {
    const codes = factories.map((f) => f.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const f of factories) {
      expect(f.code).toMatch(/^JIT_ERR_UI_/);
      expect(f('x')).toBeInstanceOf(JitError);
      expect(f.retriable, f.code).toBe(f.statusCode === 503);
    }
  });
});
