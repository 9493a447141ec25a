// Sealing: the credential is encrypted to the requester's age X25519 recipient inside the
// issuer's memory; only the ASCII-armored ciphertext ever leaves this module.
import { Decrypter, Encrypter, armor, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { SealFailed } from './errors';

/** Encrypts `secret` (a flat map of credential fields) to `recipient`; returns armored ciphertext. */
export async function sealCredential(secret: Record<string, string>, recipient: string): Promise<string> {
  try {
    const encrypter = new Encrypter();
    encrypter.addRecipient(recipient);
    return armor.encode(await encrypter.encrypt(JSON.stringify(secret)));
  } catch (err) {
    // The recipient is public; the error text of age never contains the plaintext.
    throw SealFailed(err instanceof Error ? err.message : 'unknown error');
  }
}

/** Decrypts an armored credential with an age identity (AGE-SECRET-KEY-1…). Used by the CLI. */
export async function openCredential(sealed: string, identity: string): Promise<Record<string, string>> {
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity.trim());
  const text = await decrypter.decrypt(armor.decode(sealed.trim()), 'text');
  const parsed: unknown = JSON.parse(text);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('sealed credential is not an object');
  return parsed as Record<string, string>;
}

/** A new age X25519 identity and its public recipient. */
export async function generateAgeIdentity(): Promise<{ identity: string; recipient: string }> {
  const identity = await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}
