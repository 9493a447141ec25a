// PolicyStore: the policy in force, which is never simply "policy.yaml on the default branch". A
// version is in force only when the log ratified it (policy-trust.ts: a verified policy merge, or
// the operator's pin of the very first policy); its text is read from GitLab at the commit the
// ratification names. The default branch is read too, but only to report a version nobody ratified
// (a direct push, a mixed or unapproved merge, a force-push): that version is never adopted.
import { POLICY_YAML_LIMITS, loadYaml, parsePolicy } from '@jit/contracts';
import { GitlabCommitNotFound, GitlabNotFound, type GitlabClient, type RepositoryFile } from '@jit/gitlab';
import type { Logger } from '@jit/observability';
import { JitError } from '@jit/errors';
import { compilePolicy, validatePolicy, type Locate } from './compile-policy';
import { PolicyInvalid, PolicyMissing, PolicyMissingAtCommit, PolicyNotLoaded, PolicyNotTrusted, PolicyUnratified, PolicyVersionUnknown } from './errors';
import type { PolicyModel, PolicyProblem, SubstrateCatalog } from './model';
import { createPolicyTrust, type PolicyTrust, type RatifiedPolicy } from './policy-trust';

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
  /** A policy is in force and the default branch holds that same version. */
  ok: boolean;
  /** Version in force (the last ratified). */
  version?: string;
  /** How, when and by whom the version in force was ratified. */
  ratified?: Omit<RatifiedPolicy, 'eventId'>;
  /** Version last seen on the default branch, valid or not, ratified or not. */
  latestVersion?: string;
  /** The default branch holds a version that is not in force (never adopted); where it came from. */
  unratified?: { version: string; commitId: string; lastCommitId: string };
  /** The pin (JIT_POLICY_PIN) this process was started with, if any. */
  pinned?: string;
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
  /**
   * Blob sha of the first policy the operator trusts (JIT_POLICY_PIN). Used only while the log has
   * ratified nothing: that version, when it is on the default branch, is in force (the gate then
   * records it on the log as ratified by pin). Without a pin and without a ratification nothing is.
   */
  pin?: string;
  /** The fold of policy events; default a new one (fed through apply()). */
  trust?: PolicyTrust;
}

export interface PolicyStore {
  /**
   * Puts the last ratified version (or the pinned one, on an empty log) in force, reading it at its
   * ratified commit, and reads the default branch to report an unratified version. Never adopts the
   * default branch; never throws for an invalid or unratified file.
   */
  refresh(): Promise<PolicyStatus>;
  /** Feeds one event of jit.elevations.v1 to the trust fold (policy events of this project; others ignored). */
  apply(event: unknown): boolean;
  readonly trust: PolicyTrust;
  /** The policy in force; throws JIT_ERR_POLICY_NOT_LOADED (retriable) before the first good load. */
  current(): LoadedPolicy;
  /** The policy in force, or undefined. */
  peek(): LoadedPolicy | undefined;
  status(): PolicyStatus;
  /** Policy as of a commit (or branch) of the elevations repo, ratified or not (a candidate); throws JIT_ERR_POLICY_INVALID/MISSING. */
  atRef(ref: string): Promise<LoadedPolicy>;
  /**
   * A ratified version (what the issuer issues under), read at its ratified commit. Throws
   * JIT_ERR_POLICY_VERSION_UNKNOWN (retriable) for a version the log never ratified.
   */
  atVersion(version: string): Promise<LoadedPolicy>;
  /** The file on the default branch as it is now (blob id, commits): what refresh compares. */
  defaultBranchFile(): Promise<RepositoryFile>;
  readonly pin: string | undefined;
  readonly path: string;
  readonly projectId: number | string;
}

