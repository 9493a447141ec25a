import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { ConfigInvalid } from './errors';
import { ConfigError } from './config-error';

describe('ConfigError', () => {
  it('is documented under "## service" in docs/errors.md with its retriable flag', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
    const section = doc.slice(doc.indexOf('\n## service\n'));
    const row = section.split('\n').find((l) => l.startsWith(`| \`${ConfigInvalid.code}\` | no |`));
    expect(doc).toContain('\n## service\n');
    expect(row).toBeDefined();
    expect(ConfigInvalid.retriable).toBe(false);
  });

  it('is a JitError with the catalogue code, named ConfigError, listing the bad keys', () => {
    const err = new ConfigError(['PORT: must be a whole number from 0 to 65535', 'HOST: must be a hostname'], 'issuer');
    expect(err).toBeInstanceOf(JitError);
    expect(err.name).toBe('ConfigError');
    expect(err.code).toBe('JIT_ERR_SERVICE_CONFIG_INVALID');
    expect(err.retriable).toBe(false);
    expect(err.message).toBe('invalid issuer configuration:\n  PORT: must be a whole number from 0 to 65535\n  HOST: must be a hostname');
    expect(err.details).toEqual({ keys: ['PORT', 'HOST'] });
    expect(new ConfigError(['X: y']).message).toBe('invalid configuration:\n  X: y');
  });
});
