// A request file judged against the policy in force, with no GitLab write: parsed, evaluated
// (evaluateRequest), and held to what the gate adds — no secret in it, break-glass only for the
// humans the policy names, a recipient key registered to the requester, enough eligible approvers
// once the author, agents, bots and the key's owners are left out. The answer is the access plan
// or the problems to show on the MR.
import { createHash } from 'node:crypto';
import { REQUEST_YAML_LIMITS, findSecretLike, isAgeRecipient, loadYaml, parseElevationRequest } from '@jit/contracts';
import {
  breakGlassRequesterProblem,
  evaluateRequest,
  isRecipientOf,
  recipientOwners,
  registeredKeys,
  resolveApprovers,
  type AccessPlan,
  type GroupResolver,
  type Locate,
  type PolicyModel,
  type PolicyProblem,
} from '@jit/policy';

export type RequestParseResult = { ok: true; value: unknown; locate?: Locate } | { ok: false; problems: PolicyProblem[]; value?: unknown; locate?: Locate };
export type RequestParser = (text: string) => RequestParseResult;

/** Default request parser: parseElevationRequest (contracts) + the raw document for semantic checks and lines. */
export const contractsRequestParser: RequestParser = (text) => {
  const loaded = loadYaml(text, REQUEST_YAML_LIMITS);
  const raw = loaded.ok ? { value: loaded.loaded.value, locate: loaded.loaded.locate } : {};
  const r = parseElevationRequest(text);
  if (r.ok) return { ok: true, value: r.request, ...(raw.locate ? { locate: raw.locate } : {}) };
  return { ok: false, problems: r.problems, ...raw };
};

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface RequestJudgeDeps {
  parseRequest: RequestParser;
  resolveGroup: GroupResolver;
  botUsername: string;
  /** Whether the requester is a bot (or unknown to GitLab); asked only for a break-glass request. */
  requesterIsBot(): Promise<boolean>;
}

export interface RequestJudgement {
  problems: PolicyProblem[];
  /** Set when there are no problems. */
  plan?: AccessPlan;
  /** Eligible approvers as resolved now (usernames; empty for anyHuman tiers with no list). */
  eligible: string[];
}

/** The request file's bytes judged for `author` under `policy`. */
export async function judgeRequest(deps: RequestJudgeDeps, bytes: Uint8Array, author: string, policy: PolicyModel): Promise<RequestJudgement> {
  let problems: PolicyProblem[] = [];
  let plan: AccessPlan | undefined;
  let text: string | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    problems = [{ path: '(document)', message: 'request file is not valid UTF-8 text' }];
  }
  if (text !== undefined) {
    const parsed = deps.parseRequest(text);
    const semantic = parsed.value !== undefined ? evaluateRequest(policy, parsed.value as never, { author, locate: parsed.locate }) : undefined;
    if (parsed.ok) {
      problems = semantic?.problems ?? [];
      plan = semantic?.plan;
    } else {
      // Structural problems first; add semantic ones on fields the parser did not already flag.
      const flagged = new Set(parsed.problems.map((p) => p.path));
      problems = [...parsed.problems, ...(semantic?.problems ?? []).filter((p) => !flagged.has(p.path))];
    }
    if (plan) {
      // A credential pasted into a request must not travel on in events or comments.
      const leaked = findSecretLike({ justification: plan.justification, rollbackPlan: plan.rollbackPlan ?? '' });
      if (leaked) {
        problems.push({
          path: `spec.${leaked}`,
          message: 'looks like a secret (a URL with a password, a token or a key); never put credentials in a request — remove it, rotate it, and push again',
        });
        plan = undefined;
      }
    }
    if (plan?.breakGlass && policy.breakGlass) {
      // Break-glass is for the humans on call the policy names, never an agent or a bot.
      const why = await breakGlassRequesterProblem(policy.breakGlass, { username: author, bot: (await deps.requesterIsBot()) || author === deps.botUsername }, policy.agents, deps.resolveGroup);
      if (why) {
        problems.push({ path: 'spec.breakGlass', message: why });
        plan = undefined;
      }
    }
    if (plan && !isAgeRecipient(plan.recipient)) {
      problems.push({ path: 'spec.recipient', message: 'recipient must be an age public key (age1...); `jit keygen` prints yours' });
      plan = undefined;
    }
    if (plan && !isRecipientOf(policy, author, plan.recipient)) {
      // Only the requester may open what is issued: the key must be one the policy registers to them.
      const mine = registeredKeys(policy, author);
      problems.push({
        path: 'spec.recipient',
        message:
          mine.length > 0
            ? `recipient is not one of the age keys registered to ${author} under recipients: in policy.yaml; use a registered key, or register this one through a policy MR`
            : `no age key is registered to ${author} under recipients: in policy.yaml; register your public key (\`jit keygen\` prints it) through a policy MR, then push again`,
        ...(parsed.locate?.(['spec', 'recipient']) ?? {}),
      });
      plan = undefined;
    }
  }
  let eligible: string[] = [];
  if (plan && problems.length === 0) {
    const resolved = await resolveApprovers(plan.approvers, deps.resolveGroup, {
      author,
      agents: policy.agents,
      // Whoever can open the credential never approves it (a key listed under two users included).
      others: [deps.botUsername, ...recipientOwners(policy, plan.recipient)],
    });
    eligible = resolved.usernames;
    if (!plan.approvers.anyHuman && eligible.length < plan.requiredApprovals) {
      problems.push({
        path: plan.breakGlass ? 'spec.breakGlass' : 'spec.riskTier',
        message: `${plan.breakGlass ? 'break-glass' : `tier ${plan.tier}`} needs ${plan.requiredApprovals} approvals but only ${eligible.length} eligible approver(s) remain once the author, agents and bots are removed (approver groups must be visible to the jit bot)`,
      });
    }
  }
  return { problems, ...(plan && problems.length === 0 ? { plan } : {}), eligible };
}

/** Problems as they may be shown and logged: at most 100, and never repeating anything shaped like a secret. */
export function shownProblems(problems: PolicyProblem[]): PolicyProblem[] {
  const list = problems.length > 0 ? problems.slice(0, 100) : [{ path: '(document)', message: 'the request could not be validated' }];
  return list.map((p) =>
    // Messages may quote what was written; never repeat anything shaped like a secret.
    findSecretLike({ m: p.message, p: p.path })
      ? { path: findSecretLike({ p: p.path }) ? '(document)' : p.path, message: 'a value here looks like a secret; it is not repeated — remove it from the request and rotate it' }
      : p,
  );
}
