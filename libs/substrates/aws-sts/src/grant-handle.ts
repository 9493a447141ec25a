// The revocation handle of an STS grant: what `issue` hands out (no secret) and what revoke,
// verify and the sweep accept back — only handles of this instance's roles, naming this grant's session.
import { z } from 'zod';
import { SubstrateInvalidHandle, type RevocationHandle } from '@jit/substrates';
import { AWS_STS_KIND } from './config';
import { MAX_ATTEMPTS, isSessionBaseName, sessionBaseName } from './grant-names';
import type { LedgerEntry } from './ledger-tag';
import type { AwsStsContext } from './role-iam';
import { parseRoleArn } from './scope';

/** Own handle `ref`, validated: everything revoke needs, nothing secret. */
const handleRefSchema = z.object({
  roleArn: z.string().refine((s) => parseRoleArn(s) !== undefined),
  roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/),
  roleId: z.string().regex(/^AROA[A-Z0-9]{4,60}$/),
  sessionName: z.string().refine(isSessionBaseName),
  sessionExpiresAt: z.string().refine((s) => !Number.isNaN(Date.parse(s))),
});
export type HandleRef = z.infer<typeof handleRefSchema>;

export function checkHandle(ctx: AwsStsContext, handle: RevocationHandle): HandleRef {
  const { name } = ctx;
  if (!handle || typeof handle !== 'object') throw SubstrateInvalidHandle(name, 'not an object');
  if (handle.kind !== AWS_STS_KIND) throw SubstrateInvalidHandle(name, `kind is ${String(handle.kind).slice(0, 40)}, expected ${AWS_STS_KIND}`);
  const parsed = handleRefSchema.safeParse(handle.ref);
  if (!parsed.success) {
    throw SubstrateInvalidHandle(name, `ref fields missing or malformed: ${[...new Set(parsed.error.issues.map((i) => i.path.join('.') || 'ref'))].join(', ')}`);
  }
  const arn = parseRoleArn(parsed.data.roleArn);
  if (arn?.roleName !== parsed.data.roleName) throw SubstrateInvalidHandle(name, 'ref.roleName does not match ref.roleArn');
  // Only act on what this grant created: its session name is derived from its grant id.
  if (typeof handle.grantId !== 'string' || parsed.data.sessionName !== sessionBaseName(handle.grantId)) {
    throw SubstrateInvalidHandle(name, 'ref.sessionName is not the session name of this grant id');
  }
  if (ctx.configuredRoles.size > 0 && !ctx.configuredRoles.has(parsed.data.roleArn)) {
    throw SubstrateInvalidHandle(name, 'ref.roleArn is not one of the roles configured for this instance');
  }
  return parsed.data;
}

export function toHandle(ctx: AwsStsContext, grantId: string, ref: HandleRef & { attempt: number; assumedRoleId: string }, expiresAt: Date): RevocationHandle {
  return {
    kind: AWS_STS_KIND,
    ...(ctx.name !== AWS_STS_KIND ? { instance: ctx.name } : {}),
    grantId,
    ref: { ...ref },
    expiresAt: expiresAt.toISOString(),
  };
}

/** Which attempts a revoke must cover: the highest the ledger or the handle knows of. */
export function revokeAttempts(handle: RevocationHandle, ledger: LedgerEntry | undefined): number {
  const fromHandle = Number(handle.ref.attempt);
  return Math.max(ledger?.attempt ?? 1, Number.isInteger(fromHandle) && fromHandle > 0 && fromHandle <= MAX_ATTEMPTS ? fromHandle : 1);
}
