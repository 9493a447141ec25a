import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JitError, type ErrorFactory } from '@jit/errors';
import * as catalogue from './errors';

describe('ingest error catalogue', () => {
  const factories = Object.values(catalogue) as ErrorFactory<unknown[]>[];
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('\n## ingest'));

  it('documents every code under "## ingest" in docs/errors.md', () => {
    expect(doc).toContain('\n## ingest');
    for (const f of factories) expect(section, f.code).toContain(`\`${f.code}\``);
  });

  it('uses JIT_ERR_INGEST_* codes, unique, with 503 exactly for the retriable HTTP answers', () => {
    const codes = factories.map((f) => f.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const f of factories) {
      expect(f.code).toMatch(/^JIT_ERR_INGEST_/);
      expect(f('x', 1)).toBeInstanceOf(JitError);
      if (f.statusCode < 500) expect(f.retriable, f.code).toBe(false);
    }
    expect(catalogue.Unavailable('bus down').statusCode).toBe(503);
    expect(catalogue.Unavailable('bus down').retriable).toBe(true);
  });
});
