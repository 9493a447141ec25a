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

  it('stops start-up naming the setting when a credential file an instance will read is missing', () => {
    const settings = { 'vault:prod': { addr: 'http://127.0.0.1:8200', auth: { method: 'approle', roleId: 'r', secretIdFile: '/nonexistent/jit/secret-id' }, tokenRole: 'jit' } };
    const { instances, problems } = parseSubstrateSettings({ JIT_SUBSTRATES: JSON.stringify(settings) });
    expect(instances).toEqual({});
    expect(problems).toEqual(['JIT_SUBSTRATES: instance "vault:prod": auth.secretIdFile cannot read the file (ENOENT): no such file; check the path and the volume mount']);
  });
});
