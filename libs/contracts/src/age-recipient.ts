// Validates age X25519 recipients (`age1…`): the shape by pattern, the bech32 checksum by age-encryption itself.
import { Encrypter } from 'age-encryption';

/** age X25519 recipient: bech32, HRP `age`, 52 data chars + 6 checksum chars, lower case. */
export const AGE_RECIPIENT_RE = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/;

/** True when `s` is a well-formed age X25519 recipient with a valid bech32 checksum. */
export function isAgeRecipient(s: unknown): s is string {
  if (typeof s !== 'string' || !AGE_RECIPIENT_RE.test(s)) return false;
  try {
    new Encrypter().addRecipient(s);
    return true;
  } catch {
    return false;
  }
}
