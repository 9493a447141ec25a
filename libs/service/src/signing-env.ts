// The event-signing settings every producer and consumer of jit.elevations.v1 reads the same way:
// JIT_SIGNING_KEY_FILE (this process's Ed25519 private key, PKCS#8 PEM) and the public keys it
// trusts per producer role (JWK `x`, as GET /v1/keys lists them). The key file is read and checked
// here, at start, so a bad one stops the process with the setting's name — never the key.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envSchemas } from './env-schemas';

const PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/;

function isEd25519PublicKey(x: string): boolean {
  if (!PUBLIC_KEY.test(x)) return false;
  try {
    createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
    return true;
  } catch {
    return false;
  }
}

const publicKeyItem = z.string().refine(isEd25519PublicKey, 'each key must be the 43-character JWK x of an Ed25519 public key (as GET /v1/keys lists it)');

/** Comma-separated Ed25519 public keys (JWK `x`); `min` 1 makes the setting required. */
export function publicKeysSetting(whatFor: string, min = 0) {
  return envSchemas.csv(publicKeyItem).pipe(z.array(z.string()).min(min, `is required: ${whatFor}`));
}

/** JIT_SIGNING_KEY_FILE: required (distributed producers) or optional (the all-in-one generates one). */
export function signingKeyFileSetting(required: boolean) {
  // Missing is reported as a plain check (not a type error), so the other settings' checks still run.
  const required_ = z
    .string()
    .optional()
    .transform((v) => v ?? '')
    .pipe(z.string().min(1, 'is required: the file holding this service’s Ed25519 event-signing key (openssl genpkey -algorithm ed25519)'));
  return required ? required_ : z.string().min(1, 'must be a path').optional();
}

/**
 * Reads a PEM Ed25519 private key file. Returns its text, or a problem line naming `key` (never the
 * file's content).
 */
export function readSigningKeyFile(key: string, path: string, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): { pem: string } | { problem: string } {
  let pem: string;
  try {
    pem = readFile(path);
  } catch (err) {
    const code = (err as { code?: string }).code;
    return { problem: `${key}: cannot read the key file (${code ?? 'unreadable'})` };
  }
  try {
    const k = createPrivateKey({ key: pem, format: 'pem' });
    if (k.asymmetricKeyType !== 'ed25519') return { problem: `${key}: the key file holds an ${k.asymmetricKeyType ?? 'unknown'} key; jit signs with Ed25519 (openssl genpkey -algorithm ed25519)` };
  } catch {
    return { problem: `${key}: the key file is not a PEM private key (create one with openssl genpkey -algorithm ed25519)` };
  }
  return { pem };
}

/** Which of the signing settings a service requires. */
export interface SigningRequirements {
  /** JIT_SIGNING_KEY_FILE required (every distributed producer) or optional (the all-in-one generates one). */
  keyFile: boolean;
  gate?: boolean;
  issuer?: boolean;
  revoker?: boolean;
}

/** JIT_SIGNING_KEY_FILE and JIT_TRUSTED_{GATE,ISSUER,REVOKER}_KEYS, each required or optional. */
export function signingEnv(required: SigningRequirements) {
  const what = (role: string) => `the public keys (GET /v1/keys of each ${role} process) whose events this service trusts, comma-separated`;
  return {
    JIT_SIGNING_KEY_FILE: signingKeyFileSetting(required.keyFile),
    JIT_TRUSTED_GATE_KEYS: publicKeysSetting(what('approval-gate'), required.gate ? 1 : 0),
    JIT_TRUSTED_ISSUER_KEYS: publicKeysSetting(what('issuer'), required.issuer ? 1 : 0),
    JIT_TRUSTED_REVOKER_KEYS: publicKeysSetting(what('revoker'), required.revoker ? 1 : 0),
  };
}

/** The signing settings as the app passes them down: the private key (PEM text, never logged) and the trusted keys. */
export interface SigningConfig {
  /** Absent only where the process may generate its own (the all-in-one). */
  privateKeyPem?: string;
  trusted: { gate: string[]; issuer: string[]; revoker: string[] };
}

/**
 * Reads JIT_SIGNING_KEY_FILE (when set) before the schema runs, so that a bad file is reported with
 * every other bad setting: `problems` go to parseEnv's `problems`.
 */
export function readSigningKeySetting(env: Record<string, string | undefined>, readFile?: (path: string) => string): { pem?: string; problems: string[] } {
  const path = Object.prototype.hasOwnProperty.call(env, 'JIT_SIGNING_KEY_FILE') ? env['JIT_SIGNING_KEY_FILE'] : undefined;
  if (typeof path !== 'string' || path.length === 0) return { problems: [] };
  const r = readSigningKeyFile('JIT_SIGNING_KEY_FILE', path, readFile);
  return 'pem' in r ? { pem: r.pem, problems: [] } : { problems: [r.problem] };
}

export function signingFromEnv(e: { JIT_TRUSTED_GATE_KEYS: string[]; JIT_TRUSTED_ISSUER_KEYS: string[]; JIT_TRUSTED_REVOKER_KEYS: string[] }, pem: string | undefined): SigningConfig {
  return { ...(pem ? { privateKeyPem: pem } : {}), trusted: { gate: e.JIT_TRUSTED_GATE_KEYS, issuer: e.JIT_TRUSTED_ISSUER_KEYS, revoker: e.JIT_TRUSTED_REVOKER_KEYS } };
}
