// evaluateRequest: one elevation request against the policy in force. Returns every problem (with
// field path and line) or the access plan: effective tier, TTL ceiling, required approvals, approvers.
import { tryParseDuration } from '@jit/contracts';
import type { Locate } from './compile-policy';
import type { ApproverSpec, PolicyModel, PolicyProblem, TierRule } from './model';

export interface RequestSpec {
  target?: unknown;
  scope?: unknown;
  ttl?: unknown;
  riskTier?: unknown;
  justification?: unknown;
  rollbackPlan?: unknown;
  recipient?: unknown;
  breakGlass?: unknown;
}

export interface EvaluateContext {
  /** GitLab username of the MR author (the requester). */
  author: string;
  /** Line/column locator of the request file (from its parser). */
  locate?: Locate;
}

export interface AccessPlan {
  target: string;
  substrate: string;
  scope: string;
  /** Effective tier: the higher of the declared tier and the scope's tier. */
  tier: string;
  declaredTier: string;
  ttlSeconds: number;
  ttlCeilingSeconds: number;
  requiredApprovals: number;
  approvers: ApproverSpec;
  breakGlass: boolean;
  justification: string;
  rollbackPlan?: string;
  recipient: string;
  /** Break-glass only: the post-incident review is due within this many seconds. */
  reviewWithinSeconds?: number;
}

export interface Evaluation {
  problems: PolicyProblem[];
  plan?: AccessPlan;
}

const POLICY_CHANGE_HINT = 'to allow it, open a separate policy-change MR editing policy.yaml (approved by the policyApprovers)';

function human(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** Accepts a parsed request (`{ spec: {...} }`) or its spec. */
export function evaluateRequest(policy: PolicyModel, request: { spec?: RequestSpec } | RequestSpec, ctx: EvaluateContext): Evaluation {
  const spec: RequestSpec = ('spec' in request && request.spec && typeof request.spec === 'object' ? request.spec : request) as RequestSpec;
  const problems: PolicyProblem[] = [];
  const add = (field: string, message: string) => {
    const at = ctx.locate?.(['spec', field]);
    problems.push({ path: `spec.${field}`, message, ...(at ? { line: at.line, column: at.column } : {}) });
  };
  const breakGlass = spec.breakGlass === true;
  if (spec.breakGlass !== undefined && typeof spec.breakGlass !== 'boolean') add('breakGlass', 'breakGlass must be true or false');

  // Target and scope: only what the catalog lists.
  const targetName = typeof spec.target === 'string' ? spec.target : undefined;
  const target = targetName !== undefined && Object.hasOwn(policy.targets, targetName) ? policy.targets[targetName] : undefined;
  if (targetName === undefined) add('target', 'target is required');
  else if (!target) {
    add('target', `unknown target ${JSON.stringify(targetName)}; allowed: ${Object.keys(policy.targets).sort().join(', ')} — ${POLICY_CHANGE_HINT}`);
  }
  const scopeName = typeof spec.scope === 'string' ? spec.scope : undefined;
  const scope = target && scopeName !== undefined && Object.hasOwn(target.scopes, scopeName) ? target.scopes[scopeName] : undefined;
  if (scopeName === undefined) add('scope', 'scope is required');
  else if (target && !scope) {
    add('scope', `unknown scope ${JSON.stringify(scopeName)} for target ${target.name}; allowed: ${Object.keys(target.scopes).sort().join(', ')} — ${POLICY_CHANGE_HINT}`);
  }

  // Tier: declared must exist and be at least the scope's tier; effective = the higher.
  const declaredName = typeof spec.riskTier === 'string' ? spec.riskTier : undefined;
  const declared = declaredName !== undefined ? policy.tiers.find((t) => t.name === declaredName) : undefined;
  if (declaredName === undefined) add('riskTier', `riskTier is required; one of ${policy.tiers.map((t) => t.name).join(', ')}`);
  else if (!declared) add('riskTier', `unknown riskTier ${JSON.stringify(declaredName)}; one of ${policy.tiers.map((t) => t.name).join(', ')}`);
  const scopeTier = scope ? policy.tiers.find((t) => t.name === scope.tier) : undefined;
  let effective: TierRule | undefined = declared;
  if (declared && scopeTier) {
    if (declared.rank < scopeTier.rank) {
      add('riskTier', `riskTier ${declared.name} is under-declared: ${target?.name}/${scope?.name} is ${scopeTier.name}; declare ${scopeTier.name} or higher`);
    }
    effective = declared.rank >= scopeTier.rank ? declared : scopeTier;
  }

  // Break-glass needs the policy to allow it; it brings its own ceiling and approvers.
  if (breakGlass && !policy.breakGlass) add('breakGlass', 'this policy has no breakGlass section; break-glass requests are not allowed');
  const bg = breakGlass ? policy.breakGlass : undefined;

  // TTL: required, a duration, under the ceiling.
  let ttlSeconds: number | undefined;
  const ceiling = bg ? bg.ttlMaxSeconds : effective?.ttlMaxSeconds;
  if (spec.ttl === undefined || spec.ttl === null || spec.ttl === '') add('ttl', 'ttl is required (e.g. 30m); there is no default');
  else {
    const parsed = typeof spec.ttl === 'number' && Number.isSafeInteger(spec.ttl) && spec.ttl > 0 ? { ok: true as const, seconds: spec.ttl } : tryParseDuration(spec.ttl);
    if (!parsed.ok) add('ttl', parsed.message);
    else {
      ttlSeconds = parsed.seconds;
      if (ceiling !== undefined && ttlSeconds > ceiling) {
        add('ttl', `ttl ${human(ttlSeconds)} exceeds the ${bg ? 'breakGlass' : `${effective?.name} tier`} ceiling of ${human(ceiling)}; ask for ${human(ceiling)} or less`);
      }
    }
  }

  // Justification and rollback plan.
  const justification = typeof spec.justification === 'string' ? spec.justification.trim() : '';
  if (justification.length < 20) add('justification', 'justification is required: at least 20 characters saying why, ideally with an incident/ticket id');
  const rollbackPlan = typeof spec.rollbackPlan === 'string' && spec.rollbackPlan.trim() !== '' ? spec.rollbackPlan.trim() : undefined;
  const needsRollback = (effective?.requireRollbackPlan ?? false) || (bg?.requireRollbackPlan ?? false);
  if (needsRollback && !rollbackPlan) {
    add('rollbackPlan', `rollbackPlan is required for tier ${effective?.name ?? '(unknown)'}: say how to undo the change`);
  }
  const recipient = typeof spec.recipient === 'string' ? spec.recipient : '';
  if (!recipient) add('recipient', 'recipient is required: the age public key (age1...) the credential is sealed to');

  if (problems.length > 0 || !target || !scope || !effective || !declared || ttlSeconds === undefined || ceiling === undefined) {
    return { problems };
  }
  return {
    problems,
    plan: {
      target: target.name,
      substrate: target.substrate,
      scope: scope.name,
      tier: effective.name,
      declaredTier: declared.name,
      ttlSeconds,
      ttlCeilingSeconds: ceiling,
      requiredApprovals: bg ? bg.approvals : effective.approvals,
      approvers: bg ? bg.approvers : effective.approvers,
      breakGlass,
      justification,
      ...(rollbackPlan ? { rollbackPlan } : {}),
      recipient,
      ...(bg?.reviewWithinSeconds ? { reviewWithinSeconds: bg.reviewWithinSeconds } : {}),
    },
  };
}
