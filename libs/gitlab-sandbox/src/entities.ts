// REST v4 response shapes (GitLab's API::Entities), built from the sandbox's records.
import { createHash } from 'node:crypto';
import { structuredPatch } from 'diff';
import type { Commit } from './git';
import type { ApprovalRule, CommitStatus, Group, Hook, Issue, Label, MergeRequest, Note, Project, PushEvent, User } from './model';
import type { SandboxState } from './state';

type Json = Record<string, unknown>;

export const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function avatarUrl(user: User): string {
  const hash = createHash('sha256').update(user.email.toLowerCase()).digest('hex');
  return `https://www.gravatar.com/avatar/${hash}?s=80&d=identicon`;
}

export function userBasic(s: SandboxState, user: User): Json {
  return {
    id: user.id,
    username: user.username,
    name: user.name,
    state: user.state,
    locked: false,
    avatar_url: avatarUrl(user),
    web_url: `${s.instanceUrl}/${user.username}`,
  };
}

export function userFull(s: SandboxState, user: User, self: boolean): Json {
  const out: Json = {
    ...userBasic(s, user),
    created_at: iso(user.createdAt),
    bio: '',
    location: '',
    public_email: null,
    linkedin: '',
    twitter: '',
    website_url: '',
    organization: '',
    job_title: '',
    bot: user.bot,
  };
  if (self) {
    // API::Entities::UserPublic (GET /user): a sandbox user never signed in through a browser; its
    // sign-in and confirmation times are its creation, with GitLab's defaults for the rest.
    const created = iso(user.createdAt);
    Object.assign(out, {
      skype: '',
      discord: '',
      last_sign_in_at: created,
      confirmed_at: created,
      last_activity_on: created!.slice(0, 10),
      email: user.email,
      theme_id: 1,
      color_scheme_id: 1,
      projects_limit: 100000,
      current_sign_in_at: created,
      identities: [],
      can_create_group: true,
      can_create_project: true,
      two_factor_enabled: false,
      external: false,
      private_profile: false,
      commit_email: user.email,
      is_admin: user.admin,
    });
  }
  return out;
}

export function groupEntity(s: SandboxState, g: Group): Json {
  return {
    id: g.id,
    name: g.name,
    path: g.path,
    full_path: g.fullPath,
    full_name: s.groupAncestry(g).reverse().map((x) => x.name).join(' / '),
    description: '',
    visibility: 'private',
    web_url: `${s.instanceUrl}/groups/${g.fullPath}`,
    parent_id: g.parentId,
    created_at: iso(g.createdAt),
  };
}

export function memberEntity(s: SandboxState, user: User, level: number): Json {
  return { ...userBasic(s, user), access_level: level, created_at: iso(user.createdAt), expires_at: null, membership_state: 'active' };
}

export function projectEntity(s: SandboxState, p: Project): Json {
  const ns = s.namespaceOf(p);
  const web = `${s.instanceUrl}/${p.pathWithNamespace}`;
  const host = new URL(s.instanceUrl).host;
  return {
    id: p.id,
    description: p.description,
    name: p.name,
    name_with_namespace: `${s.groupAncestry(ns).reverse().map((x) => x.name).join(' / ')} / ${p.name}`,
    path: p.path,
    path_with_namespace: p.pathWithNamespace,
    created_at: iso(p.createdAt),
    default_branch: p.defaultBranch,
    tag_list: [],
    topics: [],
    ssh_url_to_repo: `git@${host}:${p.pathWithNamespace}.git`,
    http_url_to_repo: `${web}.git`,
    web_url: web,
    readme_url: null,
    avatar_url: null,
    forks_count: 0,
    star_count: 0,
    last_activity_at: iso(p.createdAt),
    namespace: {
      id: ns.id,
      name: ns.name,
      path: ns.path,
      kind: 'group',
      full_path: ns.fullPath,
      parent_id: ns.parentId,
      avatar_url: null,
      web_url: `${s.instanceUrl}/groups/${ns.fullPath}`,
    },
    visibility: p.visibility,
    archived: false,
    empty_repo: false,
    merge_method: 'merge',
    only_allow_merge_if_pipeline_succeeds: false,
    only_allow_merge_if_all_discussions_are_resolved: false,
    remove_source_branch_after_merge: true,
    approvals_before_merge: p.tier === 'premium' ? p.approvalSettings.approvals_before_merge : 0,
    merge_requests_enabled: true,
    issues_enabled: true,
  };
}

