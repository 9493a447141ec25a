import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import * as catalogue from './errors';

const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/errors.md'), 'utf8');
const start = doc.indexOf('\n## gitlab-sandbox\n');
const next = doc.indexOf('\n## ', start + 1);
const section = start < 0 ? '' : doc.slice(start, next < 0 ? undefined : next);

describe('gitlab-sandbox error catalogue', () => {
  const entries = Object.entries(catalogue);

  it('documents every code, with its retriable flag, under "## gitlab-sandbox" in docs/errors.md', () => {
    expect(section.length).toBeGreaterThan(0);
    for (const [, factory] of entries) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${factory.code}\` |`));
      expect(row, factory.code).toBeDefined();
      expect(row!.split('|')[2]!.trim(), factory.code).toBe(factory.retriable ? 'yes' : 'no');
    }
  });

  it('uses JIT_ERR_SANDBOX_* codes, never twice, and builds JitErrors', () => {
    const codes = entries.map(([, f]) => f.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^JIT_ERR_SANDBOX_[A-Z_]+$/);
    const err = catalogue.SandboxStateCorrupt('/data/state.json', 'it is not valid JSON');
    expect(err).toBeInstanceOf(JitError);
    expect(err.message).toMatch(/^The sandbox state file \/data\/state\.json cannot be loaded: it is not valid JSON\./);
    expect(catalogue.SandboxStateUnwritable('/f', 'ENOSPC').retriable).toBe(true);
  });
});
