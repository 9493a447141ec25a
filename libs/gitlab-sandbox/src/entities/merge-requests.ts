// REST v4 response shapes (GitLab's API::Entities) of merge requests, their versions and diffs.
import type { Commit } from '../git';
import type { MergeRequest, Project, User } from '../model';
import type { SandboxState } from '../state';
import { iso, userBasic } from './accounts';
import { fileDiffs } from './repository';

type Json = Record<string, unknown>;

/** How many paths the MR changes (GitLab's changes_count), without computing the diffs. */
function changedPaths(s: SandboxState, p: Project, mr: MergeRequest): number {
  const refs = s.diffRefs(p, mr);
  const a = (refs.base_sha ? s.store.commit(refs.base_sha)?.files : undefined) ?? new Map<string, string>();
  const b = (s.store.commit(mr.headSha) as Commit).files;
  let n = 0;
  for (const path of new Set([...a.keys(), ...b.keys()])) if (a.get(path) !== b.get(path)) n++;
  return n;
}

/** The fields every merge request answer starts with (the MR entity, its approvals). */
export function mrBasics(p: Project, mr: MergeRequest): Json {
  return {
    id: mr.id,
    iid: mr.iid,
    project_id: p.id,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: iso(mr.createdAt),
    updated_at: iso(mr.updatedAt),
  };
}

export function mrEntity(s: SandboxState, p: Project, mr: MergeRequest, viewer: User | undefined, detailed = false): Json {
  const author = s.userById(mr.authorId) as User;
  const assignees = mr.assigneeIds.map((id) => s.userById(id)).filter((u): u is User => !!u);
  const reviewers = mr.reviewerIds.map((id) => s.userById(id)).filter((u): u is User => !!u);
  const mergeUser = mr.mergeUserId ? s.userById(mr.mergeUserId) : undefined;
  const closedBy = mr.closedById ? s.userById(mr.closedById) : undefined;
  const dms = s.detailedMergeStatus(p, mr);
  const out: Json = {
    ...mrBasics(p, mr),
    merged_by: mergeUser ? userBasic(s, mergeUser) : null,
    merge_user: mergeUser ? userBasic(s, mergeUser) : null,
    merged_at: iso(mr.mergedAt),
    merge_after: null,
    prepared_at: iso(mr.createdAt),
    closed_by: closedBy ? userBasic(s, closedBy) : null,
    closed_at: iso(mr.closedAt),
    target_branch: mr.targetBranch,
    source_branch: mr.sourceBranch,
    user_notes_count: mr.notes.filter((n) => !n.system).length,
    upvotes: 0,
    downvotes: 0,
    author: userBasic(s, author),
    assignees: assignees.map((u) => userBasic(s, u)),
    assignee: assignees[0] ? userBasic(s, assignees[0]) : null,
    reviewers: reviewers.map((u) => userBasic(s, u)),
    source_project_id: p.id,
    target_project_id: p.id,
    labels: [...mr.labels],
    draft: s.isDraft(mr),
    imported: false,
    imported_from: 'none',
    work_in_progress: s.isDraft(mr),
    milestone: null,
    merge_when_pipeline_succeeds: false,
    merge_status: dms === 'conflict' || dms === 'broken_status' ? 'cannot_be_merged' : 'can_be_merged',
    detailed_merge_status: dms,
    sha: mr.headSha,
    merge_commit_sha: mr.mergeCommitSha,
    squash_commit_sha: null,
    discussion_locked: null,
    should_remove_source_branch: null,
    force_remove_source_branch: mr.removeSourceBranch,
    // allow_collaboration / allow_maintainer_to_push: GitLab exposes them only on MRs from forks,
    // and the sandbox has no forks
    reference: `!${mr.iid}`,
    references: { short: `!${mr.iid}`, relative: `!${mr.iid}`, full: `${p.pathWithNamespace}!${mr.iid}` },
    web_url: `${s.instanceUrl}/${p.pathWithNamespace}/-/merge_requests/${mr.iid}`,
    time_stats: { time_estimate: 0, total_time_spent: 0, human_time_estimate: null, human_total_time_spent: null },
    squash: false,
    squash_on_merge: false,
    task_completion_status: { count: 0, completed_count: 0 },
    has_conflicts: s.hasConflicts(p, mr),
    blocking_discussions_resolved: true,
  };
  if (p.tier === 'premium') out['approvals_before_merge'] = p.approvalSettings.approvals_before_merge || null;
  if (detailed) {
    const refs = s.diffRefs(p, mr);
    Object.assign(out, {
      subscribed: false,
      changes_count: String(changedPaths(s, p, mr)),
      latest_build_started_at: null,
      latest_build_finished_at: null,
      first_deployed_to_production_at: null,
      pipeline: null,
      head_pipeline: null,
      diff_refs: refs,
      merge_error: null,
      first_contribution: false,
      user: { can_merge: viewer ? s.canMergeInto(viewer, p, mr.targetBranch) : false },
      diverged_commits_count: mr.state === 'opened' && refs.start_sha && refs.base_sha ? s.store.commitsBetween(refs.base_sha, refs.start_sha).length : 0,
    });
  }
  return out;
}

/**
 * GET /merge_requests/:iid/versions: GitLab's MergeRequestDiff entities, newest first. A state
 * file from before versions were kept reports one version, the head as of the MR's creation. Base
 * and start are today's for every version (the sandbox keeps only when each head arrived).
 */
export function mrVersions(s: SandboxState, p: Project, mr: MergeRequest): Json[] {
  const versions = mr.versions.length > 0 ? mr.versions : [{ id: 1, headSha: mr.headSha, createdAt: mr.createdAt }];
  const refs = s.diffRefs(p, mr);
  return [...versions].reverse().map((v) => ({
    id: v.id,
    head_commit_sha: v.headSha,
    base_commit_sha: refs.base_sha,
    start_commit_sha: refs.start_sha,
    created_at: iso(v.createdAt),
    merge_request_id: mr.id,
    state: 'collected',
    real_size: String(changedPaths(s, p, mr)),
    patch_id_sha: null,
  }));
}

export function mrDiffs(s: SandboxState, p: Project, mr: MergeRequest): Json[] {
  const refs = s.diffRefs(p, mr);
  const base = refs.base_sha ? s.store.commit(refs.base_sha) : undefined;
  return fileDiffs(s, base, s.store.commit(mr.headSha) as Commit);
}
