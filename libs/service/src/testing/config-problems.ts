// The message of the ConfigError a parse throws, for config tests: fails the test when the parse
// succeeds or throws anything else.
import { expect } from 'vitest';
import { ConfigError } from '../config-error';

export function configProblems(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}
