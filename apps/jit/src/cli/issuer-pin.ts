// Where a sealed credential came from: the issuer signs (elevation id, grant id, expiry, sha256 of
// the sealed blob) and the CLI checks that signature against the issuer key it trusts for this jit
// URL — JIT_ISSUER_KEY when set, otherwise the key it pinned the first time it fetched a credential
// from that URL (trust on first use, in <config dir>/known-issuers.json). A server that is not the
// jit you used before (or a forged `granted` on the bus) cannot hand you a credential of its choice.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ELEVATION_ID_RE, parsePublicKey, verifyCredentialSignature, type PublicSigningKey } from '@jit/contracts';
import type { JitApi, SealedCredentialBody } from './api-client';
import { CliError } from './cli-error';

interface Pin {
  kid: string;
  x: string;
  pinnedAt: string;
}

export interface IssuerPinOptions {
  api: Pick<JitApi, 'keys'>;
  /** The elevation the credential was asked for: a credential signed for another one is refused. */
  elevationId: string;
  /** The jit URL the credential came from: pins are per URL. */
  url: string;
  /** The known-issuers file. */
  file: string;
  /** JIT_ISSUER_KEY: the issuer's public key (JWK x) to use instead of the pin. */
  issuerKey?: string;
  /** Told when a key is pinned for the first time. */
  note: (line: string) => void;
  now?: () => Date;
}

/** Throws CliError unless `credential` was signed by the issuer key trusted for `url`. */
export async function verifyCredentialOrigin(credential: SealedCredentialBody, options: IssuerPinOptions): Promise<void> {
  const sig = credential.credentialSignature;
  const id = credential.elevationId;
  if (!sig || typeof sig !== 'object' || typeof sig.kid !== 'string' || typeof sig.signature !== 'string' || typeof credential.grantId !== 'string') {
    throw new CliError(`the credential of ${id} carries no issuer signature, so where it came from cannot be checked; refusing it (is ${options.url} a jit whose issuer signs credentials?)`);
  }
  // The signature binds the blob to the elevation it names; a server answering for one elevation with
  // another's (genuinely signed, sealed to the same person) would hand out the wrong credential.
  if (credential.elevationId !== options.elevationId) {
    throw new CliError(
      `the credential served for ${options.elevationId} is signed for ${ELEVATION_ID_RE.test(String(credential.elevationId)) ? credential.elevationId : 'another elevation'}, not for ${options.elevationId}; refusing it (is ${options.url} the jit you meant?)`,
    );
  }
  const statement = { elevationId: credential.elevationId, grantId: credential.grantId, expiresAt: credential.expiresAt, sealedCredential: credential.sealedCredential };
  if (options.issuerKey) {
    let key: PublicSigningKey;
    try {
      key = parsePublicKey(options.issuerKey);
    } catch {
      throw new CliError('JIT_ISSUER_KEY is not an issuer public key (the 43-character x of GET /v1/keys)');
    }
    if (!verifyCredentialSignature(key, statement, sig)) {
      throw new CliError(
        `the credential of ${id} is not signed by the issuer key in JIT_ISSUER_KEY (${key.kid}); refusing it. Someone may be impersonating jit at ${options.url}, or the issuer's key changed: ask your operator for the current key.`,
      );
    }
    return;
  }
  const origin = originOf(options.url);
  const pins = await readPins(options.file);
  const pinned = pins[origin];
  if (pinned) {
    if (!verifyCredentialSignature({ kid: pinned.kid, x: pinned.x }, statement, sig)) {
      throw new CliError(
        `the credential of ${id} is signed by issuer key ${sig.kid.slice(0, 64)}, not by the key pinned for ${origin} (${pinned.kid}, first seen ${pinned.pinnedAt}); refusing it. ` +
          `Someone may be impersonating jit, or the issuer's key was rotated: confirm the new key with your operator (GET ${origin}/v1/keys), ` +
          `then delete the "${origin}" entry from ${options.file} (or set JIT_ISSUER_KEY) and retry.`,
      );
    }
    return;
  }
  // First use: take the issuer key the server lists under the id the signature names.
  const listed = (await options.api.keys()).keys.find((k) => k.kid === sig.kid && (k.roles ?? []).includes('issuer') && typeof k.x === 'string');
  let key: PublicSigningKey | undefined;
  try {
    key = listed ? parsePublicKey(listed.x!) : undefined;
  } catch {
    key = undefined;
  }
  if (!key || key.kid !== sig.kid || !verifyCredentialSignature(key, statement, sig)) {
    throw new CliError(`the credential of ${id} is not signed by an issuer key ${origin} lists at /v1/keys; refusing it`);
  }
  pins[origin] = { kid: key.kid, x: key.x, pinnedAt: (options.now ?? (() => new Date()))().toISOString() };
  await writePins(options.file, pins);
  options.note(`jit: trusting issuer key ${key.kid} for ${origin} from now on (first use; pinned in ${options.file})`);
}

function originOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return url;
  }
}

async function readPins(file: string): Promise<Record<string, Pin>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file} (${(err as { code?: string }).code ?? 'unreadable'})`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return Object.assign(Object.create(null) as Record<string, Pin>, parsed as Record<string, Pin>);
  } catch {
    throw new CliError(`${file} is not a JSON object of pinned issuer keys; fix or delete it`);
  }
}

async function writePins(file: string, pins: Record<string, Pin>): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(pins, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
}
