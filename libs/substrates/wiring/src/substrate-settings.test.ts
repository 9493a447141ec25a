import { describe, expect, it } from 'vitest';
import { parseSubstrateSettings } from './substrate-settings';

describe('substrate settings', () => {
  it("shows an adapter's own message for a bad combination (a stable code), never a value", () => {
    const settings = { vault: { addr: 'http://127.0.0.1:8200', tokenRef: 'env:VAULT_TOKEN', auth: { method: 'approle', roleId: 'r', secretIdFile: '/run/s' }, tokenRole: 'jit' } };
    const { problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify(settings), VAULT_TOKEN: 'hvs.VALUE-123' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^JIT_SUBSTRATES: instance "vault": invalid auth \(JIT_ERR_VAULT_AUTH_CONFLICT: set token or auth, not both\)/);
    expect(problems[0]).not.toContain('hvs.VALUE-123');
  });
});
