import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { uniqueName } from './unique-name';

const KAFKA_TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const PG_IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

describe('uniqueName', () => {
  it('keeps the prefix readable and adds a unique suffix', () => {
    const name = uniqueName('Orders-Topic');
    expect(name.startsWith('orders_topic_')).toBe(true);
    expect(name).toMatch(PG_IDENTIFIER);
  });

  it('never repeats, even in a tight loop', () => {
    const names = new Set(Array.from({ length: 5000 }, () => uniqueName('t')));
    expect(names.size).toBe(5000);
  });

  it('is a valid Kafka topic, unquoted PostgreSQL identifier and Vault path segment for any accepted prefix', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/), (prefix) => {
        const name = uniqueName(prefix);
        expect(name).toMatch(KAFKA_TOPIC);
        expect(name).toMatch(PG_IDENTIFIER);
        expect(Buffer.byteLength(name)).toBeLessThanOrEqual(63);
        expect(encodeURIComponent(name)).toBe(name);
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['oversized', 'a'.repeat(33)],
    ['path traversal', '../etc'],
    ['SQL injection', 'x"; DROP TABLE y; --'],
    ['leading digit', '1abc'],
    ['whitespace', 'a b'],
    ['non-ASCII', 'café'],
    ['dots (Kafka metric-name collisions)', 'a.b'],
  ])('rejects a %s prefix with a clear error', (_label, prefix) => {
    expect(() => uniqueName(prefix)).toThrow(expect.objectContaining({ code: 'JIT_ERR_TESTING_BAD_NAME' }));
  });

  it('rejects a non-string prefix', () => {
    expect(() => uniqueName(42 as unknown as string)).toThrow(/uniqueName prefix rejected/);
  });
});
