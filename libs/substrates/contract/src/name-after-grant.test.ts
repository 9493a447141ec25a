import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nameAfterGrant } from './name-after-grant';

const PG = { prefix: 'jit_', maxLength: 63 };

describe('nameAfterGrant', () => {
  it('keeps a real grant id readable when it fits', () => {
    const g = 'gl-42-7-3f2a9c1e0b7d4a5f6c8e9d0a1b2c3d4e5f6a7b8c';
    expect(nameAfterGrant(g, PG)).toBe(`jit_${g}`);
  });

  it('hashes when too long or when characters had to be replaced, deterministically', () => {
    const long = `gl-123456789-123456-${'a'.repeat(40)}`;
    const n = nameAfterGrant(long, PG);
    expect(n.length).toBeLessThanOrEqual(63);
    expect(n.startsWith('jit_gl-123456789')).toBe(true);
    expect(nameAfterGrant(long, PG)).toBe(n);
    expect(nameAfterGrant(`${long}b`, PG)).not.toBe(n);
    const hostile = nameAfterGrant('x"; DROP ROLE postgres; --', PG);
    expect(hostile).toMatch(/^jit_[A-Za-z0-9_-]+$/);
    expect(nameAfterGrant('a b', PG)).not.toBe(nameAfterGrant('a_b', PG));
  });

  it('always yields an allowed name within the limit, and distinct ids give distinct names', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }), fc.string({ minLength: 1, maxLength: 200 }), (a, b) => {
        const na = nameAfterGrant(a, PG);
        expect(na.length).toBeLessThanOrEqual(63);
        expect(na).toMatch(/^jit_[A-Za-z0-9_-]+$/);
        if (a !== b) expect(na).not.toBe(nameAfterGrant(b, PG));
      }),
    );
  });

  it('refuses an empty grant id and a limit with no room for the hash', () => {
    expect(() => nameAfterGrant('', PG)).toThrow(/empty/);
    expect(() => nameAfterGrant('g', { prefix: 'jit_', maxLength: 10 })).toThrow(/maxLength/);
  });
});
