import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { POSTGRES_ERRORS } from './errors';

describe('postgres error catalogue', () => {
  it('documents every code under "## substrate-postgres" in docs/errors.md', () => {
    const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
    expect(doc).toContain('## substrate-postgres');
    const section = doc.slice(doc.indexOf('## substrate-postgres')).split(/\n## /)[0]!;
    for (const e of POSTGRES_ERRORS) expect(section, e.code).toMatch(new RegExp(`\\| \`${e.code}\` \\| ${e.retriable ? 'yes' : 'no'} \\|`));
  });
});
