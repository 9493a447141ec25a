// The compiled policy: tiers ranked by declaration order, TTLs in seconds, approver specs with
// defaults filled in. Built from what `parsePolicy` (@jit/contracts) returns.
import type { PolicyNotifications, Problem } from '@jit/contracts';

/** A problem in a policy or request file: @jit/contracts' one `Problem` shape (path, message, line/column). */
export type PolicyProblem = Problem;

export interface ApproverSpec {
  /** Any human (not the author, not an agent, not a bot). */
  anyHuman: boolean;
  groups: string[];
  users: string[];
}

export interface TierRule {
  name: string;
  /** 0 = lowest risk; higher = more severe (declaration order in policy.yaml). */
  rank: number;
  ttlMaxSeconds: number;
  approvals: number;
  approvers: ApproverSpec;
  requireRollbackPlan: boolean;
}

export interface BreakGlassRule {
  ttlMaxSeconds: number;
  approvals: number;
  approvers: ApproverSpec;
  /** The humans (users, group members) who may request break-glass; never agents or bots. Empty = nobody. */
  requesters: { groups: string[]; users: string[] };
  reviewWithinSeconds?: number;
  requireRollbackPlan: boolean;
}

export interface ScopeRule {
  name: string;
  tier: string;
  /** The scope object as written (tier included) — what the substrate receives. */
  raw: Record<string, unknown>;
}

export interface TargetRule {
  name: string;
  substrate: string;
  connection: Record<string, unknown>;
  scopes: Record<string, ScopeRule>;
}

export interface PolicyModel {
  tiers: TierRule[];
  breakGlass?: BreakGlassRule;
  agents: string[];
  /** Who may read every elevation and see the catalog's approver identities (groups and users); empty = nobody. */
  auditors: { groups: string[]; users: string[] };
  /** GitLab username → registered age public keys; a request's recipient must be its requester's. */
  recipients: Record<string, string[]>;
  policyApprovers: ApproverSpec & { approvals: number };
  targets: Record<string, TargetRule>;
  /** Who hears about what (parsed by @jit/contracts' parsePolicy); absent = nobody is notified. */
  notifications?: PolicyNotifications;
}

export function tierByName(policy: PolicyModel, name: string): TierRule | undefined {
  return policy.tiers.find((t) => t.name === name);
}

/** Substrate facts the policy is validated against, injected by the app (never imported here). */
export interface SubstrateFacts {
  validateScope(scope: unknown, connection?: unknown): Array<{ path: string; message: string }>;
  maxTtlSeconds?: number;
}

export type SubstrateCatalog = Record<string, SubstrateFacts>;

/** Usernames the policy registers `recipient` to (normally one; a key listed twice gives more). */
export function recipientOwners(policy: Pick<PolicyModel, 'recipients'>, recipient: string): string[] {
  return Object.entries(policy.recipients ?? {})
    .filter(([, keys]) => keys.includes(recipient))
    .map(([user]) => user);
}

/** The age keys the policy registers to `username` (GitLab usernames compare case-insensitively). */
export function registeredKeys(policy: Pick<PolicyModel, 'recipients'>, username: string): string[] {
  const lower = username.toLowerCase();
  return Object.entries(policy.recipients ?? {}).flatMap(([user, keys]) => (user.toLowerCase() === lower ? keys : []));
}

/** Whether the policy registers `recipient` to `username` (GitLab usernames compare case-insensitively). */
export function isRecipientOf(policy: Pick<PolicyModel, 'recipients'>, username: string, recipient: string): boolean {
  return registeredKeys(policy, username).includes(recipient);
}
