import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSchemas } from './json-schemas';
import { EVENT_TYPES } from './topics';

const dir = join(import.meta.dirname, '..', 'schemas');

describe('published JSON Schemas', () => {
  it('are up to date (run: npx tsx libs/contracts/scripts/generate-schemas.ts)', () => {
    const rendered = renderSchemas();
    expect(readdirSync(dir).sort()).toEqual(Object.keys(rendered).sort());
    for (const [file, text] of Object.entries(rendered)) {
      expect(readFileSync(join(dir, file), 'utf8'), `schemas/${file} is stale`).toBe(text);
    }
  });

  it('cover every event type with its id and required fields', () => {
    const rendered = renderSchemas();
    expect(Object.keys(rendered)).toHaveLength(Object.keys(EVENT_TYPES).length);
    const granted = JSON.parse(rendered['elevation.granted.v1.json'] ?? '{}');
    expect(granted.$id).toBe('https://schemas.jit.dev/events/elevation.granted.v1.json');
    expect(granted.required).toEqual(expect.arrayContaining(['elevationId', 'grantId', 'handle', 'sealedCredential']));
  });
});
