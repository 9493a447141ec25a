// Parser of `policy.yaml` at the elevations repo root (contract: DESIGN.md §3): structure, names,
// durations and cross-references. Tiers are ranked in declaration order: the first tier declared
// is the lowest risk (rank 0), each later one is higher. Substrate-specific scope fields are kept
// as an open record for the substrate's own validateScope.
import { z } from 'zod';
import { findSecretLike } from './cloud-event';
import { MAX_TTL_SECONDS } from './event-fields';
import { tryParseDuration } from './duration';
import { approversS, policySchema, type NotifyChannelKind } from './policy-schema';
import { formatPath, type Problem } from './problem';
import { POLICY_YAML_LIMITS, loadYaml, type LoadedYaml, type YamlLimits } from './yaml-load';
import { zodProblems } from './zod-problems';

export interface PolicyApprovers {
  anyHuman: boolean;
  groups: string[];
  users: string[];
}

export interface PolicyTier {
  name: string;
  /** 0 = lowest risk; declaration order in policy.yaml. */
  rank: number;
  ttlMax: string;
  ttlMaxSeconds: number;
  approvals: number;
  approvers: PolicyApprovers;
  requireRollbackPlan: boolean;
}

export interface PolicyBreakGlass {
  ttlMax: string;
  ttlMaxSeconds: number;
  approvals: number;
  approvers: PolicyApprovers;
  /** Humans who may request break-glass; empty lists = nobody may. */
  requesters: { groups: string[]; users: string[] };
  reviewWithin: string;
  reviewWithinSeconds: number;
  requireRollbackPlan: boolean;
}

/** A scope: its tier plus substrate-specific fields (e.g. `grant`), validated by the substrate. */
export type PolicyScope = { tier: string } & Record<string, unknown>;

export interface PolicyTarget {
  name: string;
  /** Substrate kind or instance name, e.g. `postgres`, `vault:prod`. */
  substrate: string;
  description?: string;
  /** Connection settings; secrets only by reference (e.g. `secretRef: env:ORDERS_DB_ADMIN_URL`). */
  connection: Record<string, unknown>;
  scopes: Record<string, PolicyScope>;
}

export interface NotifyRoute {
  /** Event names (NOTIFY_EVENT_NAMES); the route matches any of them. */
  events: string[];
  /** When given: only elevations of one of these (effective) tiers. */
  tiers?: string[];
  /** When given: only elevations of one of these targets. */
  targets?: string[];
  /** When given: only break-glass (true) or only ordinary (false) elevations. */
  breakGlass?: boolean;
  /** Channel names. */
  to: string[];
}

export interface PolicyNotifications {
  channels: Record<string, { kind: NotifyChannelKind; description?: string }>;
  routes: NotifyRoute[];
}

export interface Policy {
  /** Tiers by name; `rank` orders them. */
  tiers: Record<string, PolicyTier>;
  /** Tier names from lowest to highest risk. */
  tierOrder: string[];
  breakGlass?: PolicyBreakGlass;
  /** Usernames that may request but never approve. */
  agents: string[];
  /** Who may read every elevation through the API; empty lists = nobody. */
  auditors: { groups: string[]; users: string[] };
  /**
   * GitLab username → the age public keys registered to that user. A request's recipient must be
   * one of its requester's keys; changed only by a ratified policy MR (or the operator's pin).
   */
  recipients: Record<string, string[]>;
  policyApprovers: { groups: string[]; users: string[]; approvals: number };
  targets: Record<string, PolicyTarget>;
  /** Absent: nobody is notified. */
  notifications?: PolicyNotifications;
}

/** `locate(path)`: line/column of any field, for problems found later (e.g. substrate scope checks). */
export type ParsePolicyResult = { ok: true; policy: Policy; problems: []; locate: LoadedYaml['locate'] } | { ok: false; problems: Problem[]; value?: unknown; locate?: LoadedYaml['locate'] };

const seconds = (s: string): number => {
  const r = tryParseDuration(s);
  return r.ok ? r.seconds : 0;
};
const approvers = (a: z.infer<typeof approversS>): PolicyApprovers => ({
  anyHuman: a.anyHuman === true,
  groups: a.groups ?? [],
  users: a.users ?? [],
});

