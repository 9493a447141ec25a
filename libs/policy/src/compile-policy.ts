// compilePolicy + validatePolicy: turns the parsed policy.yaml into the PolicyModel and checks its
// semantics — scopes against their substrate, TTL ceilings against what the substrate can honour,
// sane approvers and agents. Every problem carries its field path (and line, when a locator is given).
import { isAgeRecipient, tryParseDuration, type PolicyNotifications } from '@jit/contracts';
import type { ApproverSpec, BreakGlassRule, PolicyModel, PolicyProblem, ScopeRule, SubstrateCatalog, TargetRule, TierRule } from './model';

export type Locate = (path: readonly PropertyKey[]) => { line: number; column: number } | undefined;

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === 'object' && v !== null && !Array.isArray(v);

function dotted(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out || '(document)';
}

class Collector {
  readonly problems: PolicyProblem[] = [];
  constructor(private readonly locate?: Locate) {}
  add(path: readonly PropertyKey[], message: string): void {
    const at = this.locate?.(path);
    this.problems.push({ path: dotted(path), message, ...(at ? { line: at.line, column: at.column } : {}) });
  }
}

function seconds(v: unknown, path: PropertyKey[], c: Collector): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v > 0) return v;
  const r = tryParseDuration(v);
  if (r.ok) return r.seconds;
  c.add(path, r.message);
  return undefined;
}

function names(v: unknown, path: PropertyKey[], c: Collector, what: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    c.add(path, `${what} must be a list of names`);
    return [];
  }
  const out: string[] = [];
  v.forEach((x, i) => {
    if (typeof x !== 'string' || x.trim() === '') c.add([...path, i], `${what} entries must be non-empty names`);
    else if (out.includes(x)) c.add([...path, i], `${what} lists ${x} twice`);
    else out.push(x);
  });
  return out;
}

function approvers(v: unknown, path: PropertyKey[], c: Collector): ApproverSpec {
  if (!isRec(v)) {
    c.add(path, 'approvers must be a map with anyHuman, groups and/or users');
    return { anyHuman: false, groups: [], users: [] };
  }
  return {
    anyHuman: v['anyHuman'] === true,
    groups: names(v['groups'], [...path, 'groups'], c, 'groups'),
    users: names(v['users'], [...path, 'users'], c, 'users'),
  };
}

/** A list of named humans (`groups` and/or `users`) at `path`: break-glass requesters, auditors. */
function namedHumans(v: unknown, path: string[], c: Collector): { groups: string[]; users: string[] } {
  if (v === undefined || v === null) return { groups: [], users: [] };
  if (!isRec(v)) {
    c.add(path, `${path[path.length - 1]} must be a map with groups and/or users`);
    return { groups: [], users: [] };
  }
  return {
    groups: names(v['groups'], [...path, 'groups'], c, 'groups'),
    users: names(v['users'], [...path, 'users'], c, 'users'),
  };
}

function approvalsCount(v: unknown, path: PropertyKey[], c: Collector): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 100) return v;
  c.add(path, 'approvals must be a whole number from 0 to 100');
  return 0;
}

