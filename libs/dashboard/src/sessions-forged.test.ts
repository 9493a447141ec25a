// A cookie whose `kid` names no key of the ring must not open. It once was opened with an all-zero
// key (hostile review 4): 32 zero bytes are a valid A256GCM key, so anyone could seal a session (any
// username, any token, any anti-forgery token, any expiry) or a sign-in that every replica opened,
// without knowing JIT_UI_SESSION_KEY.
import { randomBytes } from 'node:crypto';
import { EncryptJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createSessionSealer } from './sessions';

const forge = (aud: string, claims: Record<string, unknown>) =>
  new EncryptJWT(claims).setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: 'not-a-key-of-ours' }).setAudience(aud).setIssuedAt().setExpirationTime('1h').encrypt(new Uint8Array(32));

describe('a cookie sealed without the session key', () => {
  it('a session forged with an unknown kid and the all-zero key does not open', async () => {
    const sealer = createSessionSealer({ keys: () => [randomBytes(32).toString('base64url')] });
    const cookie = await forge('jit-ui-session', { jti: 'forged', sub: 'alice', tok: 'mallorys-own-gitlab-token', csrf: 'chosen', sex: Date.now() + 3600_000 });
    expect(await sealer.get(cookie)).toBeUndefined();
  });

  it("a sign-in forged so (state, PKCE verifier and return path of the forger's choosing) does not open", async () => {
    const sealer = createSessionSealer({ keys: () => [randomBytes(32).toString('base64url')] });
    const cookie = await forge('jit-ui-sign-in', { jti: 'forged', st: 'known-state', cv: 'known-verifier', rt: '/ui/history' });
    expect(await sealer.openSignIn(cookie)).toBeUndefined();
  });
});
