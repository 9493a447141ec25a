// PolicyStore: policy.yaml from the elevations repo's default branch, through libs/gitlab. A new
// version that fails validation never replaces the last good one; the failure is logged and
// reported in status(). Any version can be fetched again by commit (what was in force at a merge).
import { POLICY_YAML_LIMITS, loadYaml, parsePolicy } from '@jit/contracts';
import type { GitlabClient } from '@jit/gitlab';
import type { Logger } from '@jit/observability';
import { JitError } from '@jit/errors';
import { compilePolicy, validatePolicy, type Locate } from './compile-policy';
import { PolicyInvalid, PolicyMissing, PolicyNotLoaded, PolicyUnratified } from './errors';
import type { PolicyModel, PolicyProblem, SubstrateCatalog } from './model';

export type PolicyParseResult = { ok: true; value: unknown; locate?: Locate } | { ok: false; problems: PolicyProblem[] };
/** `parsePolicy` from @jit/contracts (YAML with limits), adapted to this shape by the app or the default. */
export type PolicyParser = (text: string) => PolicyParseResult;

/** The default parser: `parsePolicy` from @jit/contracts, with a line locator for semantic problems. */
export const contractsPolicyParser: PolicyParser = (text) => {
  const r = parsePolicy(text);
  if (!r.ok) return { ok: false, problems: r.problems };
  const loaded = loadYaml(text, POLICY_YAML_LIMITS);
  return { ok: true, value: r.policy, ...(loaded.ok ? { locate: loaded.loaded.locate } : {}) };
};

export interface LoadedPolicy {
  policy: PolicyModel;
  /** Blob sha of policy.yaml: the policy version carried by events. */
  version: string;
  /** Commit the file was read at. */
  commitId: string;
  loadedAt: string;
}

export interface PolicyStatus {
  ok: boolean;
  /** Version in force (last good). */
  version?: string;
  /** Version last seen on the default branch, valid or not. */
  latestVersion?: string;
  problems: PolicyProblem[];
  error?: { code: string; message: string };
  checkedAt?: string;
}

export interface PolicyStoreOptions {
  gitlab: Pick<GitlabClient, 'projects' | 'files'>;
  projectId: number | string;
  path?: string;
  substrates: SubstrateCatalog;
  /** Default: contractsPolicyParser. */
  parse?: PolicyParser;
  logger?: Logger;
  /** Cached versions kept for atRef lookups. Default 32. */
  cacheSize?: number;
}

export interface PolicyStore {
  /** Reads the default branch; swaps in the new version only if it validates. Never throws for an invalid file. */
  refresh(): Promise<PolicyStatus>;
  /** The policy in force; throws JIT_ERR_POLICY_NOT_LOADED (retriable) before the first good load. */
  current(): LoadedPolicy;
  /** The policy in force, or undefined. */
  peek(): LoadedPolicy | undefined;
  status(): PolicyStatus;
  /**
   * Refuses a version (blob sha) for good in this process: it is never put in force, even if it is on
   * the default branch (a policy change merged without its approvals). The last good policy stays.
   */
  reject(version: string, reason: string): void;
  /** Policy as of a commit (or branch) of the elevations repo; throws JIT_ERR_POLICY_INVALID/MISSING. */
  atRef(ref: string): Promise<LoadedPolicy>;
  readonly path: string;
  readonly projectId: number | string;
}

