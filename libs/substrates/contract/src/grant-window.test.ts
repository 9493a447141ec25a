import { describe, expect, it } from 'vitest';
import { grantWindow } from './grant-window';

const at = new Date('2030-01-01T00:00:00.000Z');

describe('grantWindow', () => {
  it('is the TTL without a notAfter, and the TTL when notAfter is further away', () => {
    expect(grantWindow('s', { grantId: 'g', ttlSeconds: 300 }, at)).toEqual({ expiresAt: new Date('2030-01-01T00:05:00.000Z'), seconds: 300 });
    expect(grantWindow('s', { grantId: 'g', ttlSeconds: 300, notAfter: '2030-01-01T01:00:00Z' }, at)).toEqual({ expiresAt: new Date('2030-01-01T00:05:00.000Z'), seconds: 300 });
  });

  it('cuts the TTL at notAfter, the seconds rounded down so a backend TTL never reaches past it', () => {
    expect(grantWindow('s', { grantId: 'g', ttlSeconds: 300, notAfter: '2030-01-01T00:00:03.700Z' }, at)).toEqual({ expiresAt: new Date('2030-01-01T00:00:03.700Z'), seconds: 3 });
  });

  it('refuses, not retriable, when less than a second is left or notAfter has passed; a notAfter that is no date is rejected', () => {
    for (const notAfter of ['2030-01-01T00:00:00.900Z', '2030-01-01T00:00:00Z', '2029-12-31T00:00:00Z']) {
      expect(() => grantWindow('pg', { grantId: 'gl-1-2-abc', ttlSeconds: 300, notAfter }, at)).toThrow(
        expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_GRANT_EXPIRED', retriable: false, message: expect.stringContaining('gl-1-2-abc') }),
      );
    }
    expect(() => grantWindow('pg', { grantId: 'g', ttlSeconds: 300, notAfter: 'tomorrow' }, at)).toThrow(expect.objectContaining({ code: 'JIT_ERR_SUBSTRATE_REJECTED' }));
  });
});
