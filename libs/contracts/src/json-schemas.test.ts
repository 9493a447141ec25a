import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_SCHEMA_FILE, renderSchemas } from './json-schemas';
import { CHAIN_ATTRIBUTE, eventDigest, linkEvent } from './event-chain';
import { createTestSigningKey } from './testing';
import { schemaFileStem } from './event-data';
import { EVENT_TYPES, type ElevationEventType } from './topics';
import { sampleData, sampleEvent } from './testing';

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
    expect(Object.keys(rendered)).toHaveLength(Object.keys(EVENT_TYPES).length + 1);
    const granted = JSON.parse(rendered['elevation.granted.v1.json'] ?? '{}');
    expect(granted.$id).toBe('https://schemas.jit.dev/events/elevation.granted.v1.json');
    expect(granted.required).toEqual(expect.arrayContaining(['elevationId', 'grantId', 'handle', 'sealedCredential']));
  });
});

describe('published JSON Schemas in a standard validator (what a SIEM runs)', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true, validateFormats: false });
  const validators = new Map(Object.entries(renderSchemas()).map(([file, text]) => [file, ajv.compile(JSON.parse(text))]));
  const validatorFor = (type: string) => validators.get(`${schemaFileStem(type)}.v1.json`);

  it.each(Object.values(EVENT_TYPES) as ElevationEventType[])('accepts the data of a valid %s event', (type) => {
    const validate = validatorFor(type);
    const data = JSON.parse(JSON.stringify(sampleEvent(type).data));
    expect(validate?.(data), JSON.stringify(validate?.errors)).toBe(true);
  });

  it('rejects what the zod schemas reject: missing fields, wrong types, bad patterns', () => {
    const validate = validatorFor(EVENT_TYPES.requested);
    const good = sampleData[EVENT_TYPES.requested]();
    const { recipient: _r, ...missing } = good;
    for (const bad of [missing, { ...good, ttlSeconds: '1800' }, { ...good, elevationId: 'gh-1-2' }, { ...good, contentHash: 'xyz' }, { ...good, projectId: 0 }]) {
      expect(validate?.(bad)).toBe(false);
    }
  });

  it('tolerates fields added later within v1 (additional properties allowed)', () => {
    const validate = validatorFor(EVENT_TYPES.granted);
    expect(validate?.({ ...sampleData[EVENT_TYPES.granted](), addedLater: true })).toBe(true);
  });

  it('the envelope schema accepts a signed, chained event and refuses a malformed link', () => {
    const validate = validators.get(ENVELOPE_SCHEMA_FILE)!;
    const { signer } = createTestSigningKey();
    const first = signer.sign(sampleEvent(EVENT_TYPES.requested));
    const second = JSON.parse(JSON.stringify(signer.sign(linkEvent(sampleEvent(EVENT_TYPES.approved), eventDigest(first)))));
    expect(validate(JSON.parse(JSON.stringify(first))), JSON.stringify(validate.errors)).toBe(true);
    expect(validate(second), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...second, [CHAIN_ATTRIBUTE]: 'sha1:abc' })).toBe(false);
    expect(validate({ ...second, jitsig: undefined })).toBe(false);
  });
});
