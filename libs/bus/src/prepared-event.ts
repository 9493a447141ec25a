// Events serialised ahead of publish, for a producer that carries a large JSON document it received
// as text (webhook-ingest: GitLab's payload). Serialising that document again costs as much as parsing
// it did, and Node 20 has no JSON.rawJSON; so the text JSON.parse accepted is embedded in the stored
// bytes as is. What is stored is still a checked CloudEvent: the envelope is checked like any event,
// and the embedded text is exactly one that JSON.parse accepted (only JsonText.parse makes one).
import { isUtf8 } from 'node:buffer';
import type { CloudEventJson } from './event-bus';
import { InvalidEvent } from './errors';
import { attributesAsWritten, cloudEventProblem, rememberEncoded } from './validate';

/** Every JsonText that JsonText.parse made: instanceof can be faked with Object.create, membership cannot. */
const issued = new WeakSet<JsonText>();

/** A JSON document together with the UTF-8 text it was parsed from. */
export class JsonText {
  private constructor(
    readonly value: unknown,
    /** Valid UTF-8 that JSON.parse turns into `value`. */
    readonly bytes: Buffer,
  ) {}

  /** Parses a received body; throws JSON.parse's SyntaxError when it is not JSON. `raw` is kept, not copied: do not change it afterwards. */
  static parse(raw: Buffer): JsonText {
    const text = raw.toString('utf8');
    const value = JSON.parse(text) as unknown;
    // Invalid UTF-8 was decoded to U+FFFD above; store what was parsed, never the invalid bytes.
    const doc = new JsonText(value, isUtf8(raw) ? raw : Buffer.from(text, 'utf8'));
    issued.add(doc);
    return doc;
  }
}

const CLOSE = Buffer.from('}}');

/** A data member name that JSON.stringify writes in insertion order (not an array index). */
const FIELD_RE = /^[A-Za-z_$][\w$]*$/;

/**
 * Serialises `event` now, writing `json`'s text as `data[field]` (which must be `json.value`), and
 * returns the same event, frozen (with its data) so that object and bytes cannot drift apart. Every bus
 * of this lib publishes exactly those bytes; any other EventBus serialises the object into an
 * equivalent document. `data` is written last and `field` last within it; member order carries no
 * meaning in JSON.
 */
export function prepareEvent<E extends CloudEventJson>(event: E, embed: { field: string; json: JsonText }): E {
  const attributes = attributesAsWritten(event);
  if (!attributes) throw InvalidEvent('prepareEvent takes a plain object with string attributes (e.g. CloudEvent#toJSON())');
  const problem = cloudEventProblem(attributes);
  if (problem) throw InvalidEvent(problem);
  const { field, json } = embed;
  if (!issued.has(json)) throw InvalidEvent('embed.json must come from JsonText.parse');
  const data = event.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !FIELD_RE.test(field) || data[field] !== json.value) {
    throw InvalidEvent(`embedded JSON must be the value of data.${String(field).slice(0, 40)}`);
  }
  // Plain copies with `data` last and `field` last within it (a 0 stands in for the embedded document),
  // so the text ends `"<field>":0}}`. Copied key by key: rest/spread with a computed key cost twice as much.
  const envelope: Record<string, unknown> = {};
  for (const k of Object.keys(event)) if (k !== 'data') put(envelope, k, event[k]);
  const body: Record<string, unknown> = {};
  for (const k of Object.keys(data)) if (k !== field) put(body, k, data[k]);
  body[field] = 0;
  envelope['data'] = body;
  let head: string;
  try {
    head = JSON.stringify(envelope);
  } catch (err) {
    throw InvalidEvent('not JSON-serialisable', { cause: err });
  }
  if (!head.endsWith(`${JSON.stringify(field)}:0}}`)) throw InvalidEvent('envelope did not serialise as a plain object');
  Object.freeze(data);
  Object.freeze(event);
  // Kept as chunks: the embedded text is not copied until (unless) a bus needs one contiguous buffer.
  rememberEncoded(event, [Buffer.from(head.slice(0, -3), 'utf8'), json.bytes, CLOSE]);
  return event;
}

/** `target[key] = value` as an own data property, even for `__proto__` (which assignment would treat as the prototype). */
function put(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
