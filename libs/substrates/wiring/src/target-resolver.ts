// The issuer's TargetResolver: the target and scope exactly as policy.yaml had them at the merge
// commit, refused when that policy is not the version the gate approved against. Secret
// references in `connection` are resolved from this process's environment (never logged).
import { isRetriable } from '@jit/errors';
import type { ResolvedTarget, TargetResolver } from '@jit/issuer';
import type { Logger } from '@jit/observability';
import type { PolicyStore } from '@jit/policy';
import { envRefLookup, resolveConnectionRefs } from '@jit/substrates';

export interface PolicyTargetResolverOptions {
  policyStore: Pick<PolicyStore, 'atRef'>;
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Attempts for a retriable policy read (GitLab briefly unreachable). Default 3. */
  attempts?: number;
  baseMs?: number;
}

export function createPolicyTargetResolver(options: PolicyTargetResolverOptions): TargetResolver {
  const { policyStore, logger } = options;
  const attempts = options.attempts ?? 3;
  const baseMs = options.baseMs ?? 500;
  const lookup = envRefLookup(options.env);

  const atRef = async (ref: string) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await policyStore.atRef(ref);
      } catch (err) {
        if (!isRetriable(err) || attempt >= attempts) throw err;
        await new Promise((r) => setTimeout(r, baseMs * 2 ** (attempt - 1)));
      }
    }
  };

  return {
    async resolve({ target, scope, policyVersion, mergeSha }): Promise<ResolvedTarget | undefined> {
      const loaded = await atRef(mergeSha);
      if (loaded.version !== policyVersion) {
        logger.warn({ target, scope, mergeSha, approvedVersion: policyVersion, versionAtMerge: loaded.version }, 'policy at the merge commit is not the version approved against; refusing');
        return undefined;
      }
      const t = loaded.policy.targets[target];
      const s = t?.scopes[scope];
      if (!t || !s) return undefined;
      // `tier` is policy metadata, not a substrate setting (the gate validates the scope without it).
      const { tier: _tier, ...substrateScope } = s.raw;
      return { substrate: t.substrate, scope: substrateScope, connection: resolveConnectionRefs(target, t.connection, lookup) };
    },
  };
}
