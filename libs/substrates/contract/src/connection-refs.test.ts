import { describe, expect, it } from 'vitest';
import { envRefLookup, resolveConnectionRefs } from './connection-refs';

describe('resolveConnectionRefs', () => {
  const env = envRefLookup({ DB_URL: 'postgres://admin:pw@db/app', VAULT_TOKEN: 's.tok' });

  it('maps secretRef to url and <key>Ref to <key>, leaving plain keys', () => {
    expect(resolveConnectionRefs('t', { secretRef: 'env:DB_URL', tokenRef: 'env:VAULT_TOKEN', region: 'eu-west-1' }, env)).toEqual({
      url: 'postgres://admin:pw@db/app',
      token: 's.tok',
      region: 'eu-west-1',
    });
  });

  it.each([
    [{ secretRef: 'env:UNSET' }, /env:UNSET, which is not set/],
    [{ secretRef: 'vault:DB_URL' }, /vault:DB_URL, which is not set/],
    [{ secretRef: 'file:/etc/passwd' }, /must look like env:NAME/],
    [{ secretRef: 'DB_URL' }, /must look like env:NAME/],
    [{ secretRef: 42 }, /must look like env:NAME/],
    [{ secretRef: 'env:$(rm -rf /)' }, /must look like env:NAME/],
  ])('refuses %j clearly without echoing values', (connection, message) => {
    let err: Error | undefined;
    try {
      resolveConnectionRefs('orders-db', connection as Record<string, unknown>, env);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    expect(err?.message).not.toContain('pw@db');
  });
});
