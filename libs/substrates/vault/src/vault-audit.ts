// The policy audit's checks (libs/substrates/wiring createPolicyAudit) and what issue refuses with:
// what a scope's policies would let the grantee do to jit itself (policy-reach.ts), the token role's
// settings (orphan, allowed policies), jit's own token's entity, a database role's max_ttl and
// revocation statements.
import type { Finding } from '@jit/substrates';
import { reachIntoJit } from './policy-reach';
import { revocationGaps } from './revocation-statements';
import { isVaultError } from './vault-answers';
import type { VaultScope } from './vault-config';
import { scopeProblems } from './vault-scope';
import type { VaultContext } from './vault-session';

export function vaultAudit(ctx: VaultContext) {
  const { name, config, client, fail, call, mount, deployment } = ctx;
  const readPolicy = async (policy: string): Promise<string | undefined> => {
    try {
      const d = (await client.read(`sys/policies/acl/${policy}`))?.data ?? {};
      return String(d.policy ?? d.rules ?? '');
    } catch (err) {
      if (isVaultError(err, 404)) return undefined;
      throw fail('read policy', err);
    }
  };
  /** What the scope's policies would let the grantee do to jit itself (policy-reach.ts), one line per rule. */
  const reachOf = async (policies: string[]): Promise<string[]> => {
    const out: string[] = [];
    for (const p of policies) {
      const text = await readPolicy(p);
      for (const r of text ? reachIntoJit(text, { tokenRole: config.tokenRole, indexMount: config.indexMount, deployment }) : []) {
        out.push(`policy ${p} rule "${r.rule.slice(0, 120)}" lets the grantee ${r.what}`);
      }
    }
    return out;
  };

  /** The token role's settings; undefined when it does not exist. */
  const readRole = async (): Promise<Record<string, unknown> | undefined> => {
    try {
      return (await client.read(`auth/token/roles/${config.tokenRole}`))?.data ?? {};
    } catch (err) {
      if (isVaultError(err, 404)) return undefined;
      throw fail('read token role', err);
    }
  };
  const roleMissing = (): Finding => ({
    severity: 'error',
    message: `${name}: token role ${config.tokenRole} does not exist; create auth/token/roles/${config.tokenRole} with orphan=true and allowed_policies listing the scopes' policies and ${config.carrierPolicies.join(', ')}`,
  });

  /** Policies the role would refuse (exact names only; globs are reported by checkSetup). */
  const notAllowed = (role: Record<string, unknown>, policies: string[]): string[] => {
    const allowed = Array.isArray(role.allowed_policies) ? role.allowed_policies.map(String) : [];
    return allowed.length === 0 ? [] : policies.filter((p) => !allowed.includes(p));
  };

  async function checkSetup(): Promise<Finding[]> {
    const findings: Finding[] = [];
    const self = (await call('lookup self', () => client.read('auth/token/lookup-self')))?.data ?? {};
    const entity = typeof self.entity_id === 'string' ? self.entity_id : '';
    const role = await readRole();
    if (entity) {
      const identityPolicies: string[] = Array.isArray(self.identity_policies) ? self.identity_policies.map(String) : [];
      findings.push({
        severity: 'warning',
        message:
          `${name}: jit's admin token belongs to identity entity ${entity}${identityPolicies.length ? ` (identity policies ${identityPolicies.join(', ')})` : ''}; ` +
          `a child of it would inherit that entity and its policies and Vault's audit log would name jit for the grantee. Tokens are issued through token role ${config.tokenRole}, which must stay orphan=true` +
          (role && role.orphan === true ? ' (it is)' : ' (it is not)'),
      });
    }
    if (!role) return [...findings, roleMissing()];
    if (role.orphan !== true) {
      findings.push({
        severity: 'error',
        message: `${name}: token role ${config.tokenRole} has orphan=false: every token would be a child of jit's admin token (its entity, identity policies, and revoked with it); jit refuses such tokens. Set orphan=true`,
      });
    }
    const globs = Array.isArray(role.allowed_policies_glob) ? role.allowed_policies_glob : [];
    const allowed = Array.isArray(role.allowed_policies) ? role.allowed_policies : [];
    if (allowed.length === 0 && globs.length === 0) {
      findings.push({
        severity: 'warning',
        message: `${name}: token role ${config.tokenRole} sets no allowed_policies: its tokens may carry any policy of jit's admin token; list the scopes' policies there`,
      });
    } else if (globs.length > 0) {
      findings.push({
        severity: 'warning',
        message: `${name}: token role ${config.tokenRole} allows policy globs (${globs.map(String).join(', ').slice(0, 200)}); prefer exact names in allowed_policies`,
      });
    }
    if (findings.length === 0) findings.push({ severity: 'info', message: `${name}: token role ${config.tokenRole} issues orphans; jit's admin token has no entity` });
    return findings;
  }

  async function checkTtl(scope: unknown, ceilingSeconds: number): Promise<Finding[]> {
    const problems = scopeProblems(scope);
    if (problems.length) return problems.map((p) => ({ severity: 'error', message: `${p.path} ${p.message}` }));
    const s = scope as VaultScope;
    const role = await readRole();
    if (!role) return [roleMissing()];
    const refused = notAllowed(role, s.mode === 'token' ? s.policies : config.carrierPolicies);
    if (refused.length > 0) {
      return [{ severity: 'error', message: `${name}: token role ${config.tokenRole} does not allow ${refused.join(', ')}; add them to its allowed_policies or no grant of this scope can be issued` }];
    }
    if (s.mode === 'database') {
      let d: any;
      try {
        d = (await client.read(`${mount}/roles/${s.role}`))?.data ?? {};
      } catch (err) {
        if (isVaultError(err, 404)) return [{ severity: 'error', message: `${name}: database role ${s.role} does not exist under ${mount}/roles` }];
        throw fail('read database role', err);
      }
      const maxTtl = Number(d.max_ttl) || 0;
      const gaps = revocationGaps(d.revocation_statements);
      const revocation: Finding[] = gaps.length
        ? [{ severity: 'warning', message: `${name}: database role ${s.role}'s revocation statements ${gaps.join('; and ')} (see POSTGRES_REVOCATION_STATEMENTS)` }]
        : [];
      if (maxTtl === 0 || maxTtl > ceilingSeconds) {
        return [
          ...revocation,
          {
            severity: 'warning',
            message: `${name}: database role ${s.role} has max_ttl ${maxTtl === 0 ? 'unset (the mount/system default applies)' : `${maxTtl}s`} above the tier ceiling ${ceilingSeconds}s; jit's carrier token still ends the lease at the grant's TTL, but set max_ttl <= ${ceilingSeconds}s so Vault's own backstop matches`,
          },
        ];
      }
      return [...revocation, { severity: 'info', message: `${name}: database role ${s.role} max_ttl ${maxTtl}s is within the ceiling ${ceilingSeconds}s` }];
    }
    const findings: Finding[] = [];
    for (const p of s.policies) {
      const text = await readPolicy(p);
      if (text === undefined) findings.push({ severity: 'error', message: `${name}: policy ${p} does not exist` });
    }
    for (const r of await reachOf(s.policies)) findings.push({ severity: 'error', message: `${name}: ${r}; jit refuses to issue this scope` });
    return findings;
  }

  return { reachOf, checkSetup, checkTtl };
}