export function createPolicyStore(options: PolicyStoreOptions): PolicyStore {
  const path = options.path ?? 'policy.yaml';
  const cacheSize = options.cacheSize ?? 32;
  const byBlob = new Map<string, LoadedPolicy>();
  const trust = options.trust ?? createPolicyTrust(Number(options.projectId));
  const pin = options.pin?.trim().toLowerCase() || undefined;
  let inForce: LoadedPolicy | undefined;
  /** Where the pinned version was found (the default branch's head when it was first seen there). */
  let pinnedAt: string | undefined;
  let status: PolicyStatus = { ok: false, problems: [], error: { code: PolicyNotLoaded.code, message: 'not loaded yet' }, ...(pin ? { pinned: pin } : {}) };

  const remember = (lp: LoadedPolicy) => {
    byBlob.set(lp.version, lp);
    while (byBlob.size > cacheSize) byBlob.delete(byBlob.keys().next().value as string);
  };

  /**
   * policy.yaml at `ref` (a branch, or the commit a ratification or a merge names). What a 404 means
   * depends on what GitLab says is missing: the file at a commit GitLab has (final: a commit never
   * changes), the file on a branch (final until someone commits one), or the commit itself
   * (JIT_ERR_GITLAB_COMMIT_NOT_FOUND, retriable: not replicated yet, or rewritten away — no proof
   * the file is absent, so it is passed on to be retried, never reported as a missing policy).
   */
  async function fetchFile(ref: string): Promise<RepositoryFile> {
    try {
      return await options.gitlab.files.show(options.projectId, path, ref);
    } catch (err) {
      if (!(err instanceof JitError)) throw err;
      const isCommit = /^[0-9a-f]{40,64}$/.test(ref);
      if (GitlabNotFound.is(err)) {
        throw (isCommit ? PolicyMissingAtCommit : PolicyMissing)(ref, String(options.projectId), { cause: err });
      }
      // A branch with no commit at all (an empty repository): there is nothing to retry for.
      if (GitlabCommitNotFound.is(err) && !isCommit) throw PolicyMissing(ref, String(options.projectId), { cause: err });
      throw err;
    }
  }

  function compile(file: RepositoryFile, ref: string): LoadedPolicy {
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

  async function load(ref: string): Promise<LoadedPolicy> {
    return compile(await fetchFile(ref), ref);
  }

  /** The ratified version at its commit; the blob there must be the version the log names. */
  async function loadRatified(r: Pick<RatifiedPolicy, 'version' | 'commitSha'>): Promise<LoadedPolicy> {
    const cached = byBlob.get(r.version);
    if (cached) return cached;
    const lp = await load(r.commitSha);
    if (lp.version !== r.version) {
      throw PolicyInvalid(r.commitSha, `the log ratified version ${r.version} at this commit, but GitLab holds ${lp.version} there (history rewritten?)`);
    }
    return lp;
  }

  const publicRatified = (r: RatifiedPolicy): Omit<RatifiedPolicy, 'eventId'> => {
    const { eventId: _e, ...rest } = r;
    return rest;
  };

  return {
    path,
    projectId: options.projectId,
    trust,
    pin,
    apply: (event) => trust.apply(event),
    defaultBranchFile: async () => fetchFile((await options.gitlab.projects.show(options.projectId)).defaultBranch),
    async refresh() {
      const checkedAt = new Date().toISOString();
      let head: RepositoryFile | undefined;
      let headError: JitError | undefined;
      try {
        const project = await options.gitlab.projects.show(options.projectId);
        head = await fetchFile(project.defaultBranch);
      } catch (err) {
        headError = err instanceof JitError ? err : PolicyNotLoaded(err instanceof Error ? err.message : String(err), { cause: err });
      }
      const ratified = trust.current();
      let wanted: Pick<RatifiedPolicy, 'version' | 'commitSha'> | undefined = ratified;
      let trustError: JitError | undefined;
      if (!ratified) {
        if (pin && pinnedAt) wanted = { version: pin, commitSha: pinnedAt };
        else if (pin && head && head.blobId === pin) wanted = { version: pin, commitSha: (pinnedAt = head.commitId) };
        else if (pin && head) {
          trustError = PolicyNotTrusted(
            `the pinned policy version ${pin} (JIT_POLICY_PIN) is not policy.yaml on the default branch (${head.blobId} at ${head.commitId}); pin the version you have reviewed, or revert the default branch to it`,
          );
        } else if (!pin && head) {
          trustError = PolicyNotTrusted(
            `nothing on the log ratified a policy and no first policy is pinned, so nothing is granted; review policy.yaml on the default branch (version ${head.blobId}, commit ${head.commitId}) and start jit with JIT_POLICY_PIN=${head.blobId} to trust it`,
          );
        }
      }
      let loadError: JitError | undefined;
      if (wanted) {
        try {
          const lp = await loadRatified(wanted);
          if (inForce?.version !== lp.version) {
            options.logger?.info({ version: lp.version, commit: wanted.commitSha, how: ratified?.how ?? 'pin', mrIid: ratified?.mrIid, approvers: ratified?.approvers }, 'policy in force');
          }
          inForce = lp;
        } catch (err) {
          loadError = err instanceof JitError ? err : PolicyNotLoaded(err instanceof Error ? err.message : String(err), { cause: err });
        }
      }
      const unratified = head && inForce && head.blobId !== inForce.version ? { version: head.blobId, commitId: head.commitId, lastCommitId: head.lastCommitId } : undefined;
      let error = loadError ?? trustError ?? headError;
      let problems: PolicyProblem[] = (error?.details?.problems as PolicyProblem[] | undefined) ?? [];
      if (!error && unratified) {
        // What is wrong with it, if anything, helps whoever fixes it; it stays unadopted either way.
        try {
          compile(head!, head!.commitId);
        } catch (err) {
          if (err instanceof JitError) problems = (err.details?.problems as PolicyProblem[] | undefined) ?? [];
        }
        error = PolicyUnratified(unratified.version, `no verified policy merge ratified it (commit ${unratified.lastCommitId}); version ${inForce!.version} stays in force`);
      }
      if (error) {
        options.logger?.[unratified ? 'warn' : 'error'](
          { code: error.code, problems: problems.slice(0, 20), inForce: inForce?.version, latestVersion: head?.blobId },
          inForce ? `policy: ${error.message}` : `no policy in force: ${error.message}`,
        );
      }
      status = {
        ok: !error && inForce !== undefined,
        ...(inForce ? { version: inForce.version } : {}),
        ...(inForce && ratified && ratified.version === inForce.version ? { ratified: publicRatified(ratified) } : {}),
        ...(inForce && !ratified && pin === inForce.version ? { ratified: { version: pin, commitSha: inForce.commitId, how: 'pin' as const, approvers: [], ratifiedAt: inForce.loadedAt } } : {}),
        ...(head ? { latestVersion: head.blobId } : {}),
        ...(unratified ? { unratified } : {}),
        ...(pin ? { pinned: pin } : {}),
        problems,
        ...(error ? { error: { code: error.code, message: error.message } } : {}),
        checkedAt,
      };
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
    async atVersion(version) {
      const r = trust.ratified(version) ?? (pin === version && pinnedAt ? { version, commitSha: pinnedAt } : undefined);
      if (!r) throw PolicyVersionUnknown(version);
      return loadRatified(r);
    },
  };
}
