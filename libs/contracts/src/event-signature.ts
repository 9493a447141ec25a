// Event signatures (contract): every producer of jit.elevations.v1 signs what it publishes with its
// own Ed25519 key, so a consumer can tell an `elevation.approved` of the gate from one any other
// producer on the topic (or anyone able to write the embedded bus's log file) made up. Two CloudEvents
// extension attributes carry it: `jitkeyid` (RFC 7638 thumbprint of the public key) and `jitsig`
// (base64url Ed25519 signature over the RFC 8785 canonical JSON of the whole event without `jitsig`,
// `jitkeyid` included). Extensions a later version adds (the per-elevation hash chain of issue 18)
// are covered the same way. Crypto is node:crypto's (OpenSSL); nothing here is home-made but the
// canonical form, which for the JSON values events hold is sorted keys + JSON.stringify (RFC 8785 §3.2).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { InvalidSigningKey } from './errors';
import { EVENT_TYPES, type ElevationEventType } from './topics';

/** Extension attribute: the signing key's id (RFC 7638 JWK thumbprint, base64url). */
export const KEY_ID_ATTRIBUTE = 'jitkeyid';
/** Extension attribute: the Ed25519 signature (base64url) over the canonical event without it. */
export const SIGNATURE_ATTRIBUTE = 'jitsig';

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;
const B64URL_64 = /^[A-Za-z0-9_-]{86}$/;

/** A public Ed25519 key as jit publishes it: JWK `x` (base64url of the 32 raw bytes) and its id. */
export interface PublicSigningKey {
  /** RFC 7638 thumbprint of the JWK, base64url. */
  kid: string;
  /** JWK `x`: the raw public key, base64url. */
  x: string;
}

/** A producer's key: signs events and credential statements. The private half never leaves it. */
export interface EventSigner {
  readonly publicKey: PublicSigningKey;
  /** A copy of `event` with `jitkeyid` and `jitsig` set. */
  sign<E extends object>(event: E): E;
  /** Base64url Ed25519 signature of `data`. */
  signBytes(data: string | Buffer): string;
}

export type SignatureCheck = { ok: true; kid: string } | { ok: false; reason: 'unsigned' | 'malformed' | 'untrusted_key' | 'bad_signature' };

/** The keys one consumer trusts for one kind of event (the issuer: the gate's keys). */
export interface EventVerifier {
  readonly keys: readonly PublicSigningKey[];
  /** Checks the event as received (before any parsing strips or defaults a field). Never throws. */
  verify(event: unknown): SignatureCheck;
}

/** RFC 8785 canonical JSON of a JSON value (plain objects, arrays, strings, finite numbers, booleans, null). */
export function canonicalJson(value: unknown): string {
  // plain loops and string concatenation: every event read is hashed (ADR 0010), a hot path
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    if (s === undefined) throw new TypeError('not a JSON value');
    return s;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + (value[i] === undefined ? 'null' : canonicalJson(value[i]));
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
    first = false;
  }
  return `${out}}`;
}

/** RFC 7638 thumbprint of an Ed25519 JWK: sha256 over its required members in order, base64url. */
export function keyIdOf(x: string): string {
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${x}"}`).digest('base64url');
}

/** Parses a published public key (JWK `x`, base64url of 32 bytes). Throws InvalidSigningKey. */
export function parsePublicKey(x: string): PublicSigningKey {
  const text = x.trim();
  if (!B64URL_32.test(text)) throw InvalidSigningKey('a public key must be 43 base64url characters (the JWK x of an Ed25519 key, as GET /v1/keys lists it)');
  try {
    createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: text }, format: 'jwk' });
  } catch {
    throw InvalidSigningKey('not an Ed25519 public key');
  }
  return { kid: keyIdOf(text), x: text };
}

function keyObjectOf(key: PublicSigningKey): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.x }, format: 'jwk' });
}

/** A new Ed25519 private key as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519` writes). */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A signer from a PKCS#8 PEM Ed25519 private key. Throws InvalidSigningKey (never quoting the key). */
export function createEventSigner(privateKeyPem: string): EventSigner {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: privateKeyPem, format: 'pem' });
  } catch {
    throw InvalidSigningKey('not a PEM private key (create one with `openssl genpkey -algorithm ed25519`)');
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw InvalidSigningKey(`an ${privateKey.asymmetricKeyType ?? 'unknown'} key; jit signs with Ed25519`);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as { x: string };
  const publicKey: PublicSigningKey = { kid: keyIdOf(jwk.x), x: jwk.x };
  const signBytes = (data: string | Buffer) => sign(null, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, privateKey).toString('base64url');
  return {
    publicKey,
    signBytes,
    sign<E extends object>(event: E): E {
      const unsigned: Record<string, unknown> = { ...(event as Record<string, unknown>), [KEY_ID_ATTRIBUTE]: publicKey.kid };
      delete unsigned[SIGNATURE_ATTRIBUTE];
      return { ...unsigned, [SIGNATURE_ATTRIBUTE]: signBytes(canonicalJson(unsigned)) } as E;
    },
  };
}

