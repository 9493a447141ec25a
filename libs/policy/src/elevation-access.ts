// Who may read which elevation through the API, under the policy in force (DESIGN.md §6):
// the requester their own; an approver those they are eligible to approve (the gate's own rule:
// approverSpecOf + resolveApprovers + isEligibleApprover, agents and bots never); an auditor
// (policy `auditors:` groups and users) all of them. No policy in force: own elevations only.
// A CI ID token is its user's own view only, never an approver's or an auditor's: it proves that a
// job runs for that user, not that the user wrote the job — any project's pipeline (a fork's MR, a
// scheduled or retried job, code on an unprotected branch) gets one in the name of whoever ran it.
import { LRUCache } from 'lru-cache';
import { approverSpecOf, isEligibleApprover, resolveApprovers, type GroupResolver, type ResolvedMember } from './approvers';
import type { LoadedPolicy, PolicyStore } from './policy-store';

/** What access is decided on: the requester, and the rule its approvals are judged by. */
export interface ElevationFacts {
  requester?: string;
  tier?: string;
  breakGlass?: boolean;
}

/** One caller's view, resolved once per API call. */
export interface ReaderView {
  /** Named under the policy's `auditors:`: sees everything, approver identities included. */
  auditor: boolean;
  sees(elevation: ElevationFacts): boolean;
}

/** The caller as access is decided on: who, whether a bot, and how the call proved it. */
export interface AccessCaller {
  username: string;
  bot: boolean;
  /** How the caller authenticated; `ci-id-token` reads its own elevations only. */
  via?: 'gitlab-token' | 'ci-id-token';
}

export interface ElevationAccess {
  viewOf(caller: AccessCaller): Promise<ReaderView>;
}

export interface ElevationAccessOptions {
  /**
   * The policy in force: a store the gate refreshes (gate, all-in-one), or `ratifiedOnLog(store)`
   * where nothing refreshes one (the issuer).
   */
  store: { peek(): LoadedPolicy | undefined | Promise<LoadedPolicy | undefined> };
  resolveGroup: GroupResolver;
  /** jit's own bot: never an approver (as in the gate). */
  botUsername?: string;
  /**
   * How long one caller's view under one policy version is reused, ms (0: worked out on every
   * call). A new policy version is a new view at once; a group's membership is as fresh as
   * `resolveGroup` makes it, plus this. Default 5000: an authenticated read then costs about what
   * an anonymous one did (bench/auth).
   */
  viewTtlMs?: number;
}

const lc = (s: string | undefined) => s?.toLowerCase();

export function createElevationAccess(options: ElevationAccessOptions): ElevationAccess {
  const viewTtlMs = options.viewTtlMs ?? 5000;
  const views = viewTtlMs > 0 ? new LRUCache<string, ReaderView>({ max: 10_000, ttl: viewTtlMs }) : undefined;
  return {
    async viewOf(caller) {
      const own = (e: ElevationFacts) => lc(e.requester) === lc(caller.username);
      // anything but a personal GitLab token (a CI job's ID token, a kind a later version adds) is
      // the caller's own view: the job's code may be anyone's
      if (caller.via !== undefined && caller.via !== 'gitlab-token') return { auditor: false, sees: own };
      const lp = await options.store.peek();
      if (!lp) return { auditor: false, sees: own };
      const key = `${lp.version}\0${lc(caller.username)}\0${caller.bot}`;
      const cached = views?.get(key);
      if (cached) return cached;
      const view = await viewUnder(lp, caller, own);
      views?.set(key, view);
      return view;
    },
  };

  async function viewUnder(lp: LoadedPolicy, caller: AccessCaller, own: (e: ElevationFacts) => boolean): Promise<ReaderView> {
    const { policy } = lp;
    const others = options.botUsername ? [options.botUsername] : [];
    const auditors = await resolveApprovers({ anyHuman: false, ...policy.auditors }, options.resolveGroup, { agents: [] });
    if (auditors.usernames.some((u) => lc(u) === lc(caller.username))) return { auditor: true, sees: () => true };
    // the rules an elevation can be judged by: each tier, and break-glass
    const rules: ElevationFacts[] = [...policy.tiers.map((t) => ({ tier: t.name, breakGlass: false })), ...(policy.breakGlass ? [{ breakGlass: true }] : [])];
    const eligible = new Set<string>();
    for (const rule of rules) {
      const spec = approverSpecOf(policy, rule)!;
      const resolved = await resolveApprovers(spec, options.resolveGroup, { agents: policy.agents, others });
      if (isEligibleApprover({ username: caller.username, bot: caller.bot }, spec, resolved, { agents: policy.agents, others }).eligible) {
        eligible.add(rule.breakGlass ? '\0breakGlass' : rule.tier!);
      }
    }
    return {
      auditor: false,
      // the requester never approves their own, but always sees it
      sees: (e) => own(e) || eligible.has(e.breakGlass ? '\0breakGlass' : (e.tier ?? '\0none')),
    };
  }
}

/**
 * The version the log ratified last, read at its ratified commit (cached by version in the store):
 * the policy in force for a process that folds the log but never refreshes its store from the
 * default branch (the issuer). Nothing ratified yet: undefined (callers see their own only).
 */
export function ratifiedOnLog(store: Pick<PolicyStore, 'trust' | 'atVersion'>): ElevationAccessOptions['store'] {
  return {
    async peek() {
      const r = store.trust.current();
      return r ? store.atVersion(r.version) : undefined;
    },
  };
}

/**
 * A group resolver that remembers each group's members for `ttlMs` (lru-cache), so checking a
 * caller's access on every API call does not ask GitLab every time. Failures are not remembered.
 */
export function cachedGroupResolver(inner: GroupResolver, opts: { ttlMs: number; max?: number }): GroupResolver {
  const cache = new LRUCache<string, ResolvedMember[]>({ max: opts.max ?? 1000, ttl: Math.max(1, opts.ttlMs), fetchMethod: (group) => inner(group) });
  return async (group) => (await cache.fetch(group)) ?? [];
}
