import { describe, expect, it } from 'vitest';
import { JitError, defineError, isRetriable } from './jit-error';

describe('defineError', () => {
  const NotFound = defineError<[string]>('JIT_ERR_TEST_NOT_FOUND', 'target %s is not in the catalog', { statusCode: 404 });
  const Down = defineError('JIT_ERR_TEST_DOWN', 'substrate unreachable', { retriable: true });

  it('fills the template, keeps code, status and cause', () => {
    const cause = new Error('boom');
    const err = NotFound('orders-db', { cause });
    expect(err).toBeInstanceOf(JitError);
    expect(err.message).toBe('target orders-db is not in the catalog');
    expect(err.code).toBe('JIT_ERR_TEST_NOT_FOUND');
    expect(err.statusCode).toBe(404);
    expect(err.cause).toBe(cause);
    expect(NotFound.is(err)).toBe(true);
    expect(Down.is(err)).toBe(false);
  });

  it('carries the retriable flag', () => {
    expect(isRetriable(Down())).toBe(true);
    expect(isRetriable(NotFound('x'))).toBe(false);
    expect(isRetriable(new Error('plain'))).toBe(false);
    expect(isRetriable({ retriable: true })).toBe(true);
  });

  it('refuses codes outside the JIT_ERR_<AREA>_<WHAT> scheme', () => {
    expect(() => defineError('BAD', 'x')).toThrow(/bad error code/);
  });
});