/** Verifies an Ed25519 signature (base64url) of `data` by `key`. Never throws. */
export function verifyBytes(key: PublicSigningKey, data: string | Buffer, signature: string): boolean {
  if (!B64URL_64.test(signature)) return false;
  try {
    return verify(null, typeof data === 'string' ? Buffer.from(data, 'utf8') : data, keyObjectOf(key), Buffer.from(signature, 'base64url'));
  } catch {
    return false;
  }
}

/** A verifier trusting exactly `keys` (public keys as text or parsed). */
export function createEventVerifier(keys: ReadonlyArray<string | PublicSigningKey>): EventVerifier {
  const parsed = keys.map((k) => (typeof k === 'string' ? parsePublicKey(k) : k));
  const byId = new Map(parsed.map((k) => [k.kid, { key: k, object: keyObjectOf(k) }]));
  return {
    keys: parsed,
    verify(event) {
      if (!event || typeof event !== 'object' || Array.isArray(event)) return { ok: false, reason: 'malformed' };
      const e = event as Record<string, unknown>;
      const kid = e[KEY_ID_ATTRIBUTE];
      const sig = e[SIGNATURE_ATTRIBUTE];
      if (kid === undefined && sig === undefined) return { ok: false, reason: 'unsigned' };
      if (typeof kid !== 'string' || typeof sig !== 'string' || !B64URL_64.test(sig)) return { ok: false, reason: 'malformed' };
      const trusted = byId.get(kid);
      if (!trusted) return { ok: false, reason: 'untrusted_key' };
      const unsigned = { ...e };
      delete unsigned[SIGNATURE_ATTRIBUTE];
      let ok = false;
      try {
        ok = verify(null, Buffer.from(canonicalJson(unsigned), 'utf8'), trusted.object, Buffer.from(sig, 'base64url'));
      } catch {
        return { ok: false, reason: 'malformed' };
      }
      return ok ? { ok: true, kid } : { ok: false, reason: 'bad_signature' };
    },
  };
}

/** What the issuer signs about a sealed credential: who it is for, until when, and which bytes. */
export interface CredentialStatementInput {
  elevationId: string;
  grantId: string;
  expiresAt: string;
  sealedCredential: string;
}

/** The signed statement (canonical JSON): grant id, expiry and the sha256 of the sealed blob. */
export function credentialStatement(input: CredentialStatementInput): string {
  return canonicalJson({
    v: 1,
    elevationId: input.elevationId,
    grantId: input.grantId,
    expiresAt: input.expiresAt,
    sealedSha256: createHash('sha256').update(input.sealedCredential, 'utf8').digest('hex'),
  });
}

/** The issuer's signature of a credential statement, as `elevation.granted` and the read API carry it. */
export interface CredentialSignature {
  kid: string;
  signature: string;
}

export function signCredential(signer: EventSigner, input: CredentialStatementInput): CredentialSignature {
  return { kid: signer.publicKey.kid, signature: signer.signBytes(credentialStatement(input)) };
}

export function verifyCredentialSignature(key: PublicSigningKey, input: CredentialStatementInput, signature: CredentialSignature): boolean {
  return signature.kid === key.kid && verifyBytes(key, credentialStatement(input), signature.signature);
}

/** Which service produces the events a consumer must not take from anyone else. */
export type ProducerRole = 'gate' | 'issuer' | 'revoker';

/**
 * The event types whose producer is checked, and by whom they must be signed: an approval or a
 * policy ratification only by a gate, a grant (or its failure) only by an issuer, the end of a grant
 * only by a revoker. A forged one would mint a credential, put a policy in force, postpone or skip a
 * revocation, or serve another credential.
 */
export const SIGNED_BY: Readonly<Record<string, ProducerRole>> = Object.freeze({
  [EVENT_TYPES.approved]: 'gate',
  // a forged ratification would put any policy version in force where the log is folded
  [EVENT_TYPES.policyRatified]: 'gate',
  [EVENT_TYPES.policyRefused]: 'gate',
  [EVENT_TYPES.policyBypassDetected]: 'gate',
  [EVENT_TYPES.granted]: 'issuer',
  [EVENT_TYPES.grantStarted]: 'issuer',
  [EVENT_TYPES.grantFailed]: 'issuer',
  // the process that serves credentials (the issuer's read API) records each fetch
  [EVENT_TYPES.credentialFetched]: 'issuer',
  [EVENT_TYPES.revoked]: 'revoker',
  [EVENT_TYPES.expired]: 'revoker',
  // the revoker reads it back so a rebuild does not report a duplicate issue twice; a forged one must not silence one
  [EVENT_TYPES.grantDuplicated]: 'revoker',
});