/** Builds the model; structural problems are reported, semantic ones come from validatePolicy. */
export function compilePolicy(value: unknown, locate?: Locate): { policy?: PolicyModel; problems: PolicyProblem[] } {
  const c = new Collector(locate);
  if (!isRec(value)) {
    c.add([], 'policy.yaml must be a map with tiers, policyApprovers and targets');
    return { problems: c.problems };
  }
  const tiers: TierRule[] = [];
  if (!isRec(value['tiers']) || Object.keys(value['tiers']).length === 0) c.add(['tiers'], 'at least one tier is required');
  else {
    // parsePolicy's output carries an explicit rank; a plain YAML map is ranked by declaration order.
    const declared = Object.entries(value['tiers']);
    const ranked = declared.every(([, t]) => isRec(t) && typeof t['rank'] === 'number')
      ? [...declared].sort(([, a], [, b]) => ((a as Rec)['rank'] as number) - ((b as Rec)['rank'] as number))
      : declared;
    ranked.forEach(([name, t], rank) => {
      const p = ['tiers', name];
      if (!isRec(t)) return c.add(p, 'a tier must be a map with ttlMax, approvals and approvers');
      const ttl = seconds(t['ttlMax'], [...p, 'ttlMax'], c);
      tiers.push({
        name,
        rank,
        ttlMaxSeconds: ttl ?? 0,
        approvals: approvalsCount(t['approvals'], [...p, 'approvals'], c),
        approvers: approvers(t['approvers'], [...p, 'approvers'], c),
        requireRollbackPlan: t['requireRollbackPlan'] === true,
      });
    });
  }
  let breakGlass: BreakGlassRule | undefined;
  const bg = value['breakGlass'];
  if (bg !== undefined && bg !== null) {
    if (!isRec(bg)) c.add(['breakGlass'], 'breakGlass must be a map with ttlMax, approvals and approvers');
    else {
      const review = bg['reviewWithin'] === undefined ? undefined : seconds(bg['reviewWithin'], ['breakGlass', 'reviewWithin'], c);
      breakGlass = {
        ttlMaxSeconds: seconds(bg['ttlMax'], ['breakGlass', 'ttlMax'], c) ?? 0,
        approvals: approvalsCount(bg['approvals'], ['breakGlass', 'approvals'], c),
        approvers: approvers(bg['approvers'], ['breakGlass', 'approvers'], c),
        requesters: namedHumans(bg['requesters'], ['breakGlass', 'requesters'], c),
        ...(review ? { reviewWithinSeconds: review } : {}),
        requireRollbackPlan: bg['requireRollbackPlan'] === true,
      };
    }
  }
  const agents = names(value['agents'], ['agents'], c, 'agents');
  // who may read every elevation through the API (never who may approve anything)
  const auditors = namedHumans(value['auditors'], ['auditors'], c);
  const recipients: Record<string, string[]> = {};
  if (value['recipients'] !== undefined && !isRec(value['recipients'])) {
    c.add(['recipients'], 'recipients must be a map of GitLab username to a list of age public keys (age1...)');
  } else if (isRec(value['recipients'])) {
    for (const [user, keys] of Object.entries(value['recipients'])) {
      const list = names(keys, ['recipients', user], c, 'recipients');
      list.forEach((k, i) => {
        if (!isAgeRecipient(k)) c.add(['recipients', user, i], 'must be an age X25519 public key (age1...), as `jit keygen` prints it');
      });
      recipients[user] = list;
    }
  }
  let policyApprovers: PolicyModel['policyApprovers'] = { anyHuman: false, groups: [], users: [], approvals: 1 };
  if (!isRec(value['policyApprovers'])) c.add(['policyApprovers'], 'policyApprovers is required (groups/users and approvals)');
  else {
    const pa = value['policyApprovers'];
    policyApprovers = {
      ...approvers(pa, ['policyApprovers'], c),
      approvals: approvalsCount(pa['approvals'], ['policyApprovers', 'approvals'], c),
    };
  }
  const targets: Record<string, TargetRule> = {};
  if (!isRec(value['targets'])) c.add(['targets'], 'targets is required: a map of target name to substrate and scopes');
  else {
    for (const [name, t] of Object.entries(value['targets'])) {
      const p = ['targets', name];
      if (!isRec(t)) {
        c.add(p, 'a target must be a map with substrate, connection and scopes');
        continue;
      }
      const scopes: Record<string, ScopeRule> = {};
      if (!isRec(t['scopes']) || Object.keys(t['scopes']).length === 0) c.add([...p, 'scopes'], 'a target needs at least one scope');
      else {
        for (const [sname, s] of Object.entries(t['scopes'])) {
          if (!isRec(s) || typeof s['tier'] !== 'string') {
            c.add([...p, 'scopes', sname, 'tier'], 'a scope must be a map with a tier');
            continue;
          }
          scopes[sname] = { name: sname, tier: s['tier'], raw: s };
        }
      }
      if (typeof t['substrate'] !== 'string' || t['substrate'] === '') c.add([...p, 'substrate'], 'substrate is required');
      targets[name] = {
        name,
        substrate: typeof t['substrate'] === 'string' ? t['substrate'] : '',
        connection: isRec(t['connection']) ? t['connection'] : {},
        scopes,
      };
    }
  }
  if (c.problems.length > 0) return { problems: c.problems };
  // checked by parsePolicy (channels, routes, cross-references); carried as parsed
  const notifications = isRec(value['notifications']) ? (value['notifications'] as unknown as PolicyNotifications) : undefined;
  return { policy: { tiers, ...(breakGlass ? { breakGlass } : {}), agents, auditors, recipients, policyApprovers, targets, ...(notifications ? { notifications } : {}) }, problems: [] };
}

