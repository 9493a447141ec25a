// Names that cannot collide between tests, runs or parallel processes, and that are valid as a
// Kafka topic, a PostgreSQL identifier (unquoted, <= 63 bytes) and a Vault path segment.
import { randomBytes } from 'node:crypto';
import { TestingErrors } from './errors';

const MAX_PREFIX = 32;
let counter = 0;

/**
 * `uniqueName('orders')` -> `orders_k3x9_1_a1b2c3d4`: lowercase letters, digits and `_` only,
 * starting with a letter, at most 63 characters. `-` in the prefix becomes `_`.
 */
export function uniqueName(prefix: string): string {
  if (typeof prefix !== 'string' || prefix.length === 0) throw TestingErrors.badName('it is empty');
  if (prefix.length > MAX_PREFIX) throw TestingErrors.badName(`it is longer than ${MAX_PREFIX} characters`);
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(prefix)) {
    throw TestingErrors.badName('it must start with a letter and contain only letters, digits, "-" or "_"');
  }
  counter += 1;
  const base = prefix.toLowerCase().replace(/-/g, '_');
  return `${base}_${process.pid.toString(36)}_${counter.toString(36)}_${randomBytes(4).toString('hex')}`;
}
