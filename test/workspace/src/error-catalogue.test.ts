// Every error code defined in the source is documented in docs/errors.md, and none is defined twice.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

function definedCodes(): Map<string, string[]> {
  const codes = new Map<string, string[]>();
  for (const base of ['libs', 'apps']) {
    for (const file of sourceFiles(join(root, base))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/defineError(?:<[^>]*>)?\(\s*['"](JIT_ERR_[A-Z0-9_]+)['"]/g)) {
        const code = m[1]!;
        codes.set(code, [...(codes.get(code) ?? []), relative(root, file)]);
      }
    }
  }
  return codes;
}

describe('error catalogue', () => {
  const codes = definedCodes();
  const docs = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');

  it('documents every code in docs/errors.md', () => {
    const missing = [...codes.keys()].filter((c) => !docs.includes(c));
    expect(missing).toEqual([]);
  });

  it('never defines a code twice', () => {
    const twice = [...codes.entries()].filter(([, files]) => files.length > 1);
    expect(twice).toEqual([]);
  });
});
