// The issuer's TargetResolver: the target and scope exactly as the ratified policy version the gate
// approved against has them (read at the commit its ratification names: never whatever policy.yaml
// the merge commit carries, which anyone who can push may have rewritten). Secret
// references in `connection` are resolved from this process's environment or files (`file:` is read
// at each issue, so a rotated secret is what the next issue uses; never logged).
// Every policy version it loads is audited in the background (policy-audit.ts): the substrates'
// safety checks run in a deployment, and an issue on a scope with a known backstop problem is
// logged with its grant id — never blocked, never slowed.
import { retryRetriable } from '@jit/errors';
import type { ResolvedTarget, TargetResolver } from '@jit/issuer';
import type { Logger } from '@jit/observability';
import type { LoadedPolicy, PolicyStore } from '@jit/policy';
import { resolveConnectionRefs, secretRefLookup } from '@jit/substrates';
import type { Registry } from 'prom-client';
import { createPolicyAudit, type PolicyAuditResult, type SubstrateLookup } from './policy-audit';
import { linkedSubstrates } from './substrate-link';

export interface PolicyTargetResolverOptions {
  policyStore: Pick<PolicyStore, 'atVersion'>;
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Attempts for a retriable policy read (GitLab briefly unreachable). Default 3. */
  attempts?: number;
  baseMs?: number;
  /**
   * The instances the audit checks. Default: the registry `createSubstrates` built with this same
   * `logger` (so the apps need not pass it twice).
   */
  substrates?: SubstrateLookup;
  /** Registry for `jit_substrate_findings`; without one the audit only logs. */
  registry?: Registry;
  /** The background policy audit: its per-check timeout, or `false` to switch it off. */
  audit?: { checkTimeoutMs?: number; repeatEveryMs?: number } | false;
}

/** What the resolver is asked; `grantId`/`elevationId` (optional) name the issue in the issue-time warning. */
export interface ResolveInput {
  target: string;
  scope: string;
  policyVersion: string;
  mergeSha: string;
  grantId?: string;
  elevationId?: string;
}

export interface PolicyTargetResolver extends TargetResolver {
  resolve(input: ResolveInput): Promise<ResolvedTarget | undefined>;
  /** Audit a policy version now (e.g. the gate's refreshed policy) instead of at its first issue. Never throws, never waits. */
  auditPolicy(loaded: LoadedPolicy): void;
  /** The last completed policy audit (findings of the substrates' safety checks), for /readyz or a CLI. */
  lastAudit(): PolicyAuditResult | undefined;
  /** Resolves once no audit is queued or running. */
  auditIdle(): Promise<void>;
  /** Stops the background audit. */
  close(): void;
}

export function createPolicyTargetResolver(options: PolicyTargetResolverOptions): PolicyTargetResolver {
  const { policyStore, logger } = options;
  const attempts = options.attempts ?? 3;
  const baseMs = options.baseMs ?? 500;
  const lookup = secretRefLookup(options.env);
  const audit =
    options.audit === false
      ? undefined
      : createPolicyAudit({
          substrates: () => options.substrates ?? linkedSubstrates(logger),
          logger,
          ...(options.registry ? { registry: options.registry } : {}),
          ...(options.audit?.checkTimeoutMs ? { checkTimeoutMs: options.audit.checkTimeoutMs } : {}),
          ...(options.audit?.repeatEveryMs !== undefined ? { repeatEveryMs: options.audit.repeatEveryMs } : {}),
        });

  const atVersion = (version: string) => retryRetriable(() => policyStore.atVersion(version), { maxAttempts: attempts, baseMs, maxMs: Infinity, timeoutMs: Infinity });

  /** Backstop problems an earlier audit of this version found for this scope: logged, never blocking. */
  const warnKnown = (input: ResolveInput, version: string, substrate: string): void => {
    const known = audit?.resultFor(version)?.findings.filter((f) => f.check === 'ttl' && f.severity === 'warning' && f.target === input.target && f.scope === input.scope);
    for (const f of known ?? []) {
      logger.warn(
        {
          ...(input.grantId ? { grantId: input.grantId } : {}),
          ...(input.elevationId ? { elevationId: input.elevationId } : {}),
          mergeSha: input.mergeSha,
          target: input.target,
          scope: input.scope,
          substrate,
          policyVersion: version,
          check: f.check,
        },
        `issuing on a scope whose backend expiry outlives the tier ceiling (jit still revokes at the grant's TTL; the backend's backstop is later): ${f.message}`,
      );
    }
  };

  return {
    async resolve(input): Promise<ResolvedTarget | undefined> {
      const { target, scope, policyVersion, mergeSha } = input;
      const loaded = await atVersion(policyVersion);
      audit?.schedule(loaded);
      if (loaded.version !== policyVersion) {
        logger.warn({ target, scope, mergeSha, approvedVersion: policyVersion, versionRead: loaded.version }, 'the ratified policy read is not the version approved against; refusing');
        return undefined;
      }
      const t = loaded.policy.targets[target];
      const s = t?.scopes[scope];
      if (!t || !s) return undefined;
      // `tier` is policy metadata, not a substrate setting (the gate validates the scope without it).
      const { tier: _tier, ...substrateScope } = s.raw;
      const resolved = {
        substrate: t.substrate,
        scope: substrateScope,
        connection: resolveConnectionRefs(target, t.connection, lookup),
        recipients: loaded.policy.recipients,
      };
      warnKnown(input, loaded.version, t.substrate);
      return resolved;
    },
    auditPolicy: (loaded) => audit?.schedule(loaded),
    lastAudit: () => audit?.lastAudit(),
    auditIdle: async () => audit?.idle(),
    close: () => audit?.close(),
  };
}