export function createPolicyStore(options: PolicyStoreOptions): PolicyStore {
  const path = options.path ?? 'policy.yaml';
  const cacheSize = options.cacheSize ?? 32;
  const byBlob = new Map<string, LoadedPolicy>();
  let inForce: LoadedPolicy | undefined;
  const rejected = new Map<string, string>();
  let status: PolicyStatus = { ok: false, problems: [], error: { code: PolicyNotLoaded.code, message: 'not loaded yet' } };

  const remember = (lp: LoadedPolicy) => {
    byBlob.set(lp.version, lp);
    while (byBlob.size > cacheSize) byBlob.delete(byBlob.keys().next().value as string);
  };

  async function load(ref: string): Promise<LoadedPolicy> {
    let file;
    try {
      file = await options.gitlab.files.show(options.projectId, path, ref);
    } catch (err) {
      if (err instanceof JitError && err.code === 'JIT_ERR_GITLAB_NOT_FOUND') {
        throw PolicyMissing(ref, String(options.projectId), { cause: err });
      }
      throw err;
    }
    const cached = byBlob.get(file.blobId);
    if (cached) return { ...cached, commitId: file.commitId };
    const text = new TextDecoder('utf-8', { fatal: false }).decode(file.content);
    const parsed = (options.parse ?? contractsPolicyParser)(text);
    let problems: PolicyProblem[];
    let policy: PolicyModel | undefined;
    if (!parsed.ok) problems = parsed.problems;
    else {
      const compiled = compilePolicy(parsed.value, parsed.locate);
      problems = compiled.problems;
      policy = compiled.policy;
      if (policy) problems = validatePolicy(policy, options.substrates, parsed.locate);
    }
    if (problems.length > 0 || !policy) {
      const summary = problems
        .slice(0, 5)
        .map((p) => `${p.path}${p.line ? ` (line ${p.line})` : ''}: ${p.message}`)
        .join('; ');
      throw PolicyInvalid(ref, summary || 'no policy', { details: { problems, version: file.blobId } });
    }
    const lp: LoadedPolicy = { policy, version: file.blobId, commitId: file.commitId, loadedAt: new Date().toISOString() };
    remember(lp);
    return lp;
  }

  return {
    path,
    projectId: options.projectId,
    async refresh() {
      const checkedAt = new Date().toISOString();
      try {
        const project = await options.gitlab.projects.show(options.projectId);
        const lp = await load(project.defaultBranch);
        const refusal = rejected.get(lp.version);
        if (refusal !== undefined) throw PolicyUnratified(lp.version, refusal, { details: { version: lp.version } });
        if (inForce?.version !== lp.version) {
          options.logger?.info({ version: lp.version, commit: lp.commitId }, 'policy loaded');
        }
        inForce = lp;
        status = { ok: true, version: lp.version, latestVersion: lp.version, problems: [], checkedAt };
      } catch (err) {
        const e = err instanceof JitError ? err : PolicyNotLoaded(err instanceof Error ? err.message : String(err), { cause: err });
        const problems = (e.details?.problems as PolicyProblem[] | undefined) ?? [];
        const latestVersion = typeof e.details?.version === 'string' ? e.details.version : status.latestVersion;
        options.logger?.error(
          { code: e.code, problems: problems.slice(0, 20), inForce: inForce?.version, latestVersion },
          inForce ? 'policy.yaml failed to load; the last valid policy stays in force' : 'policy.yaml failed to load; no policy in force',
        );
        status = {
          ok: false,
          ...(inForce ? { version: inForce.version } : {}),
          ...(latestVersion ? { latestVersion } : {}),
          problems,
          error: { code: e.code, message: e.message },
          checkedAt,
        };
      }
      return status;
    },
    current() {
      if (!inForce) throw PolicyNotLoaded(status.error?.message ?? 'not loaded yet');
      return inForce;
    },
    peek() {
      return inForce;
    },
    status() {
      return status;
    },
    atRef(ref) {
      return load(ref);
    },
    reject(version, reason) {
      rejected.set(version, reason);
      if (inForce?.version === version) {
        // Put back the newest other good version we have seen, if any.
        const previous = [...byBlob.values()].reverse().find((lp) => !rejected.has(lp.version));
        inForce = previous;
        status = {
          ok: false,
          ...(previous ? { version: previous.version } : {}),
          latestVersion: version,
          problems: [],
          error: { code: PolicyUnratified.code, message: PolicyUnratified(version, reason).message },
        };
      }
      options.logger?.error({ version, reason }, 'policy version refused: merged without its approvals');
    },
  };
}
