// Renders the published JSON Schema (draft 2020-12) of every event type's data from the zod schemas.
import { z } from 'zod';
import { EVENT_TYPES } from './topics';
import { eventDataSchemas, schemaFileStem, schemaId, SCHEMA_ID_BASE, type EventName } from './event-data';
import { CHAIN_ATTRIBUTE } from './event-chain';
import { KEY_ID_ATTRIBUTE, SIGNATURE_ATTRIBUTE } from './event-signature';

/** File name of the CloudEvents envelope's schema (jit's extension attributes). */
export const ENVELOPE_SCHEMA_FILE = 'envelope.v1.json';

/** The envelope every event on jit.elevations.v1 has: CloudEvents 1.0 plus jit's extensions (ADR 0004, 0010). */
export function envelopeSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `${SCHEMA_ID_BASE}${ENVELOPE_SCHEMA_FILE}`,
    title: 'jit event envelope',
    description: 'CloudEvents 1.0 structured-mode envelope of every event on jit.elevations.v1, with the jit extension attributes; `data` is described by the schema named in `dataschema`.',
    type: 'object',
    required: ['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'dataschema', KEY_ID_ATTRIBUTE, SIGNATURE_ATTRIBUTE],
    properties: {
      specversion: { const: '1.0' },
      id: { type: 'string', minLength: 1, maxLength: 256 },
      source: { type: 'string', minLength: 1, maxLength: 2048 },
      type: { type: 'string', pattern: '^dev\\.jit\\.[a-z.]+\\.v[0-9]+$' },
      time: { type: 'string', format: 'date-time' },
      subject: { type: 'string', minLength: 1, maxLength: 256, description: 'The elevation id (policy events: policy-<projectId>); the Kafka key.' },
      datacontenttype: { const: 'application/json' },
      dataschema: { type: 'string', maxLength: 2048 },
      severity: { enum: ['info', 'high'], description: 'Extension: high for break-glass, bypass and orphan events.' },
      elevationid: { type: 'string', maxLength: 256, description: 'Extension: the elevation id.' },
      [KEY_ID_ATTRIBUTE]: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: "Extension: the producer's Ed25519 key id (RFC 7638 thumbprint, base64url)." },
      [SIGNATURE_ATTRIBUTE]: {
        type: 'string',
        pattern: '^[A-Za-z0-9_-]{86}$',
        description: `Extension: Ed25519 signature (base64url) over the RFC 8785 canonical JSON of the event without ${SIGNATURE_ATTRIBUTE}.`,
      },
      [CHAIN_ATTRIBUTE]: {
        type: 'string',
        pattern: '^sha256:[A-Za-z0-9_-]{43}$',
        description: 'Extension: digest of the previous event of the same key (sha256 over its RFC 8785 canonical JSON, base64url); absent on the first event of a key (ADR 0010).',
      },
      data: { type: 'object' },
    },
  };
}

/** File name -> file text (stable formatting, trailing newline) for libs/contracts/schemas. */
export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, type] of Object.entries(EVENT_TYPES) as [EventName, string][]) {
    const schema = z.toJSONSchema(eventDataSchemas[name], { io: 'input', target: 'draft-2020-12' });
    const doc = {
      $schema: schema.$schema,
      $id: schemaId(type),
      title: `${type} data`,
      description: `Data of the CloudEvent of type ${type} on topic jit.elevations.v1 (see libs/contracts/README.md).`,
      ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
    };
    out[`${schemaFileStem(type)}.v1.json`] = `${JSON.stringify(doc, null, 2)}\n`;
  }
  out[ENVELOPE_SCHEMA_FILE] = `${JSON.stringify(envelopeSchema(), null, 2)}\n`;
  return out;
}