export function commitEntity(s: SandboxState, p: Project, c: Commit, detailed = false): Json {
  const title = c.message.split('\n')[0] ?? '';
  const out: Json = {
    id: c.id,
    short_id: c.id.slice(0, 8),
    created_at: new Date(c.committer.time * 1000).toISOString(),
    parent_ids: c.parents,
    title,
    message: c.message,
    author_name: c.author.name,
    author_email: c.author.email,
    authored_date: new Date(c.author.time * 1000).toISOString(),
    committer_name: c.committer.name,
    committer_email: c.committer.email,
    committed_date: new Date(c.committer.time * 1000).toISOString(),
    trailers: {},
    extended_trailers: {},
    web_url: `${s.instanceUrl}/${p.pathWithNamespace}/-/commit/${c.id}`,
  };
  if (detailed) {
    const parent = c.parents[0] ? s.store.commit(c.parents[0]) : undefined;
    const diffs = fileDiffs(s, parent, c);
    let additions = 0;
    let deletions = 0;
    for (const d of diffs) {
      for (const line of String(d['diff']).split('\n')) {
        if (line.startsWith('+')) additions++;
        else if (line.startsWith('-')) deletions++;
      }
    }
    out['stats'] = { additions, deletions, total: additions + deletions };
    out['status'] = null;
    out['project_id'] = p.id;
    out['last_pipeline'] = null;
  }
  return out;
}

export function branchEntity(s: SandboxState, p: Project, name: string, sha: string, user: User | undefined): Json {
  const c = s.store.commit(sha) as Commit;
  const pb = s.protectedBranch(p, name);
  return {
    name,
    merged: name !== p.defaultBranch && s.store.isAncestor(sha, p.branches.get(p.defaultBranch) ?? ''),
    protected: !!pb,
    default: name === p.defaultBranch,
    developers_can_push: pb ? pb.pushAccessLevel <= 30 : false,
    developers_can_merge: pb ? pb.mergeAccessLevel <= 30 : false,
    can_push: user ? s.canPush(user, p, name) : false,
    web_url: `${s.instanceUrl}/${p.pathWithNamespace}/-/tree/${name}`,
    commit: commitEntity(s, p, c),
  };
}

const isBinary = (buf: Buffer): boolean => buf.includes(0);

/** GitLab's diff entries (old_path, new_path, a_mode, b_mode, new/renamed/deleted flags, unified diff text). */
export function fileDiffs(s: SandboxState, from: Commit | undefined, to: Commit): Json[] {
  const a = from?.files ?? new Map<string, string>();
  const b = to.files;
  const out: Json[] = [];
  const deleted = [...a.keys()].filter((k) => !b.has(k));
  const added = [...b.keys()].filter((k) => !a.has(k));
  // A deleted and an added path with the same blob is a rename, as git reports it.
  const renames = new Map<string, string>();
  for (const d of deleted) {
    const match = added.find((n) => b.get(n) === a.get(d) && ![...renames.values()].includes(n));
    if (match) renames.set(d, match);
  }
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const path of paths) {
    const va = a.get(path);
    const vb = b.get(path);
    if (va === vb) continue;
    if (va !== undefined && vb === undefined && renames.has(path)) {
      const to2 = renames.get(path) as string;
      out.push({ old_path: path, new_path: to2, a_mode: '100644', b_mode: '100644', new_file: false, renamed_file: true, deleted_file: false, generated_file: false, diff: '' });
      continue;
    }
    if (va === undefined && [...renames.values()].includes(path)) continue;
    const oldText = va ? (s.store.blob(va) as Buffer) : Buffer.alloc(0);
    const newText = vb ? (s.store.blob(vb) as Buffer) : Buffer.alloc(0);
    let diff: string;
    if (isBinary(oldText) || isBinary(newText)) diff = `Binary files ${va ? `a/${path}` : '/dev/null'} and ${vb ? `b/${path}` : '/dev/null'} differ\n`;
    else {
      const patch = structuredPatch(path, path, oldText.toString('utf8'), newText.toString('utf8'), '', '', { context: 3 });
      diff = patch.hunks
        .map((h) => {
          // git writes an empty side as "<line before>,0" and a one-line side without a count.
          const range = (start: number, lines: number) => (lines === 1 ? `${start}` : lines === 0 ? `${start - 1},0` : `${start},${lines}`);
          return `@@ -${range(h.oldStart, h.oldLines)} +${range(h.newStart, h.newLines)} @@\n${h.lines.join('\n')}\n`;
        })
        .join('');
    }
    out.push({
      old_path: path,
      new_path: path,
      a_mode: va ? '100644' : '0',
      b_mode: vb ? '100644' : '0',
      new_file: va === undefined,
      renamed_file: false,
      deleted_file: vb === undefined,
      generated_file: false,
      diff,
    });
  }
  return out;
}

