import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from './topics';
import { sampleEvent } from './testing';
import {
  PRODUCED_BY,
  canonicalJson,
  checkProducer,
  producerTrust,
  createEventSigner,
  createEventVerifier,
  generateSigningKeyPem,
  keyIdOf,
  parsePublicKey,
  signCredential,
  verifyCredentialSignature,
} from './event-signature';

const gate = createEventSigner(generateSigningKeyPem());
const other = createEventSigner(generateSigningKeyPem());

describe('event signatures', () => {
  it('canonical JSON sorts keys at every depth and drops undefined members (RFC 8785)', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null, 'x'], c: 'é\n' }, u: undefined })).toBe('{"a":{"c":"é\\n","d":[true,null,"x"]},"b":1}');
  });

  it('the key id is the RFC 7638 thumbprint of the public JWK (RFC 8037 appendix A.3 vector)', () => {
    expect(keyIdOf('11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo')).toBe('kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('a signed event verifies after a JSON round trip, whatever the member order', () => {
    const event = gate.sign(sampleEvent(EVENT_TYPES.approved));
    const verifier = createEventVerifier([gate.publicKey.x]);
    const received = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(event).reverse())));
    expect(verifier.verify(received)).toEqual({ ok: true, kid: gate.publicKey.kid });
  });

  it('refuses unsigned, untrusted, altered and malformed events', () => {
    const verifier = createEventVerifier([gate.publicKey]);
    const event = sampleEvent(EVENT_TYPES.approved);
    expect(verifier.verify(event)).toEqual({ ok: false, reason: 'unsigned' });
    expect(verifier.verify(other.sign(event))).toEqual({ ok: false, reason: 'untrusted_key' });
    const signed = gate.sign(event);
    expect(verifier.verify({ ...signed, data: { ...signed.data, ttlSeconds: 30 * 24 * 3600 } })).toEqual({ ok: false, reason: 'bad_signature' });
    // another key's signature under the trusted key's id
    expect(verifier.verify({ ...other.sign(event), jitkeyid: gate.publicKey.kid })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifier.verify({ ...signed, jitsig: 'short' })).toEqual({ ok: false, reason: 'malformed' });
    expect(verifier.verify(null)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('refuses keys that are not Ed25519, naming the setting shape but never the key', () => {
    expect(() => createEventSigner('-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n')).toThrow(/JIT_ERR_CONTRACTS_INVALID_SIGNING_KEY|invalid signing key/);
    expect(() => parsePublicKey('not-a-key')).toThrow(/43 base64url/);
  });

  it('a credential signature binds grant, expiry and the exact sealed bytes', () => {
    const input = { elevationId: 'gl-1-2', grantId: 'gl-1-2-abc1234', expiresAt: '2026-01-01T00:00:00.000Z', sealedCredential: 'sealed' };
    const sig = signCredential(gate, input);
    expect(verifyCredentialSignature(gate.publicKey, input, sig)).toBe(true);
    expect(verifyCredentialSignature(gate.publicKey, { ...input, sealedCredential: 'other' }, sig)).toBe(false);
    expect(verifyCredentialSignature(gate.publicKey, { ...input, expiresAt: '2027-01-01T00:00:00.000Z' }, sig)).toBe(false);
    expect(verifyCredentialSignature(other.publicKey, input, signCredential(other, input))).toBe(true);
    expect(verifyCredentialSignature(gate.publicKey, input, signCredential(other, input))).toBe(false);
  });
});

describe('PRODUCED_BY (what a consumer that announces events checks)', () => {
  const trust = producerTrust({ gate: [gate.publicKey] });
  it('names a producer for every type on the topic, and refuses an unsigned request the default list lets through', () => {
    expect(Object.keys(PRODUCED_BY).sort()).toEqual(Object.values(EVENT_TYPES).sort());
    const forged = sampleEvent(EVENT_TYPES.requested);
    expect(checkProducer(trust, forged)).toEqual({ ok: true });
    expect(checkProducer(trust, forged, PRODUCED_BY)).toEqual({ ok: false, role: 'gate', reason: 'unsigned' });
    expect(checkProducer(trust, other.sign(sampleEvent(EVENT_TYPES.bypassDetected)), PRODUCED_BY)).toMatchObject({ ok: false, reason: 'untrusted_key' });
    expect(checkProducer(trust, gate.sign(sampleEvent(EVENT_TYPES.bypassDetected)), PRODUCED_BY)).toEqual({ ok: true });
  });

  it('never throws on a type named like an Object.prototype member', () => {
    expect(checkProducer(trust, { type: 'toString' })).toEqual({ ok: true });
    expect(checkProducer(trust, { type: 'constructor' }, PRODUCED_BY)).toEqual({ ok: true });
  });
});
