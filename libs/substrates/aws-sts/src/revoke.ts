// Revoke: STS cannot end one session, so an inline Deny on the role for the grant's aws:userid and
// SourceIdentity ends every session of it (deny-policy.ts); the ledger marks the grant revoked and
// housekeeping folds the deny into a shard. verifyRevoked checks that deny is on the role.
import { JitError } from '@jit/errors';
import type { RevocationHandle, VerifyResult } from '@jit/substrates';
import { errName, isGone } from './aws-error';
import { denyDocument, readDenyDocument } from './deny-policy';
import { AwsStsIamLimit } from './errors';
import { checkHandle, revokeAttempts } from './grant-handle';
import type { LedgerEntry } from './ledger-tag';
import { covers, entriesOfRevokeDocument } from './revoked-shard';
import type { AwsStsEnv } from './role-iam';

export async function revokeGrant(env: AwsStsEnv, handle: RevocationHandle): Promise<void> {
  const { iam, log } = env;
  const ref = checkHandle(env, handle);
  let ledger: LedgerEntry | undefined;
  try {
    ledger = (await iam.readLedger(ref.roleName)).get(ref.sessionName);
  } catch (err) {
    // A deleted role takes every session's permissions with it: gone = success.
    if (isGone(err)) {
      log.info({ grantId: handle.grantId, role: ref.roleName }, 'role is gone; nothing to revoke');
      return;
    }
    throw err;
  }
  env.seenRoles.add(ref.roleArn);
  const until = new Date(Math.max(Date.parse(ref.sessionExpiresAt), ledger?.sessionExpiresAt.getTime() ?? 0));
  const attempts = revokeAttempts(handle, ledger);
  if (until.getTime() > env.now().getTime()) {
    const doc = denyDocument('revoke', iam.denyTarget(handle.grantId, ref.sessionName, attempts), until);
    try {
      await iam.putDeny(ref.roleName, ref.sessionName, doc);
    } catch (err) {
      // Issue keeps room for this revoke; should it be gone anyway (a repeat revoke, policies added
      // by hand), expired denies are removed and the others compacted, then it is tried once more.
      if (!(err instanceof JitError) || err.code !== AwsStsIamLimit.code) throw err;
      await env.cleanupRole(ref.roleName, env.now().getTime(), true);
      await iam.putDeny(ref.roleName, ref.sessionName, doc);
    }
  }
  try {
    await iam.writeLedger(ref.roleName, ref.sessionName, {
      grantId: ledger?.grantId ?? handle.grantId,
      attempt: attempts,
      expiresAt: ledger?.expiresAt ?? new Date(Date.parse(handle.expiresAt) || env.now().getTime()),
      sessionExpiresAt: until,
      state: 'revoked',
    });
  } catch (err) {
    // Revoked before it was issued, on a role without tag room: the deny alone refuses the late issue.
    if (ledger || !(err instanceof JitError) || err.code !== AwsStsIamLimit.code) throw err;
    log.warn({ grantId: handle.grantId, role: ref.roleName }, 'no tag room for the ledger entry of a grant revoked before issue; its deny stands');
  }
  log.info({ grantId: handle.grantId, role: ref.roleName, until: until.toISOString() }, 'sts sessions denied');
  // The deny is in place; folding it into a shard now keeps the role's quota free for the next ones.
  await env
    .cleanupRole(ref.roleName, env.now().getTime())
    .catch((err: unknown) => log.warn({ role: ref.roleName, err: err instanceof JitError ? err.code : errName(err) }, 'compacting deny policies after a revoke failed; the sweep retries'));
}

export async function verifyGrantRevoked(env: AwsStsEnv, handle: RevocationHandle): Promise<VerifyResult> {
  const { iam } = env;
  const ref = checkHandle(env, handle);
  const t = env.now().getTime();
  const ledger = await iam.readLedger(ref.roleName).catch((err: unknown) => {
    if (isGone(err)) return undefined;
    throw err;
  });
  if (!ledger) return { verified: true, detail: `role ${ref.roleName} no longer exists` };
  const natural = Math.max(Date.parse(ref.sessionExpiresAt), ledger.get(ref.sessionName)?.sessionExpiresAt.getTime() ?? 0);
  if (natural <= t) return { verified: true, detail: 'every session of the grant has expired on its own' };
  const doc = await iam.readDeny(ref.roleName, ref.sessionName);
  const info = readDenyDocument(doc);
  const target = iam.denyTarget(handle.grantId, ref.sessionName, revokeAttempts(handle, ledger.get(ref.sessionName)));
  if (doc === undefined) {
    // folded into a compacted shard?
    const want = entriesOfRevokeDocument(denyDocument('revoke', target, new Date(natural)));
    if (covers(iam.shardEntries(await iam.readDocs(ref.roleName)), want))
      return { verified: true, detail: 'the deny entries are present in a compacted jit deny policy on the role (IAM evaluation itself is not probed)' };
  }
  if (info?.kind !== 'revoke') return { verified: false, detail: 'no revoke deny policy on the role' };
  const expected = denyDocument('revoke', target, info.until);
  if (JSON.stringify(doc) !== JSON.stringify(expected)) return { verified: false, detail: 'the deny policy on the role was altered' };
  if (info.until.getTime() < natural) return { verified: false, detail: 'the deny policy ends before the sessions do' };
  return { verified: true, detail: 'exact deny policy present on the role (IAM evaluation itself is not probed)' };
}
