// Compiles the vendored OCSF 1.8.0 sources (libs/audit/vendor, see SOURCE.md there) into JSON
// Schema, class by class, so tests validate every OCSF event jit maps with a standard validator
// (ajv) against the published schema of a pinned version rather than against our own idea of it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const OCSF_VENDOR_DIR = join(import.meta.dirname, '..', '..', 'vendor', 'ocsf-schema-1.8.0');

type Attr = {
  type?: string;
  is_array?: boolean;
  requirement?: 'required' | 'recommended' | 'optional';
  enum?: Record<string, unknown>;
  [k: string]: unknown;
};
type SourceDoc = { name?: string; extends?: string; uid?: number; category?: string; attributes?: Record<string, Attr | string[]>; constraints?: { at_least_one?: string[]; just_one?: string[] } };
type JsonSchema = Record<string, unknown>;

const read = (rel: string): SourceDoc => JSON.parse(readFileSync(join(OCSF_VENDOR_DIR, rel), 'utf8')) as SourceDoc;

const CLASS_FILES: Record<string, string> = {
  base_event: 'events/base_event.json',
  iam: 'events/iam/iam.json',
  user_access: 'events/iam/user_access.json',
  finding: 'events/findings/finding.json',
  detection_finding: 'events/findings/detection_finding.json',
};
const VENDORED_OBJECTS = new Set(['object', '_entity', '_resource', 'user', 'actor', 'metadata', 'product', 'resource_details', 'finding_info']);

const SCALARS: Record<string, JsonSchema> = {
  string_t: { type: 'string' },
  integer_t: { type: 'integer' },
  long_t: { type: 'integer' },
  float_t: { type: 'number' },
  boolean_t: { type: 'boolean' },
  json_t: {},
};

function attributesOf(doc: SourceDoc): Record<string, Attr> {
  return Object.fromEntries(Object.entries(doc.attributes ?? {}).filter(([k]) => k !== '$include')) as Record<string, Attr>;
}

/** Attributes of a class or object with those of what it extends (the child's settings win; enums merge). */
function mergedAttributes(chain: SourceDoc[]): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const doc of chain) {
    for (const [name, attr] of Object.entries(attributesOf(doc))) {
      const before = out[name] ?? {};
      out[name] = { ...before, ...attr, ...(before.enum || attr.enum ? { enum: { ...before.enum, ...attr.enum } } : {}) };
    }
  }
  return out;
}

export interface OcsfSchemaSet {
  version: string;
  /** JSON Schema of the event class named by its OCSF name (`user_access`, `detection_finding`, `base_event`). */
  classSchema(name: string): JsonSchema;
}

export function loadOcsfSchemas(): OcsfSchemaSet {
  const version = (JSON.parse(readFileSync(join(OCSF_VENDOR_DIR, 'version.json'), 'utf8')) as { version: string }).version;
  const dictionary = JSON.parse(readFileSync(join(OCSF_VENDOR_DIR, 'dictionary.json'), 'utf8')) as {
    attributes: Record<string, Attr>;
    types: { attributes: Record<string, { type?: string; regex?: string }> };
  };
  const categories = (JSON.parse(readFileSync(join(OCSF_VENDOR_DIR, 'categories.json'), 'utf8')) as { attributes: Record<string, { uid: number }> }).attributes;

  const scalar = (type: string): JsonSchema => {
    if (SCALARS[type]) return SCALARS[type]!;
    const t = dictionary.types.attributes[type];
    if (!t?.type) throw new Error(`OCSF type ${type} is not in the vendored dictionary`);
    const base = scalar(t.type);
    return base['type'] === 'string' && t.regex && isJsRegex(t.regex) ? { ...base, pattern: t.regex } : base;
  };

  const defs: Record<string, JsonSchema> = {};
  const attributeSchema = (name: string, attr: Attr): JsonSchema => {
    const def = { ...dictionary.attributes[name], ...attr };
    if (!def.type) throw new Error(`OCSF attribute ${name} has no type`);
    let one: JsonSchema;
    if (dictionary.types.attributes[def.type] || SCALARS[def.type]) {
      one = scalar(def.type);
      if (def.enum && name.endsWith('_id')) one = { ...one, enum: Object.keys(def.enum).map(Number) };
    } else if (def.type === 'object') one = { type: 'object' };
    else if (VENDORED_OBJECTS.has(def.type)) {
      objectDef(def.type);
      one = { $ref: `#/$defs/${def.type}` };
    } else one = { type: 'object' };
    return def.is_array ? { type: 'array', items: one } : one;
  };
  const objectChain = (name: string): SourceDoc[] => {
    const doc = read(`objects/${name}.json`);
    return doc.extends && doc.extends !== name ? [...objectChain(doc.extends), doc] : [doc];
  };
  const constraintsOf = (chain: SourceDoc[]): JsonSchema => {
    const c = chain[chain.length - 1]!.constraints;
    if (c?.at_least_one) return { anyOf: c.at_least_one.map((a) => ({ required: [a] })) };
    if (c?.just_one) return { oneOf: c.just_one.map((a) => ({ required: [a] })) };
    return {};
  };
  const shape = (attrs: Record<string, Attr>): JsonSchema => {
    const properties: Record<string, JsonSchema> = {};
    for (const [n, a] of Object.entries(attrs)) properties[n] = attributeSchema(n, a);
    const required = Object.entries(attrs)
      .filter(([, a]) => a.requirement === 'required')
      .map(([n]) => n)
      .sort();
    return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false };
  };
  function objectDef(name: string): void {
    if (defs[name]) return;
    defs[name] = {}; // recursion guard (objects may refer to themselves)
    const chain = objectChain(name);
    defs[name] = { ...shape(mergedAttributes(chain)), ...constraintsOf(chain) };
  }

  const classChain = (name: string): SourceDoc[] => {
    const file = CLASS_FILES[name];
    if (!file) throw new Error(`OCSF class ${name} is not vendored`);
    const doc = read(file);
    return doc.extends ? [...classChain(doc.extends), doc] : [doc];
  };

  return {
    version,
    classSchema(name) {
      const chain = classChain(name);
      const own = chain[chain.length - 1]!;
      const categoryName = chain
        .map((d) => d.category)
        .filter(Boolean)
        .pop();
      const categoryUid = categoryName && categories[categoryName] ? categories[categoryName]!.uid : 0;
      const classUid = own.uid !== undefined ? categoryUid * 1000 + own.uid : 0;
      const attrs = mergedAttributes(chain);
      const body = shape(attrs);
      const activities = Object.keys(attrs['activity_id']?.enum ?? {}).map(Number);
      const props = body['properties'] as Record<string, JsonSchema>;
      props['class_uid'] = { type: 'integer', const: classUid };
      props['category_uid'] = { type: 'integer', const: categoryUid };
      props['type_uid'] = { type: 'integer', enum: activities.map((a) => classUid * 100 + a) };
      return {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        $id: `https://schema.ocsf.io/${version}/classes/${name}`,
        title: `OCSF ${version} ${name} (${classUid})`,
        ...body,
        ...constraintsOf(chain),
        $defs: defs,
      };
    },
  };
}

function isJsRegex(source: string): boolean {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}
