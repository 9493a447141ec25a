import { describe, expect, it } from 'vitest';
import { CREDENTIAL_SHAPES, credentialShapeFor } from './credential-shapes';
import { SUBSTRATE_DEFINITIONS } from './substrate-settings';

describe('credential shapes', () => {
  it('every adapter kind jit can configure has exactly one credential shape', () => {
    expect(CREDENTIAL_SHAPES.map((s) => s.kind).sort()).toEqual(SUBSTRATE_DEFINITIONS.map((d) => d.kind).sort());
  });

  it('finds the shape of a named instance by its kind', () => {
    expect(credentialShapeFor('vault:prod')?.kind).toBe('vault');
    expect(credentialShapeFor('postgres')?.kind).toBe('postgres');
    expect(credentialShapeFor('memory')).toBeUndefined();
  });
});
