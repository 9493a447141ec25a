// The fields elevation events are made of: ids (elevation `gl-<project_id>-<mr_iid>`, grant), names,
// shas, times, age recipients and sealed credentials, revocation handles, leftovers, errors and
// problems. event-data.ts builds each event's data schema from them.
import { z } from 'zod';
import { AGE_RECIPIENT_RE, isAgeRecipient } from './age-recipient';
import { ELEVATION_ID_RE } from './topics';

/** Longest TTL any elevation may carry: 30 days. */
export const MAX_TTL_SECONDS = 30 * 24 * 3600;

const GRANT_ID_RE = /^gl-[0-9]+-[0-9]+-[A-Za-z0-9]{1,64}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const SHA_RE = /^[0-9a-f]{7,64}$/;
export const SHA256_RE = /^[0-9a-f]{64}$/;
const AGE_ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const AGE_ARMOR_END = '-----END AGE ENCRYPTED FILE-----';

export const elevationIdS = z.string().regex(ELEVATION_ID_RE, 'must be an elevation id gl-<project_id>-<mr_iid>');
export const grantIdS = z.string().regex(GRANT_ID_RE, 'must be a grant id gl-<project_id>-<mr_iid>-<merge_sha>');
export const nameS = z.string().regex(NAME_RE, 'must be a name of letters, digits, . _ - (max 63)');
export const usernameS = z.string().min(1).max(255);
export const positiveIntS = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const shaS = z.string().regex(SHA_RE, 'must be a lower-case hex commit sha');
/** An age X25519 recipient (the public key a credential is sealed to). */
export const ageRecipientSchema = z
  .string()
  .regex(AGE_RECIPIENT_RE, 'must be an age X25519 recipient (age1 + 58 bech32 characters)')
  .refine(isAgeRecipient, { message: 'must be an age X25519 recipient (age1 + 58 bech32 characters, valid checksum)' });
export const recipientS = ageRecipientSchema;
export const timeS = z.iso.datetime({ offset: true });
export const textS = (max: number) => z.string().max(max);

/** Secret-free data needed to revoke an issued credential (mirrors @jit/substrates RevocationHandle). */
export const revocationHandleSchema = z.object({
  kind: nameS,
  instance: z.string().min(1).max(128).optional(),
  grantId: grantIdS,
  ref: z.record(z.string().max(128), z.union([z.string().max(2048), z.number(), z.boolean()])),
  expiresAt: timeS,
});
export type RevocationHandleData = z.infer<typeof revocationHandleSchema>;

/** Something a revoked grantee left behind that could act with another role's rights, and what revoke did (mirrors @jit/substrates LeftoverObject). */
export const leftoverObjectSchema = z.object({
  kind: z.string().min(1).max(64),
  name: textS(512).min(1),
  action: z.enum(['dropped', 'kept']),
  note: textS(500).optional(),
});
export type LeftoverObjectData = z.infer<typeof leftoverObjectSchema>;
export const leftoversS = z.array(leftoverObjectSchema).max(200);

export const eventErrorSchema = z.object({
  code: z.string().min(1).max(128),
  message: textS(2000),
  retriable: z.boolean(),
});
export type EventError = z.infer<typeof eventErrorSchema>;

export const eventProblemSchema = z.object({
  path: textS(512),
  message: textS(2000),
  line: positiveIntS.optional(),
  column: positiveIntS.optional(),
});

export const sealedCredentialS = z
  .string()
  .max(256 * 1024)
  .refine((s) => s.trimStart().startsWith(AGE_ARMOR_BEGIN) && s.trimEnd().endsWith(AGE_ARMOR_END), {
    message: 'must be an ASCII-armored age ciphertext (never a plaintext credential)',
  });
