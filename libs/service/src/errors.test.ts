import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import * as catalogue from './errors';
import { ConfigError } from './config-error';

const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
const start = doc.indexOf('\n## service\n');
const next = doc.indexOf('\n## ', start + 1);
const section = start < 0 ? '' : doc.slice(start, next < 0 ? undefined : next);

describe('service error catalogue', () => {
  const entries = Object.entries(catalogue);

  it('documents every code, with its retriable flag, under "## service" in docs/errors.md', () => {
    expect(section.length).toBeGreaterThan(0);
    expect(entries.length).toBeGreaterThan(0);
    for (const [, factory] of entries) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${factory.code}\` |`));
      expect(row, factory.code).toBeDefined();
      expect(row!.split('|')[2]!.trim(), factory.code).toBe(factory.retriable ? 'yes' : 'no');
    }
  });

  it('uses JIT_ERR_SERVICE_* codes, never twice', () => {
    const codes = entries.map(([, f]) => f.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^JIT_ERR_SERVICE_[A-Z_]+$/);
  });

  it('ConfigError is a JitError with the catalogue code, named ConfigError, listing the bad keys', () => {
    const err = new ConfigError(['PORT: must be a whole number from 0 to 65535', 'HOST: must be a hostname'], 'issuer');
    expect(err).toBeInstanceOf(JitError);
    expect(err.name).toBe('ConfigError');
    expect(err.code).toBe(catalogue.ConfigInvalid.code);
    expect(err.retriable).toBe(false);
    expect(err.message).toBe('invalid issuer configuration:\n  PORT: must be a whole number from 0 to 65535\n  HOST: must be a hostname');
    expect(err.details).toEqual({ keys: ['PORT', 'HOST'] });
    expect(new ConfigError(['X: y']).message).toBe('invalid configuration:\n  X: y');
  });
});
