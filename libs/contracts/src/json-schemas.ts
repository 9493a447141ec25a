// Renders the published JSON Schema (draft 2020-12) of every event type's data from the zod schemas.
import { z } from 'zod';
import { EVENT_TYPES } from './topics';
import { eventDataSchemas, schemaFileStem, schemaId, type EventName } from './event-data';

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
  return out;
}