function fmt(s: number): string {
  if (s % 3600 === 0) return `${s / 3600}h`;
  if (s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** Semantic checks of a compiled policy against the substrates the process runs. */
export function validatePolicy(policy: PolicyModel, substrates: SubstrateCatalog, locate?: Locate): PolicyProblem[] {
  const c = new Collector(locate);
  const agentSet = new Set(policy.agents.map((a) => a.toLowerCase()));
  const checkApprovers = (spec: ApproverSpec, approvals: number, path: PropertyKey[], allowZero: boolean) => {
    if (!allowZero && approvals < 1) {
      c.add([...path, 'approvals'], 'approvals must be at least 1 (only breakGlass may require 0)');
    }
    if (approvals > 0 && !spec.anyHuman && spec.groups.length === 0 && spec.users.length === 0) {
      c.add([...path, 'approvers'], 'approvers must name groups or users, or set anyHuman: true');
    }
    spec.users.forEach((u, i) => {
      if (agentSet.has(u.toLowerCase())) {
        c.add([...path, 'approvers', 'users', i], `${u} is listed in agents; agents may request but never approve`);
      }
    });
    if (!spec.anyHuman && spec.groups.length === 0 && spec.users.length > 0 && spec.users.length < approvals) {
      c.add([...path, 'approvals'], `requires ${approvals} approvals but only ${spec.users.length} user(s) are eligible; list more approvers or lower approvals`);
    }
  };
  for (const t of policy.tiers) checkApprovers(t.approvers, t.approvals, ['tiers', t.name], false);
  if (policy.breakGlass) {
    checkApprovers(policy.breakGlass.approvers, policy.breakGlass.approvals, ['breakGlass'], true);
    policy.breakGlass.requesters.users.forEach((u, i) => {
      if (agentSet.has(u.toLowerCase())) {
        c.add(['breakGlass', 'requesters', 'users', i], `${u} is listed in agents; break-glass is for humans on call, never agents`);
      }
    });
  }
  const pa = policy.policyApprovers;
  if (pa.anyHuman) c.add(['policyApprovers', 'anyHuman'], 'policy changes must be approved by named groups or users, not anyHuman');
  checkApprovers({ ...pa, anyHuman: false }, pa.approvals, ['policyApprovers'], false);

  for (const target of Object.values(policy.targets)) {
    const p = ['targets', target.name];
    // A named instance (`vault:prod`) falls back to its kind's facts when only kinds are registered.
    const facts = substrates[target.substrate] ?? substrates[target.substrate.split(':')[0] ?? ''];
    if (!facts) {
      c.add([...p, 'substrate'], `unknown substrate ${target.substrate}; this deployment runs: ${Object.keys(substrates).sort().join(', ') || 'none'}`);
      continue;
    }
    for (const scope of Object.values(target.scopes)) {
      const sp = [...p, 'scopes', scope.name];
      const tier = policy.tiers.find((t) => t.name === scope.tier);
      if (!tier) {
        c.add([...sp, 'tier'], `unknown tier ${scope.tier}; tiers are: ${policy.tiers.map((t) => t.name).join(', ')}`);
        continue;
      }
      const { tier: _tier, ...substrateScope } = scope.raw;
      for (const raw of facts.validateScope(substrateScope, target.connection)) {
        // Adapters may root their paths at `scope`; ours are already at the scope.
        const prob = { ...raw, path: raw.path === 'scope' ? '' : raw.path.replace(/^scope\./, '') };
        const rel = prob.path ? prob.path.split('.').filter(Boolean) : [];
        const at = locate?.([...sp, ...rel]);
        c.problems.push({
          path: [sp.join('.'), prob.path].filter(Boolean).join('.'),
          message: prob.message,
          ...(at ? { line: at.line, column: at.column } : {}),
        });
      }
      const max = facts.maxTtlSeconds;
      if (max !== undefined) {
        // A request may declare any tier at or above the scope's; each such ceiling must be honourable.
        for (const t of policy.tiers.filter((x) => x.rank >= tier.rank)) {
          if (t.ttlMaxSeconds > max) {
            c.add(
              ['tiers', t.name, 'ttlMax'],
              `ttlMax ${fmt(t.ttlMaxSeconds)} exceeds what substrate ${target.substrate} can honour (${fmt(max)}) for ${target.name}/${scope.name}; lower it to ${fmt(max)} or less`,
            );
          }
        }
        if (policy.breakGlass && policy.breakGlass.ttlMaxSeconds > max) {
          c.add(['breakGlass', 'ttlMax'], `ttlMax ${fmt(policy.breakGlass.ttlMaxSeconds)} exceeds what substrate ${target.substrate} can honour (${fmt(max)}) for ${target.name}/${scope.name}`);
        }
      }
    }
  }
  // One message per path+text: several scopes can hit the same tier ceiling.
  const seen = new Set<string>();
  return c.problems.filter((x) => {
    const k = `${x.path}\0${x.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
