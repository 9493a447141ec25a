import { afterEach, describe, expect, it, vi } from 'vitest';
import { signatureFor } from './test-support';
import { createDeliveryVerifier } from './verify-delivery';

// The Standard Webhooks specification's published example (secret, id, timestamp, body, signature).
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const headers = { 'webhook-id': SPEC.id, 'webhook-timestamp': String(SPEC.timestamp), 'webhook-signature': SPEC.signature };

afterEach(() => {
  vi.useRealTimers();
});

describe('signature verification against the specification vector', () => {
  it('the test helper computes the published signature (so other tests sign like GitLab does)', () => {
    expect(signatureFor(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it('accepts the published delivery at its time, and refuses it now as a replay', () => {
    const verifier = createDeliveryVerifier({ signingSecrets: [SPEC.secret] });
    vi.useFakeTimers({ now: (SPEC.timestamp + 30) * 1000 });
    expect(verifier.checkSignature(Buffer.from(SPEC.body), headers)).toEqual({ ok: true });
    expect(verifier.checkSignature(Buffer.from(`${SPEC.body} `), headers)).toEqual({ ok: false, reason: 'webhook-signature does not match' });
    vi.useRealTimers();
    expect(verifier.checkSignature(Buffer.from(SPEC.body), headers)).toEqual({ ok: false, reason: 'Message timestamp too old' });
  });

  it('refuses repeated or non-string signature headers', () => {
    const verifier = createDeliveryVerifier({ signingSecrets: [SPEC.secret] });
    vi.useFakeTimers({ now: SPEC.timestamp * 1000 });
    expect(verifier.checkSignature(Buffer.from(SPEC.body), { ...headers, 'webhook-signature': [SPEC.signature, SPEC.signature] }).ok).toBe(false);
  });
});

describe('token check', () => {
  const verifier = createDeliveryVerifier({ tokens: ['first-token', 'second-token-longer'] });
  it('accepts each configured token exactly', () => {
    expect(verifier.checkToken('first-token').ok).toBe(true);
    expect(verifier.checkToken('second-token-longer').ok).toBe(true);
  });
  it('refuses near misses, arrays, empty and missing values, naming only the header', () => {
    for (const given of ['first-token ', 'FIRST-TOKEN', 'first-toke', '', undefined, ['first-token']]) {
      const result = verifier.checkToken(given);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toMatch(/^X-Gitlab-Token (missing|does not match)$/);
    }
  });
});

describe('configuration', () => {
  it('refuses no secrets, empty tokens and malformed signing tokens, without echoing them', () => {
    expect(() => createDeliveryVerifier({})).toThrow(/at least one/);
    expect(() => createDeliveryVerifier({ tokens: [''] })).toThrow(/tokens\[0\] is empty/);
    for (const bad of ['s3cr3t-value', 'whsec_', 'whsec_!!!not-base64!!!']) {
      let message = '';
      try {
        createDeliveryVerifier({ signingSecrets: [bad] });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/signingSecrets\[0\]/);
      if (bad.length > 6) expect(message).not.toContain(bad.slice(6));
    }
  });
});
