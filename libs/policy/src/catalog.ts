// The catalog: every allowed (target, scope) with its tier, TTL ceiling, required approvals and
// eligible approvers, so a human or an agent can discover what it may ask for.
import { resolveApprovers, type GroupResolver } from './approvers';
import type { PolicyModel } from './model';

export interface CatalogEntry {
  target: string;
  substrate: string;
  scope: string;
  tier: string;
  ttlMaxSeconds: number;
  requiredApprovals: number;
  requireRollbackPlan: boolean;
  approvers: { anyHuman: boolean; groups: string[]; users: string[] };
  /** Groups resolved to users, agents and bots removed (the author is removed per request). */
  eligibleApprovers: string[];
}

export interface Catalog {
  version: string;
  tiers: Array<{ name: string; rank: number; ttlMaxSeconds: number; approvals: number; requireRollbackPlan: boolean }>;
  breakGlass?: {
    ttlMaxSeconds: number;
    approvals: number;
    reviewWithinSeconds?: number;
    eligibleApprovers: string[];
    /** Who may request break-glass (humans only; agents and bots removed). Empty = nobody. */
    requesters: string[];
    /** The merger must be a human other than the requester, whatever `approvals` says. */
    mergerMustDiffer: true;
  };
  agents: string[];
  /** Usernames with an age public key registered under `recipients:` (the keys themselves are not listed). */
  recipientUsers: string[];
  entries: CatalogEntry[];
}

export async function buildCatalog(policy: PolicyModel, version: string, resolveGroup: GroupResolver): Promise<Catalog> {
  const exclude = { agents: policy.agents };
  const cache = new Map<string, Promise<{ anyHuman: boolean; usernames: string[] }>>();
  const resolved = (tierName: string) => {
    let p = cache.get(tierName);
    if (!p) {
      const tier = policy.tiers.find((t) => t.name === tierName)!;
      p = resolveApprovers(tier.approvers, resolveGroup, exclude);
      cache.set(tierName, p);
    }
    return p;
  };
  const entries: CatalogEntry[] = [];
  for (const target of Object.values(policy.targets)) {
    for (const scope of Object.values(target.scopes)) {
      const tier = policy.tiers.find((t) => t.name === scope.tier);
      if (!tier) continue;
      entries.push({
        target: target.name,
        substrate: target.substrate,
        scope: scope.name,
        tier: tier.name,
        ttlMaxSeconds: tier.ttlMaxSeconds,
        requiredApprovals: tier.approvals,
        requireRollbackPlan: tier.requireRollbackPlan,
        approvers: { anyHuman: tier.approvers.anyHuman, groups: [...tier.approvers.groups], users: [...tier.approvers.users] },
        eligibleApprovers: (await resolved(tier.name)).usernames,
      });
    }
  }
  entries.sort((a, b) => a.target.localeCompare(b.target) || a.scope.localeCompare(b.scope));
  const bg = policy.breakGlass;
  return {
    version,
    tiers: policy.tiers.map((t) => ({
      name: t.name,
      rank: t.rank,
      ttlMaxSeconds: t.ttlMaxSeconds,
      approvals: t.approvals,
      requireRollbackPlan: t.requireRollbackPlan,
    })),
    ...(bg
      ? {
          breakGlass: {
            ttlMaxSeconds: bg.ttlMaxSeconds,
            approvals: bg.approvals,
            ...(bg.reviewWithinSeconds ? { reviewWithinSeconds: bg.reviewWithinSeconds } : {}),
            eligibleApprovers: (await resolveApprovers(bg.approvers, resolveGroup, exclude)).usernames,
            requesters: (await resolveApprovers({ anyHuman: false, ...bg.requesters }, resolveGroup, exclude)).usernames,
            mergerMustDiffer: true as const,
          },
        }
      : {}),
    agents: [...policy.agents],
    recipientUsers: Object.keys(policy.recipients ?? {}).sort(),
    entries,
  };
}
