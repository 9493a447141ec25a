import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, findSecretLike, type ElevationEventType } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { OCSF_VERSION, createOcsfMapper } from './ocsf-mapper';
import { loadOcsfSchemas } from './testing/ocsf-json-schema';

const schemas = loadOcsfSchemas();
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true, validateFormats: false });
const validators = new Map([0, 2004, 3005].map((uid) => [uid, ajv.compile(schemas.classSchema(uid === 0 ? 'base_event' : uid === 2004 ? 'detection_finding' : 'user_access'))]));
const { signer } = createTestSigningKey();

describe('OCSF mapping (validated against the vendored OCSF 1.8.0 schema)', () => {
  it('pins the vendored version', () => {
    expect(schemas.version).toBe(OCSF_VERSION);
  });

  it.each(Object.values(EVENT_TYPES) as ElevationEventType[])('%s maps to a valid OCSF event with no secret and no sealed credential', (type) => {
    const mapper = createOcsfMapper();
    mapper.map(JSON.parse(JSON.stringify(signer.sign(sampleEvent(EVENT_TYPES.requested)))));
    const out = mapper.map(JSON.parse(JSON.stringify(signer.sign(sampleEvent(type)))))!;
    const validate = validators.get(out['class_uid'] as number)!;
    expect(validate(out), JSON.stringify(validate.errors)).toBe(true);
    expect(findSecretLike(out)).toBeUndefined();
    expect(JSON.stringify(out)).not.toContain('BEGIN AGE ENCRYPTED FILE');
  });

  it('grants, revocations and expiries are User Access Management assign / revoke; bypasses are detection findings', () => {
    const mapper = createOcsfMapper();
    const m = (type: ElevationEventType) => mapper.map(JSON.parse(JSON.stringify(sampleEvent(type))))!;
    m(EVENT_TYPES.requested);
    expect(m(EVENT_TYPES.granted)).toMatchObject({ class_uid: 3005, activity_id: 1, type_uid: 300501, status_id: 1, user: { name: 'carol' }, privileges: ['orders-db:write'] });
    expect(m(EVENT_TYPES.revoked)).toMatchObject({ class_uid: 3005, activity_id: 2, type_uid: 300502, user: { name: 'carol' } });
    expect(m(EVENT_TYPES.expired)).toMatchObject({ class_uid: 3005, activity_id: 2 });
    expect(m(EVENT_TYPES.rejected)).toMatchObject({ class_uid: 3005, activity_id: 99, activity_name: 'Reject', status_id: 2 });
    expect(m(EVENT_TYPES.bypassDetected)).toMatchObject({ class_uid: 2004, type_uid: 200401, severity_id: 4, is_alert: true });
    expect(m(EVENT_TYPES.policyRatified)).toMatchObject({ class_uid: 0, type_uid: 99 });
  });

  it('the schema has teeth: a wrong class/type pairing, a missing user or an unknown attribute is refused', () => {
    const mapper = createOcsfMapper();
    const granted = mapper.map(JSON.parse(JSON.stringify(sampleEvent(EVENT_TYPES.granted))))!;
    const validate = validators.get(3005)!;
    expect(validate({ ...granted, type_uid: 300503 })).toBe(false);
    const { user: _u, ...noUser } = granted;
    expect(validate(noUser)).toBe(false);
    expect(validate({ ...granted, justification: 'x' })).toBe(false);
    expect(validate({ ...granted, user: { type_id: 1 } })).toBe(false);
  });

  it('hostile fields stay data: a huge or odd justification and requester never break the mapping', () => {
    const mapper = createOcsfMapper();
    const evil = { ...JSON.parse(JSON.stringify(sampleEvent(EVENT_TYPES.requested))), type: EVENT_TYPES.requested };
    evil.data = { ...evil.data, requester: '<!here> @channel\u202e'.repeat(200), target: { $ne: 1 }, justification: 'x'.repeat(100_000) };
    const out = mapper.map(evil)!;
    const validate = validators.get(3005)!;
    expect(validate(out), JSON.stringify(validate.errors)).toBe(true);
    expect((out['user'] as { name: string }).name.length).toBeLessThanOrEqual(255);
    expect(JSON.stringify(out).length).toBeLessThan(10_000);
    expect(mapper.map({ type: 42 } as never)).toBeUndefined();
  });
});