/** Parse policy.yaml. Every structural problem at once, each with path and line/column. Never throws. */
export function parsePolicy(text: string, limits: YamlLimits = POLICY_YAML_LIMITS): ParsePolicyResult {
  const loaded = loadYaml(text, limits);
  if (!loaded.ok) return { ok: false, problems: loaded.problems };
  const parsed = policySchema.safeParse(loaded.loaded.value);
  const { value, locate } = loaded.loaded;
  if (!parsed.success) {
    // Report the cross-references too, so one round of fixes clears everything.
    const structural = zodProblems(parsed.error.issues, loaded.loaded);
    const seen = new Set(structural.map((p) => p.path));
    const extra = crossReferenceProblems(value, loaded.loaded).filter((p) => !seen.has(p.path));
    return { ok: false, problems: [...structural, ...extra], value, locate };
  }
  const raw = parsed.data;
  const problems: Problem[] = [];
  const at = (path: PropertyKey[], message: string) => problems.push({ path: formatPath(path), message, ...loaded.loaded.locate(path) });

  const tierOrder = Object.keys(raw.tiers);
  const tiers: Record<string, PolicyTier> = {};
  tierOrder.forEach((name, rank) => {
    const t = raw.tiers[name];
    if (!t) return;
    if (t.approvers.users && t.approvals > t.approvers.users.length && !t.approvers.groups) {
      at(['tiers', name, 'approvals'], `needs ${t.approvals} approvals but only ${t.approvers.users.length} users may approve`);
    }
    tiers[name] = {
      name,
      rank,
      ttlMax: t.ttlMax,
      ttlMaxSeconds: seconds(t.ttlMax),
      approvals: t.approvals,
      approvers: approvers(t.approvers),
      requireRollbackPlan: t.requireRollbackPlan ?? false,
    };
  });

  const targets: Record<string, PolicyTarget> = {};
  for (const [name, t] of Object.entries(raw.targets)) {
    for (const [scopeName, scope] of Object.entries(t.scopes)) {
      if (!tiers[scope.tier]) {
        at(['targets', name, 'scopes', scopeName, 'tier'], `tier ${scope.tier} is not defined under tiers (defined: ${tierOrder.join(', ')})`);
      }
    }
    const secretAt = findSecretLike({ connection: t.connection ?? {}, scopes: t.scopes });
    if (secretAt) {
      at(['targets', name, ...secretAt.split('.')], 'looks like a secret; policy.yaml is in git — reference it (e.g. secretRef: env:NAME) instead');
    }
    targets[name] = {
      name,
      substrate: t.substrate,
      ...(t.description !== undefined ? { description: t.description } : {}),
      connection: t.connection ?? {},
      scopes: t.scopes as Record<string, PolicyScope>,
    };
  }

  const agents = raw.agents ?? [];
  const agentSet = new Set(agents);
  const checkAgents = (path: PropertyKey[], users: string[] | undefined) =>
    users?.forEach((u, i) => {
      if (agentSet.has(u)) at([...path, i], `${u} is listed under agents; agents may never approve`);
    });
  for (const name of tierOrder) checkAgents(['tiers', name, 'approvers', 'users'], raw.tiers[name]?.approvers.users);
  checkAgents(['breakGlass', 'approvers', 'users'], raw.breakGlass?.approvers.users);
  raw.breakGlass?.requesters?.users?.forEach((u, i) => {
    if (agentSet.has(u)) at(['breakGlass', 'requesters', 'users', i], `${u} is listed under agents; break-glass is for humans on call, never agents`);
  });
  checkAgents(['policyApprovers', 'users'], raw.policyApprovers.users);

  // A key listed under two users is not refused here: the gate never counts an approval from any
  // owner of the recipient key, so a shared key cannot turn an approver into the beneficiary.
  const recipients: Record<string, string[]> = {};
  for (const [user, keys] of Object.entries(raw.recipients ?? {})) {
    const own = new Set<string>();
    keys.forEach((k, i) => {
      if (own.has(k)) at(['recipients', user, i], `lists ${k.slice(0, 16)}… twice`);
      own.add(k);
    });
    recipients[user] = [...own];
  }

  let breakGlass: PolicyBreakGlass | undefined;
  if (raw.breakGlass) {
    const b = raw.breakGlass;
    breakGlass = {
      ttlMax: b.ttlMax,
      ttlMaxSeconds: seconds(b.ttlMax),
      approvals: b.approvals,
      approvers: approvers(b.approvers),
      requesters: { groups: b.requesters?.groups ?? [], users: b.requesters?.users ?? [] },
      reviewWithin: b.reviewWithin,
      reviewWithinSeconds: seconds(b.reviewWithin),
      requireRollbackPlan: b.requireRollbackPlan ?? false,
    };
  }
  const notifications = raw.notifications as PolicyNotifications | undefined;
  notifications?.routes.forEach((r, i) => {
    r.to.forEach((ch, j) => {
      if (!notifications.channels[ch]) at(['notifications', 'routes', i, 'to', j], `channel ${ch} is not defined under notifications.channels`);
    });
    r.tiers?.forEach((t, j) => {
      if (!tiers[t]) at(['notifications', 'routes', i, 'tiers', j], `tier ${t} is not defined under tiers (defined: ${tierOrder.join(', ')})`);
    });
    r.targets?.forEach((t, j) => {
      if (!targets[t]) at(['notifications', 'routes', i, 'targets', j], `target ${t} is not defined under targets`);
    });
  });
  if (problems.length > 0) return { ok: false, problems, value, locate };
  return {
    ok: true,
    problems: [],
    locate,
    policy: {
      tiers,
      tierOrder,
      ...(breakGlass ? { breakGlass } : {}),
      agents,
      auditors: { groups: raw.auditors?.groups ?? [], users: raw.auditors?.users ?? [] },
      recipients,
      policyApprovers: {
        groups: raw.policyApprovers.groups ?? [],
        users: raw.policyApprovers.users ?? [],
        approvals: raw.policyApprovers.approvals,
      },
      targets,
      ...(notifications ? { notifications } : {}),
    },
  };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Scope tiers that name no tier, on a value that failed the schema elsewhere (best effort). */
function crossReferenceProblems(value: unknown, loaded: LoadedYaml): Problem[] {
  if (!isRecord(value) || !isRecord(value.tiers) || !isRecord(value.targets)) return [];
  const tiers = Object.keys(value.tiers);
  const out: Problem[] = [];
  for (const [target, t] of Object.entries(value.targets)) {
    if (!isRecord(t) || !isRecord(t.scopes)) continue;
    for (const [scope, sc] of Object.entries(t.scopes)) {
      if (!isRecord(sc) || typeof sc.tier !== 'string' || tiers.includes(sc.tier)) continue;
      const path = ['targets', target, 'scopes', scope, 'tier'];
      out.push({
        path: formatPath(path),
        message: `tier ${sc.tier.slice(0, 64)} is not defined under tiers (defined: ${tiers.join(', ')})`,
        ...loaded.locate(path),
      });
    }
  }
  return out;
}

/** Upper bound of any tier's ttlMax (30 days), re-exported for policy checks. */
export const POLICY_MAX_TTL_SECONDS = MAX_TTL_SECONDS;