export function labelEntity(p: Project, l: Label, counts?: { openMr: number; openIssues: number }): Json {
  return {
    id: l.id,
    name: l.name,
    color: l.color,
    text_color: '#FFFFFF',
    description: l.description,
    description_html: l.description ?? '',
    open_issues_count: counts?.openIssues ?? 0,
    closed_issues_count: 0,
    open_merge_requests_count: counts?.openMr ?? 0,
    subscribed: false,
    priority: null,
    is_project_label: true,
    project_id: p.id,
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
    id: mr.id,
    iid: mr.iid,
    project_id: p.id,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: iso(mr.createdAt),
    updated_at: iso(mr.updatedAt),
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

/** How many paths the MR changes (GitLab's changes_count), without computing the diffs. */
function changedPaths(s: SandboxState, p: Project, mr: MergeRequest): number {
  const refs = s.diffRefs(p, mr);
  const a = (refs.base_sha ? s.store.commit(refs.base_sha)?.files : undefined) ?? new Map<string, string>();
  const b = (s.store.commit(mr.headSha) as Commit).files;
  let n = 0;
  for (const path of new Set([...a.keys(), ...b.keys()])) if (a.get(path) !== b.get(path)) n++;
  return n;
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

/**
 * An approval rule as GitLab shows it: `project` rules (EE ProjectApprovalRule) carry their
 * protected branches, `mr` rules (MergeRequestApprovalRule) their section, source rule and
 * whether they override it.
 */
export function ruleEntity(s: SandboxState, p: Project, rule: ApprovalRule, kind: 'project' | 'mr'): Json {
  const users = rule.userIds.map((id) => s.userById(id)).filter((u): u is User => !!u);
  const groups = rule.groupIds.map((id) => s.groupById(id)).filter((g): g is Group => !!g);
  return {
    id: rule.id,
    name: rule.name,
    rule_type: rule.ruleType,
    eligible_approvers: s.ruleEligible(p, rule).map((u) => userBasic(s, u)),
    approvals_required: rule.approvalsRequired,
    users: users.map((u) => userBasic(s, u)),
    groups: groups.map((g) => groupEntity(s, g)),
    contains_hidden_groups: false,
    ...(kind === 'mr'
      ? { section: null, source_rule: rule.sourceRuleId ? { approvals_required: rule.approvalsRequired } : null, overridden: false }
      : { protected_branches: [], applies_to_all_protected_branches: false }),
  };
}

/** GET …/merge_requests/:iid/approvals (API::Entities::MergeRequestApprovals, EE fields on premium). */
export function approvalsEntity(s: SandboxState, p: Project, mr: MergeRequest, viewer: User | undefined): Json {
  const approvedBy = mr.approvals
    .map((a) => ({ a, u: s.userById(a.userId) }))
    .filter((x): x is { a: (typeof mr.approvals)[number]; u: User } => !!x.u)
    .map(({ a, u }) => ({ user: userBasic(s, u), approved_at: iso(a.createdAt) }));
  const premium = p.tier === 'premium';
  const left = s.approvalsLeft(p, mr);
  return {
    id: mr.id,
    iid: mr.iid,
    project_id: p.id,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    created_at: iso(mr.createdAt),
    updated_at: iso(mr.updatedAt),
    merge_status: 'can_be_merged',
    approved: s.isApproved(p, mr),
    approvals_required: premium ? s.approvalsRequired(p, mr) : 0,
    approvals_left: premium ? left : 0,
    require_password_to_approve: p.approvalSettings.require_password_to_approve,
    approved_by: approvedBy,
    suggested_approvers: [],
    approvers: [],
    approver_groups: [],
    user_has_approved: viewer ? mr.approvals.some((a) => a.userId === viewer.id) : false,
    user_can_approve: viewer ? s.accessLevel(viewer, p) >= 30 && !s.approvalRefusal(p, mr, viewer) : false,
    approval_rules_left: premium
      ? s
          .ruleStates(p, mr)
          .filter((r) => !r.approved)
          .map((r) => ({ id: r.rule.id, name: r.rule.name, rule_type: r.rule.ruleType }))
      : [],
    has_approval_rules: premium && s.effectiveRules(p, mr).length > 0,
    merge_request_approvers_available: premium,
    multiple_approval_rules_available: premium,
    invalid_approvers_rules: [],
  };
}

export function approvalStateEntity(s: SandboxState, p: Project, mr: MergeRequest): Json {
  return {
    approval_rules_overwritten: mr.rulesOverwritten,
    rules: s.ruleStates(p, mr).map((st) =>
      ({ ...ruleEntity(s, p, st.rule, 'mr'), approved_by: st.approvedBy.map((u) => userBasic(s, u)), approved: st.approved }),
    ),
  };
}

export function projectApprovalsEntity(s: SandboxState, p: Project): Json {
  return {
    approvers: [],
    approver_groups: [],
    ...p.approvalSettings,
  };
}

export function noteEntity(s: SandboxState, p: Project, n: Note): Json {
  const author = s.userById(n.authorId) as User;
  return {
    id: n.id,
    type: null,
    body: n.body,
    attachment: null,
    author: userBasic(s, author),
    created_at: iso(n.createdAt),
    updated_at: iso(n.updatedAt),
    system: n.system,
    noteable_id: n.noteableId,
    noteable_type: n.noteableType,
    project_id: p.id,
    resolvable: false,
    confidential: false,
    internal: false,
    imported: false,
    imported_from: 'none',
    noteable_iid: n.noteableIid,
    commands_changes: {},
  };
}

/** GitLab's API::Entities::Event for a push: `push_data` is API::Entities::PushEventPayload. */
export function pushEventEntity(s: SandboxState, p: Project, e: PushEvent): Json {
  const author = s.userById(e.authorId) as User;
  return {
    id: e.id,
    project_id: p.id,
    action_name: e.action === 'created' ? 'pushed new' : e.action === 'removed' ? 'deleted' : 'pushed to',
    target_id: null,
    target_iid: null,
    target_type: null,
    author_id: author.id,
    target_title: null,
    created_at: iso(e.createdAt),
    author: userBasic(s, author),
    imported: false,
    imported_from: 'none',
    push_data: {
      commit_count: e.commitCount,
      action: e.action,
      ref_type: 'branch',
      commit_from: e.commitFrom,
      commit_to: e.commitTo,
      ref: e.ref,
      commit_title: e.commitTitle,
      ref_count: null,
    },
    author_username: author.username,
  };
}

export function statusEntity(s: SandboxState, st: CommitStatus): Json {
  const author = s.userById(st.authorId) as User;
  return {
    id: st.id,
    sha: st.sha,
    ref: st.ref,
    status: st.status,
    name: st.name,
    target_url: st.targetUrl,
    description: st.description,
    created_at: iso(st.createdAt),
    started_at: iso(st.startedAt),
    finished_at: iso(st.finishedAt),
    allow_failure: false,
    coverage: st.coverage,
    pipeline_id: null,
    author: userBasic(s, author),
  };
}

export function issueEntity(s: SandboxState, p: Project, i: Issue): Json {
  const author = s.userById(i.authorId) as User;
  const assignees = i.assigneeIds.map((id) => s.userById(id)).filter((u): u is User => !!u);
  return {
    id: i.id,
    iid: i.iid,
    project_id: p.id,
    title: i.title,
    description: i.description,
    state: i.state,
    created_at: iso(i.createdAt),
    updated_at: iso(i.updatedAt),
    closed_at: iso(i.closedAt),
    closed_by: null,
    labels: [...i.labels],
    milestone: null,
    assignees: assignees.map((u) => userBasic(s, u)),
    author: userBasic(s, author),
    type: 'ISSUE',
    assignee: assignees[0] ? userBasic(s, assignees[0]) : null,
    user_notes_count: i.notes.length,
    merge_requests_count: 0,
    upvotes: 0,
    downvotes: 0,
    due_date: i.dueDate,
    confidential: i.confidential,
    discussion_locked: null,
    issue_type: 'issue',
    web_url: `${s.instanceUrl}/${p.pathWithNamespace}/-/issues/${i.iid}`,
    time_stats: { time_estimate: 0, total_time_spent: 0, human_time_estimate: null, human_total_time_spent: null },
    task_completion_status: { count: 0, completed_count: 0 },
    references: { short: `#${i.iid}`, relative: `#${i.iid}`, full: `${p.pathWithNamespace}#${i.iid}` },
  };
}

export function hookEntity(h: Hook): Json {
  // Tokens are write-only in GitLab's API: only whether one is set is returned.
  return {
    id: h.id,
    url: h.url,
    token_present: h.token !== null,
    signing_token_present: h.signingToken !== null,
    name: null,
    description: null,
    project_id: h.projectId,
    created_at: iso(h.createdAt),
    push_events: h.events.push_events,
    tag_push_events: false,
    merge_requests_events: h.events.merge_requests_events,
    repository_update_events: false,
    enable_ssl_verification: h.enableSslVerification,
    alert_status: 'executable',
    disabled_until: null,
    url_variables: [],
    issues_events: h.events.issues_events,
    confidential_issues_events: false,
    note_events: h.events.note_events,
    confidential_note_events: false,
    pipeline_events: false,
    wiki_page_events: false,
    deployment_events: false,
    job_events: false,
    releases_events: false,
    push_events_branch_filter: null,
    emoji_events: false,
    resource_access_token_events: false,
    feature_flag_events: false,
    branch_filter_strategy: 'wildcard',
    custom_webhook_template: '',
    custom_headers: [],
  };
}
