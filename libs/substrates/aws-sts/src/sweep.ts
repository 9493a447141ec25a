// The revoker's side of the adapter over every swept role: the orphan sweep's view of live grants
// (listIssued, from the ledger tags), housekeeping of expired denies and tags, and quota use.
import { GetRoleCommand, type GetRoleCommandOutput } from '@aws-sdk/client-iam';
import { SubstrateRejected, type RevocationHandle } from '@jit/substrates';
import { isGone, isNoSuchEntity } from './aws-error';
import type { CleanupResult, RoleQuotaUsage } from './config';
import { toHandle } from './grant-handle';
import { isSessionBaseName, sessionName } from './grant-names';
import type { AwsStsEnv } from './role-iam';
import { parseRoleArn } from './scope';

export async function listIssuedGrants(env: AwsStsEnv): Promise<RevocationHandle[]> {
  const { iam, clients } = env;
  const t = env.now().getTime();
  const out: RevocationHandle[] = [];
  for (const roleArn of env.seenRoles) {
    const { roleName } = parseRoleArn(roleArn) as { roleName: string };
    let role: GetRoleCommandOutput;
    try {
      role = (await clients.iam.send(new GetRoleCommand({ RoleName: roleName }))) as GetRoleCommandOutput;
    } catch (err) {
      if (isNoSuchEntity(err)) continue;
      throw iam.fail('get role', err, roleName);
    }
    const roleId = role.Role?.RoleId;
    if (!roleId) continue;
    for (const [base, e] of await iam.readLedger(roleName)) {
      if (e.state !== 'issued' || e.sessionExpiresAt.getTime() <= t || !isSessionBaseName(base)) continue;
      out.push(
        toHandle(
          env,
          e.grantId,
          { roleArn, roleName, roleId, sessionName: base, sessionExpiresAt: e.sessionExpiresAt.toISOString(), attempt: e.attempt, assumedRoleId: `${roleId}:${sessionName(base, e.attempt)}` },
          e.expiresAt,
        ),
      );
    }
  }
  return out;
}

export async function cleanupExpired(env: AwsStsEnv, at?: Date): Promise<CleanupResult> {
  const t = (at ?? env.now()).getTime();
  const result: CleanupResult = { removedDenies: [], removedLedgerEntries: 0, compactedDenies: 0 };
  for (const roleArn of env.seenRoles) {
    const { roleName } = parseRoleArn(roleArn) as { roleName: string };
    const one = await env.cleanupRole(roleName, t);
    // managed shards a crash left unattached (between create and attach, or detach and delete) deny nothing: delete them
    if (env.iam.managedState.enabled && !env.iam.managedState.denied) {
      const orphans = await env.iam.managed.sweepOrphans(roleName, t).catch((err: unknown) => {
        if (isGone(err)) return 0;
        throw err;
      });
      if (orphans > 0) env.log.info({ role: roleName, orphans }, 'unattached jit deny policies deleted');
    }
    result.removedDenies.push(...one.removedDenies);
    result.removedLedgerEntries += one.removedLedgerEntries;
    result.compactedDenies += one.compactedDenies;
  }
  if (result.removedDenies.length + result.removedLedgerEntries + result.compactedDenies > 0) env.log.info(result, 'expired sts denies cleaned up');
  return result;
}

export async function roleQuotaUsage(env: AwsStsEnv, roleArn: string): Promise<RoleQuotaUsage> {
  const parsed = parseRoleArn(roleArn);
  if (!parsed) throw SubstrateRejected(env.name, 'quotaUsage needs an IAM role ARN');
  return env.iam.usageOf(parsed.roleName, await env.iam.readTags(parsed.roleName), await env.iam.readDocs(parsed.roleName), env.now().getTime());
}
