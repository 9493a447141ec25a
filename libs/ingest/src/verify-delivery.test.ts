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

describe('rotation with a grace window', () => {
  function feed(initial: string[]) {
    let listener: ((v: string[]) => void) | undefined;
    let value = initial;
    return {
      current: () => value,
      onChange: (l: (v: string[]) => void) => ((listener = l), () => (listener = undefined)),
      set: (v: string[]) => ((value = v), listener?.(v)),
    };
  }

  it('accepts the new token at once and the replaced one only until the grace window ends', () => {
    let now = 1_000;
    const verifier = createDeliveryVerifier({ tokens: feed(['old-secret-token']), graceMs: 600_000, now: () => now });
    expect(verifier.checkToken('old-secret-token').ok).toBe(true);
    expect(verifier.checkToken('new-secret-token').ok).toBe(false);
    verifier.rotate({ tokens: ['new-secret-token'] });
    expect(verifier.checkToken('new-secret-token').ok).toBe(true);
    now += 599_999;
    expect(verifier.checkToken('old-secret-token').ok).toBe(true);
    now += 1;
    expect(verifier.checkToken('old-secret-token')).toEqual({ ok: false, reason: 'X-Gitlab-Token does not match' });
    expect(verifier.checkToken('new-secret-token').ok).toBe(true);
  });

  it('keeps only the last replaced value: two quick rotations retire the first secret', () => {
    const verifier = createDeliveryVerifier({ tokens: ['first-secret'], graceMs: 60_000, now: () => 0 });
    verifier.rotate({ tokens: ['second-secret'] });
    verifier.rotate({ tokens: ['third-secret'] });
    expect(verifier.checkToken('first-secret').ok).toBe(false);
    expect(verifier.checkToken('second-secret').ok).toBe(true);
    expect(verifier.checkToken('third-secret').ok).toBe(true);
  });

  it('a grace of 0 retires the old value at once', () => {
    const verifier = createDeliveryVerifier({ tokens: ['first-secret'], graceMs: 0, now: () => 5 });
    verifier.rotate({ tokens: ['second-secret'] });
    expect(verifier.checkToken('first-secret').ok).toBe(false);
  });

  it('rotates signing tokens the same way', () => {
    vi.useFakeTimers({ now: (SPEC.timestamp + 1) * 1000 });
    const verifier = createDeliveryVerifier({ signingSecrets: [SPEC.secret], graceMs: 1_000 });
    const fresh = 'whsec_' + Buffer.from('a-brand-new-signing-key-01234567').toString('base64');
    verifier.rotate({ signingSecrets: [fresh] });
    const signedNew = { ...headers, 'webhook-signature': signatureFor(fresh, SPEC.id, SPEC.timestamp, SPEC.body) };
    expect(verifier.checkSignature(Buffer.from(SPEC.body), signedNew)).toEqual({ ok: true });
    expect(verifier.checkSignature(Buffer.from(SPEC.body), headers)).toEqual({ ok: true });
    vi.setSystemTime((SPEC.timestamp + 2) * 1000 + 1);
    expect(verifier.checkSignature(Buffer.from(SPEC.body), headers)).toEqual({ ok: false, reason: 'webhook-signature does not match' });
    expect(verifier.checkSignature(Buffer.from(SPEC.body), signedNew)).toEqual({ ok: true });
  });

  it('refuses a rotation that would switch a check off or on, changing nothing', () => {
    const verifier = createDeliveryVerifier({ tokens: ['kept-secret'] });
    expect(() => verifier.rotate({ tokens: [] })).toThrow(/cannot remove every secret token/);
    expect(() => verifier.rotate({ signingSecrets: ['whsec_' + Buffer.from('k').toString('base64')] })).toThrow(/restart to require signing/);
    expect(() => verifier.rotate({ tokens: [''] })).toThrow(/is empty/);
    expect(verifier.checkToken('kept-secret').ok).toBe(true);
  });
});