/**
 * The producer of every type on jit.elevations.v1 (each publishes through its signing bus). A
 * consumer that repeats events to people (the notifier) checks all of them, not only SIGNED_BY's:
 * a forged `requested` or `bypass.detected` changes no state, but announced it sends approvers to
 * a link of the forger's choosing or raises a false alarm. A new type must name its producer here.
 */
export const PRODUCED_BY: Readonly<Record<ElevationEventType, ProducerRole>> = Object.freeze({
  [EVENT_TYPES.requested]: 'gate',
  [EVENT_TYPES.rejected]: 'gate',
  [EVENT_TYPES.withdrawn]: 'gate',
  [EVENT_TYPES.approvalRecorded]: 'gate',
  [EVENT_TYPES.approved]: 'gate',
  [EVENT_TYPES.bypassDetected]: 'gate',
  [EVENT_TYPES.revokeRequested]: 'gate',
  [EVENT_TYPES.pushRecorded]: 'gate',
  [EVENT_TYPES.policyRatified]: 'gate',
  [EVENT_TYPES.policyRefused]: 'gate',
  [EVENT_TYPES.policyBypassDetected]: 'gate',
  [EVENT_TYPES.grantStarted]: 'issuer',
  [EVENT_TYPES.granted]: 'issuer',
  [EVENT_TYPES.grantFailed]: 'issuer',
  [EVENT_TYPES.credentialFetched]: 'issuer',
  [EVENT_TYPES.revoked]: 'revoker',
  [EVENT_TYPES.revokeFailed]: 'revoker',
  [EVENT_TYPES.expired]: 'revoker',
  [EVENT_TYPES.orphanRevoked]: 'revoker',
  [EVENT_TYPES.grantDuplicated]: 'revoker',
});

/** The keys a consumer trusts, per producer role. */
export type ProducerTrust = Readonly<Record<ProducerRole, EventVerifier>>;

export type ProducerCheck = { ok: true } | { ok: false; role: ProducerRole; reason: Exclude<SignatureCheck, { ok: true }>['reason'] };

/**
 * Whether `raw` (an event as received) comes from a producer `trust` accepts for its type. `roles`:
 * the types checked (default SIGNED_BY; PRODUCED_BY checks every type). Never throws.
 */
export function checkProducer(trust: ProducerTrust, raw: unknown, roles: Readonly<Record<string, ProducerRole>> = SIGNED_BY): ProducerCheck {
  const type = raw && typeof raw === 'object' ? (raw as { type?: unknown }).type : undefined;
  const role = typeof type === 'string' && Object.hasOwn(roles, type) ? roles[type] : undefined;
  if (!role) return { ok: true };
  const verdict = trust[role].verify(raw);
  return verdict.ok ? { ok: true } : { ok: false, role, reason: verdict.reason };
}

/**
 * What a consumer logs and counts for a refused event: ids, producer and reason (no data, so no
 * secret and nothing a forger chose beyond short identifiers), and the metric labels.
 */
export function describeRefusal(check: Exclude<ProducerCheck, { ok: true }>, raw: unknown): { fields: Record<string, unknown>; message: string; labels: { type: string; reason: string } } {
  const e = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const short = (v: unknown) => (typeof v === 'string' ? v.slice(0, 128) : undefined);
  const type = short(e['type']) ?? '';
  const name = type.replace(/^dev\.jit\.elevation\./, '').replace(/\.v1$/, '');
  return {
    fields: { eventId: short(e['id']), source: short(e['source']), elevationId: short(e['elevationid']) ?? short(e['subject']), kid: short(e[KEY_ID_ATTRIBUTE]), reason: check.reason },
    message: `refused an elevation.${name} not signed by a trusted ${check.role} key (${check.reason}); it changes nothing here`,
    labels: { type: name, reason: check.reason },
  };
}

/**
 * The trust of one process: the public keys configured per role, plus its own key for the roles it
 * plays itself (an issuer trusts its own `granted` on replay; the all-in-one plays all three).
 */
export function producerTrust(configured: Partial<Record<ProducerRole, ReadonlyArray<string | PublicSigningKey>>>, own?: { key: PublicSigningKey; roles: readonly ProducerRole[] }): ProducerTrust {
  const keysFor = (role: ProducerRole) => [...(configured[role] ?? []), ...(own && own.roles.includes(role) ? [own.key] : [])];
  return { gate: createEventVerifier(keysFor('gate')), issuer: createEventVerifier(keysFor('issuer')), revoker: createEventVerifier(keysFor('revoker')) };
}
