// What the policy audit and the sweep report about the adapter's setup: scopes that outlive the
// TTL or escape the guard (checkTtl), SourceIdentity off, missing roles and roles whose IAM quotas
// are nearly used up (further issues on them will be refused).
import type { Finding } from '@jit/substrates';
import { isGone } from './aws-error';
import { QUOTA_WARN_RATIO, STS_MIN_DURATION_SECONDS, type RoleQuotaUsage } from './config';
import type { AwsStsEnv } from './role-iam';
import { awsStsScopeSchema, parseRoleArn, scopePolicyDocument, validateAwsStsScope } from './scope';
import { escapeFindings } from './session-guard';
import { roleQuotaUsage } from './sweep';

/** Warnings when a role's IAM quotas are nearly used up: further issues on it will be refused. */
export function quotaFindings(u: RoleQuotaUsage): Finding[] {
  const out: Finding[] = [];
  if (u.tags >= QUOTA_WARN_RATIO * u.tagLimit) {
    out.push({
      severity: 'warning',
      message: `role ${u.roleName} carries ${u.tags} of ${u.tagLimit} IAM tags (jit keeps one per grant until its sessions expire); new grants on it will be refused at ${u.tagLimit}`,
    });
  }
  const chars = u.inlineChars + u.managedChars + u.reservedChars + u.headroomChars;
  if (chars >= QUOTA_WARN_RATIO * (u.inlineLimit + u.managedLimit)) {
    out.push({
      severity: 'warning',
      message: `role ${u.roleName} uses ${u.inlineChars} of ${u.inlineLimit} characters of inline policy and ${u.managedChars} of ${u.managedLimit} in jit's managed deny policies (${u.attachedPolicies} of ${u.attachedLimit} attached), and the revoke of its ${u.liveGrants} live grant(s) reserves ${u.reservedChars} more; new grants on it will be refused when no room is left to revoke them`,
    });
  }
  return out;
}

/** Quota use of a role, or undefined when the role no longer exists. */
export async function usageIfRoleExists(env: AwsStsEnv, roleArn: string): Promise<RoleQuotaUsage | undefined> {
  return roleQuotaUsage(env, roleArn).catch((err: unknown) => {
    if (isGone(err)) return undefined;
    throw err;
  });
}

export function checkScopeTtl(scope: unknown, ceilingSeconds: number): Finding[] {
  const problems = validateAwsStsScope(scope);
  if (problems.length > 0) return [{ severity: 'error', message: `scope is not usable: ${problems.map((p) => `${p.path || '(scope)'}: ${p.message}`).join('; ')}` }];
  const parsed = awsStsScopeSchema.parse(scope);
  const { roleName } = parseRoleArn(parsed.roleArn) as { roleName: string };
  const findings: Finding[] = escapeFindings(scopePolicyDocument(parsed), `session policy for role ${roleName}`);
  if (ceilingSeconds < STS_MIN_DURATION_SECONDS) {
    findings.push({
      severity: 'info',
      message: `STS sessions on role ${roleName} last at least ${STS_MIN_DURATION_SECONDS} s, longer than the tier ceiling of ${ceilingSeconds} s: only jit's revoke deny ends them at the TTL`,
    });
  }
  return findings;
}

export async function checkAdapterSetup(env: AwsStsEnv): Promise<Finding[]> {
  const findings: Finding[] = [];
  if (!env.config.sourceIdentity) {
    findings.push({
      severity: 'warning',
      message: `sourceIdentity is off: sessions carry no per-grant SourceIdentity, so a session chained from a jit session (should one get past the session guard) is not matched by the revoke deny`,
    });
  }
  // IAM quotas of every configured role: near full, further issues on it will be refused.
  for (const roleArn of env.configuredRoles) {
    const usage = await usageIfRoleExists(env, roleArn);
    if (!usage) findings.push({ severity: 'error', message: `role ${parseRoleArn(roleArn)?.roleName} in the instance's roles does not exist` });
    else findings.push(...quotaFindings(usage));
  }
  return findings;
}
