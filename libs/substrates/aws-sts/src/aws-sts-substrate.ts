// AWS STS substrate: AssumeRole for a time-boxed session narrowed by the scope's session policy
// plus jit's guard (no chaining, no new credentials, no IAM writes: session-guard.ts); early revoke
// by an inline Deny on the role for that session's aws:userid and SourceIdentity (STS sessions
// cannot be revoked one by one), removed by cleanupExpiredDenies once the session has expired on
// its own. An issue is refused while the role lacks IAM room for the revoke of every live grant.
// This file composes the instance; README.md says which file owns what.
import type { z } from 'zod';
import { defineSubstrate, reportAuthExpiry, type Problem, type SubstrateDeps } from '@jit/substrates';
import { adapterIdentity, defaultClients } from './adapter-identity';
import { AWS_STS_KIND, STS_MAX_DURATION_SECONDS, awsStsConfigSchema, type AwsStsConfig, type AwsStsExtra, type AwsStsSubstrate } from './config';
import { denyCompaction } from './deny-compaction';
import { issueGrant } from './issue';
import { checkAdapterSetup, checkScopeTtl, quotaFindings, usageIfRoleExists } from './quota-audit';
import { revokeGrant, verifyGrantRevoked } from './revoke';
import { roleIam, type AwsStsContext, type AwsStsEnv } from './role-iam';
import { validateAwsStsScope, type AwsStsScope } from './scope';
import { cleanupExpired, listIssuedGrants, roleQuotaUsage } from './sweep';

/** The scope grammar, plus: a role outside the instance's `roles` (when it lists any) is a problem. */
function awsStsScopeCheck(configuredRoles: ReadonlySet<string>, name: string): (scope: unknown, connection?: unknown) => Problem[] {
  return (scope, connection) => {
    const problems = validateAwsStsScope(scope, connection);
    if (problems.length === 0 && configuredRoles.size > 0) {
      const arn = (scope as AwsStsScope).roleArn;
      if (!configuredRoles.has(arn)) problems.push({ path: 'roleArn', message: `role is not in the roles configured for substrate ${name}` });
    }
    return problems;
  };
}

export function createAwsStsSubstrate(config: AwsStsConfig, deps: SubstrateDeps & Partial<AwsStsExtra>): AwsStsSubstrate {
  const name = deps.name;
  const identity = deps.clients ? undefined : adapterIdentity(config);
  const clients = deps.clients ? deps.clients(config) : defaultClients(config, identity);
  // jit_substrate_auth_expires_seconds: the web identity's (or Pod Identity's) session, refreshed by the SDK
  const unreport = reportAuthExpiry(deps.metrics, name, () => identity?.expiresAt());
  const ctx: AwsStsContext = {
    name,
    config,
    log: deps.logger,
    now: deps.now ?? (() => new Date()),
    clients,
    configuredRoles: new Set(config.roles),
    seenRoles: new Set<string>(config.roles),
    margin: config.expiryMarginSeconds * 1000,
  };
  const iam = roleIam(ctx);
  const env: AwsStsEnv = { ...ctx, iam, ...denyCompaction(ctx, iam) };

  const substrate: AwsStsSubstrate = {
    kind: AWS_STS_KIND,
    name,
    maxTtlSeconds: config.maxTtlSeconds,
    canRevokeEarly: true,
    validateScope: awsStsScopeCheck(ctx.configuredRoles, name),
    issue: (req) => issueGrant(env, req),
    revoke: (handle) => revokeGrant(env, handle),
    verifyRevoked: (handle) => verifyGrantRevoked(env, handle),
    listIssued: () => listIssuedGrants(env),
    async maintain(at: Date): Promise<void> {
      await cleanupExpired(env, at);
      // Warn before IAM's per-role quotas refuse issues (the revokes themselves keep their room).
      for (const roleArn of ctx.seenRoles) {
        const usage = await usageIfRoleExists(env, roleArn);
        for (const f of usage ? quotaFindings(usage) : []) ctx.log.warn({ role: usage?.roleName, ...usage }, f.message);
      }
    },
    cleanupExpiredDenies: (at) => cleanupExpired(env, at),
    quotaUsage: (roleArn) => roleQuotaUsage(env, roleArn),
    checkTtl: async (scope, ceilingSeconds) => checkScopeTtl(scope, ceilingSeconds),
    checkSetup: () => checkAdapterSetup(env),
    async close(): Promise<void> {
      unreport();
      clients.sts.destroy?.();
      clients.iam.destroy?.();
    },
  };
  return substrate;
}

/** The registration: `registry.register(awsStsSubstrate)`, then `configure('aws-sts:prod', {...})`. */
export const awsStsSubstrate = defineSubstrate<AwsStsConfig, AwsStsExtra>({
  kind: AWS_STS_KIND,
  configSchema: awsStsConfigSchema as unknown as z.ZodType<AwsStsConfig>,
  facts: (c) => ({ validateScope: awsStsScopeCheck(new Set(c.roles ?? []), AWS_STS_KIND), maxTtlSeconds: c.maxTtlSeconds ?? STS_MAX_DURATION_SECONDS }),
  create: createAwsStsSubstrate,
});
