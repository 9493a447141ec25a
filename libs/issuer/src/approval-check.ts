// The issuer's own look at GitLab before it issues: what an `elevation.approved` claims is checked
// against what GitLab says now, as far as that is cheap (one MR, one file, one policy read). A
// signed approval from the gate passes; one a producer made up with its own recipient, a longer TTL
// or another requester does not, even if it got hold of a gate key.
import { isRetriable } from '@jit/errors';
import { contentHash, elevationId, grantId, parseElevationRequest, type ElevationApprovedData } from '@jit/contracts';
import { GitlabNotFound, type GitlabClient } from '@jit/gitlab';
import { tierByName, type PolicyModel } from '@jit/policy';
import { ApprovalMismatch } from './errors';

export interface ApprovalCheck {
  /** Resolves when GitLab agrees with the approval; throws ApprovalMismatch (or a GitLab error) otherwise. */
  check(data: ElevationApprovedData): Promise<void>;
}

export interface GitlabApprovalCheckOptions {
  gitlab: { projects: Pick<GitlabClient['projects'], 'show'>; mergeRequests: Pick<GitlabClient['mergeRequests'], 'show' | 'diffs'>; files: Pick<GitlabClient['files'], 'show'> };
  /** A ratified policy version (the policy store's `atVersion`); rejects for a version the log never ratified. */
  ratifiedPolicy(version: string): Promise<{ version: string; policy: PolicyModel }>;
}

export function createGitlabApprovalCheck(options: GitlabApprovalCheckOptions): ApprovalCheck {
  const { gitlab } = options;
  return {
    async check(data) {
      const problems: string[] = [];
      // The ids the ledger dedupes by must be those of this MR and merge: a fresh elevation or grant
      // id over a real merged MR would be issued again, however often it had been before.
      const expectedElevation = elevationId(data.projectId, data.mrIid);
      if (data.elevationId !== expectedElevation) problems.push(`the elevation id ${data.elevationId} is not that of MR !${data.mrIid} (${expectedElevation})`);
      else if (data.grantId !== grantId(expectedElevation, data.mergeSha)) problems.push(`the grant id ${data.grantId} is not that of the merge at ${data.mergeSha}`);
      const [project, mr, diffs] = await Promise.all([
        gitlab.projects.show(data.projectId),
        gitlab.mergeRequests.show(data.projectId, data.mrIid),
        gitlab.mergeRequests.diffs(data.projectId, data.mrIid),
      ]);
      // the request must be this MR's own: any other request file still in the tree at its merge
      // (approved long ago for another MR) would otherwise be issued again under this MR's ids
      if (!diffs.some((d) => d.newPath === data.requestPath && !d.deletedFile)) problems.push(`MR !${data.mrIid} does not change ${data.requestPath}`);
      if (mr.state !== 'merged') problems.push(`MR !${data.mrIid} is ${mr.state}, not merged`);
      if (mr.mergeCommitSha !== data.mergeSha && mr.squashCommitSha !== data.mergeSha) problems.push(`MR !${data.mrIid} was not merged at ${data.mergeSha}`);
      if (mr.targetBranch !== project.defaultBranch) problems.push(`MR !${data.mrIid} targets ${mr.targetBranch}, not the default branch`);
      if (mr.author.username.toLowerCase() !== data.requester.toLowerCase()) problems.push(`the requester is ${mr.author.username}, not ${data.requester}`);
      // GitLab's own record of the MR already refutes the approval: final, whatever the commit it names
      // (a sha GitLab never had answers 404 Commit Not Found, which alone would be retried)
      if (problems.length > 0) throw ApprovalMismatch(data.elevationId, problems.join('; '));
      const file = await gitlab.files.show(data.projectId, data.requestPath, data.mergeSha).catch((err: unknown) => {
        if (GitlabNotFound.is(err)) return undefined;
        throw err;
      });
      if (!file) problems.push(`${data.requestPath} does not exist at ${data.mergeSha}`);
      else if (contentHash(file.content) !== data.contentHash) problems.push(`${data.requestPath} at ${data.mergeSha} is not the approved content`);
      else {
        const parsed = parseElevationRequest(Buffer.from(file.content).toString('utf8'));
        if (!parsed.ok) problems.push(`${data.requestPath} at ${data.mergeSha} is not a valid request`);
        else {
          const spec = parsed.request.spec;
          if (spec.recipient !== data.recipient) problems.push('the recipient is not the request file’s');
          if (spec.ttlSeconds !== data.ttlSeconds) problems.push(`the TTL is not the request file’s (${spec.ttl})`);
          if (spec.target !== data.target || spec.scope !== data.scope) problems.push(`the target is not the request file’s (${spec.target}/${spec.scope})`);
          if (spec.breakGlass !== data.breakGlass) problems.push('break-glass is not as in the request file');
        }
      }
      // the TTL ceiling of the ratified version the approval names (never policy.yaml at the merge commit)
      const ratified = await options.ratifiedPolicy(data.policyVersion).catch((err: unknown) => {
        if (isRetriable(err)) throw err;
        return undefined;
      });
      if (!ratified || ratified.version !== data.policyVersion) problems.push(`policy version ${data.policyVersion} is not a valid ratified policy`);
      else {
        const { policy } = ratified;
        const ceiling = ttlCeiling(policy, data);
        if (ceiling === undefined) problems.push(`${data.target}/${data.scope} at tier ${data.tier} is not in the policy`);
        else if (data.ttlSeconds > ceiling) problems.push(`the TTL ${data.ttlSeconds}s is above the policy's ceiling of ${ceiling}s`);
      }
      if (problems.length > 0) throw ApprovalMismatch(data.elevationId, problems.join('; '));
    },
  };
}

/** The lowest TTL ceiling that applies: break-glass's, or those of the approved tier and of the scope's tier. */
function ttlCeiling(policy: PolicyModel, data: ElevationApprovedData): number | undefined {
  const scope = policy.targets[data.target]?.scopes[data.scope];
  if (!scope) return undefined;
  if (data.breakGlass) return policy.breakGlass?.ttlMaxSeconds;
  const tiers = [tierByName(policy, data.tier), tierByName(policy, scope.tier)];
  if (tiers.some((t) => !t)) return undefined;
  return Math.min(...tiers.map((t) => t!.ttlMaxSeconds));
}
