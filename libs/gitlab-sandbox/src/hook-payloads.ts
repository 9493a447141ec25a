// Webhook bodies with the keys and types of GitLab's documented examples
// (doc/user/project/integrations/webhook_events.md; copies in fixtures/).
import { createHash } from 'node:crypto';
import type { Commit } from './git';
import { avatarUrl } from './entities/accounts';
import type { Issue, Label, MergeRequest, Note, Project, User } from './model';
import { hookTime, type SandboxEvent, type SandboxState } from './state';

type Json = Record<string, unknown>;

const VISIBILITY_LEVEL = { private: 0, internal: 10, public: 20 } as const;
const STATE_ID = { opened: 1, closed: 2, merged: 3 } as const;

/** "2013-12-03T17:23:34Z": the format of the MR hook's object_attributes timestamps. */
const isoSeconds = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function hookUser(user: User): Json {
  return { id: user.id, name: user.name, username: user.username, avatar_url: avatarUrl(user), email: user.email };
}

function hookUserShort(user: User): Json {
  return { id: user.id, name: user.name, username: user.username, avatar_url: avatarUrl(user) };
}

/** Project attributes; the MR hook's top-level `project` also carries ci_config_path, as documented. */
function projectAttrs(s: SandboxState, p: Project, withCiConfigPath = false): Json {
  const web = `${s.instanceUrl}/${p.pathWithNamespace}`;
  const host = new URL(s.instanceUrl).host;
  const ns = s.namespaceOf(p);
  return {
    name: p.name,
    description: p.description,
    web_url: web,
    avatar_url: null,
    git_ssh_url: `git@${host}:${p.pathWithNamespace}.git`,
    git_http_url: `${web}.git`,
    namespace: ns.name,
    visibility_level: VISIBILITY_LEVEL[p.visibility],
    path_with_namespace: p.pathWithNamespace,
    default_branch: p.defaultBranch,
    ...(withCiConfigPath ? { ci_config_path: '' } : {}),
    homepage: web,
    url: `${web}.git`,
    ssh_url: `git@${host}:${p.pathWithNamespace}.git`,
    http_url: `${web}.git`,
  };
}

export function hookProject(s: SandboxState, p: Project, withCiConfigPath = false): Json {
  return { id: p.id, ...projectAttrs(s, p, withCiConfigPath) };
}

function hookRepository(s: SandboxState, p: Project): Json {
  const web = `${s.instanceUrl}/${p.pathWithNamespace}`;
  return { name: p.name, url: `${web}.git`, description: p.description, homepage: web };
}

function hookLabels(s: SandboxState, p: Project, names: string[]): Json[] {
  return names
    .map((n) => p.labels.find((l) => l.name === n))
    .filter((l): l is Label => !!l)
    .map((l) => ({
      id: l.id,
      title: l.name,
      color: l.color,
      project_id: p.id,
      created_at: isoSeconds(l.createdAt),
      updated_at: isoSeconds(l.createdAt),
      template: false,
      description: l.description,
      type: 'ProjectLabel',
      group_id: null,
    }));
}

/** A commit as hooks show it; the MR hook's last_commit has a title, the note hook's does not. */
function hookCommit(s: SandboxState, p: Project, c: Commit | undefined, withTitle: boolean): Json | null {
  if (!c) return null;
  return {
    id: c.id,
    message: c.message,
    ...(withTitle ? { title: c.message.split('\n')[0] ?? '' } : {}),
    timestamp: new Date(c.author.time * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00'),
    url: `${s.instanceUrl}/${p.pathWithNamespace}/-/commit/${c.id}`,
    author: { name: c.author.name, email: c.author.email },
  };
}

function mrAttributes(s: SandboxState, p: Project, mr: MergeRequest): Json {
  const draft = s.isDraft(mr);
  const dms = s.detailedMergeStatus(p, mr);
  return {
    id: mr.id,
    iid: mr.iid,
    target_branch: mr.targetBranch,
    source_branch: mr.sourceBranch,
    source_project_id: p.id,
    author_id: mr.authorId,
    assignee_ids: [...mr.assigneeIds],
    assignee_id: mr.assigneeIds[0] ?? null,
    reviewer_ids: [...mr.reviewerIds],
    title: mr.title,
    created_at: isoSeconds(mr.createdAt),
    updated_at: isoSeconds(mr.updatedAt),
    last_edited_at: mr.lastEditedAt ? isoSeconds(mr.lastEditedAt) : null,
    last_edited_by_id: mr.lastEditedById,
    milestone_id: null,
    state_id: STATE_ID[mr.state],
    state: mr.state,
    blocking_discussions_resolved: true,
    work_in_progress: draft,
    draft,
    first_contribution: false,
    merge_status: dms === 'conflict' || dms === 'broken_status' ? 'cannot_be_merged' : 'can_be_merged',
    target_project_id: p.id,
    description: mr.description,
    prepared_at: isoSeconds(mr.createdAt),
    total_time_spent: 0,
    time_change: 0,
    human_total_time_spent: null,
    human_time_change: null,
    human_time_estimate: null,
    url: `${s.instanceUrl}/${p.pathWithNamespace}/-/merge_requests/${mr.iid}`,
    source: projectAttrs(s, p),
    target: projectAttrs(s, p),
    last_commit: hookCommit(s, p, s.store.commit(mr.headSha), true),
    labels: hookLabels(s, p, mr.labels),
    detailed_merge_status: dms,
    // Sent by GitLab's MergeRequestBuilder (its safe hook attributes) though the documented
    // example leaves them out; the values GitLab has for an MR without pipelines or auto-merge.
    merge_commit_sha: mr.mergeCommitSha,
    head_pipeline_id: null,
    merge_error: null,
    merge_params: mr.removeSourceBranch ? { force_remove_source_branch: true } : {}, // the API's remove_source_branch, a boolean
    merge_user_id: mr.mergeUserId,
    merge_when_pipeline_succeeds: false,
    time_estimate: 0,
    updated_by_id: mr.updatedById,
  };
}

function serialiseChanges(s: SandboxState, p: Project, changes: Record<string, { previous: unknown; current: unknown }>): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(changes)) {
    if (k === 'labels') out[k] = { previous: hookLabels(s, p, v.previous as string[]), current: hookLabels(s, p, v.current as string[]) };
    else if (k === 'assignees' || k === 'reviewers') {
      const users = (ids: unknown) =>
        (ids as number[])
          .map((id) => s.userById(id))
          .filter((u): u is User => !!u)
          .map(hookUserShort);
      out[k] = { previous: users(v.previous), current: users(v.current) };
    } else if (k === 'targetBranch') out['target_branch'] = v;
    else out[k] = v;
  }
  return out;
}

export function mergeRequestPayload(s: SandboxState, ev: Extract<SandboxEvent, { kind: 'merge_request' }>): Json {
  const { project: p, mr } = ev;
  const attrs: Json = { ...mrAttributes(s, p, mr), action: ev.action };
  if (ev.oldrev !== undefined) attrs['oldrev'] = ev.oldrev;
  const users = (ids: number[]) =>
    ids
      .map((id) => s.userById(id))
      .filter((u): u is User => !!u)
      .map(hookUserShort);
  const out: Json = {
    object_kind: 'merge_request',
    event_type: 'merge_request',
    user: hookUser(ev.actor),
    project: hookProject(s, p, true),
    repository: hookRepository(s, p),
    object_attributes: attrs,
    labels: hookLabels(s, p, mr.labels),
    changes: serialiseChanges(s, p, ev.changes),
  };
  // GitLab's DataBuilder adds these only when there are any.
  if (mr.assigneeIds.length > 0) out['assignees'] = users(mr.assigneeIds);
  if (mr.reviewerIds.length > 0) out['reviewers'] = users(mr.reviewerIds);
  return out;
}

function noteAttributes(s: SandboxState, p: Project, n: Note, action: string, url: string): Json {
  return {
    id: n.id,
    note: n.body,
    noteable_type: n.noteableType,
    author_id: n.authorId,
    created_at: hookTime(n.createdAt),
    updated_at: hookTime(n.updatedAt),
    project_id: p.id,
    attachment: null,
    line_code: null,
    commit_id: '',
    noteable_id: n.noteableId,
    system: n.system,
    st_diff: null,
    // Sent by GitLab's NoteBuilder (its safe hook attributes) though the documented example leaves
    // them out; a comment in the sandbox is a plain, non-internal note outside any diff thread.
    type: null,
    discussion_id: discussionId(n),
    internal: false,
    position: null,
    original_position: null,
    change_position: null,
    resolved_at: null,
    resolved_by_id: null,
    resolved_by_push: null,
    updated_by_id: n.updatedById,
    action,
    url,
  };
}

/**
 * GitLab gives an individual note its own discussion: a 40-hex id (SHA-1 over the noteable and a
 * random part). The sandbox derives it from the note id instead, so it is stable without storing it.
 */
export function discussionId(n: Note): string {
  return createHash('sha1').update(`discussion-${n.noteableType}-${n.noteableId}-${n.id}`).digest('hex');
}

function noteMergeRequest(s: SandboxState, p: Project, mr: MergeRequest): Json {
  const assignee = mr.assigneeIds[0] ? s.userById(mr.assigneeIds[0]) : undefined;
  const draft = s.isDraft(mr);
  const dms = s.detailedMergeStatus(p, mr);
  return {
    id: mr.id,
    target_branch: mr.targetBranch,
    source_branch: mr.sourceBranch,
    source_project_id: p.id,
    author_id: mr.authorId,
    assignee_id: assignee ? assignee.id : null,
    title: mr.title,
    created_at: hookTime(mr.createdAt),
    updated_at: hookTime(mr.updatedAt),
    milestone_id: null,
    state: mr.state,
    merge_status: dms === 'conflict' || dms === 'broken_status' ? 'cannot_be_merged' : 'can_be_merged',
    target_project_id: p.id,
    iid: mr.iid,
    description: mr.description,
    position: 0,
    labels: hookLabels(s, p, mr.labels),
    source: projectAttrs(s, p),
    target: projectAttrs(s, p),
    last_commit: hookCommit(s, p, s.store.commit(mr.headSha), false),
    work_in_progress: draft,
    draft,
    assignee: assignee ? { name: assignee.name, username: assignee.username, avatar_url: avatarUrl(assignee) } : null,
    detailed_merge_status: dms,
  };
}

function noteIssue(s: SandboxState, p: Project, i: Issue): Json {
  return {
    id: i.id,
    title: i.title,
    assignee_ids: [...i.assigneeIds],
    assignee_id: i.assigneeIds[0] ?? null,
    author_id: i.authorId,
    project_id: p.id,
    created_at: hookTime(i.createdAt),
    updated_at: hookTime(i.updatedAt),
    position: 0,
    branch_name: null,
    description: i.description,
    milestone_id: null,
    state: i.state,
    iid: i.iid,
    labels: hookLabels(s, p, i.labels),
  };
}

export function notePayload(s: SandboxState, ev: Extract<SandboxEvent, { kind: 'note' }>): Json {
  const { project: p, note } = ev;
  const base = `${s.instanceUrl}/${p.pathWithNamespace}`;
  const url = ev.mr ? `${base}/-/merge_requests/${ev.mr.iid}#note_${note.id}` : `${base}/-/issues/${note.noteableIid}#note_${note.id}`;
  const out: Json = {
    object_kind: 'note',
    event_type: ev.issue?.confidential ? 'confidential_note' : 'note',
    user: hookUser(ev.actor),
    project_id: p.id,
    project: hookProject(s, p),
    repository: hookRepository(s, p),
    object_attributes: noteAttributes(s, p, note, ev.action, url),
  };
  if (ev.mr) out['merge_request'] = noteMergeRequest(s, p, ev.mr);
  if (ev.issue) out['issue'] = noteIssue(s, p, ev.issue);
  return out;
}

export function issuePayload(s: SandboxState, ev: Extract<SandboxEvent, { kind: 'issue' }>): Json {
  const { project: p, issue: i } = ev;
  const assignees = i.assigneeIds.map((id) => s.userById(id)).filter((u): u is User => !!u);
  const short = (u: User) => ({ name: u.name, username: u.username, avatar_url: avatarUrl(u) });
  const out: Json = {
    object_kind: 'issue',
    event_type: i.confidential ? 'confidential_issue' : 'issue',
    user: hookUser(ev.actor),
    project: hookProject(s, p, true),
    object_attributes: {
      id: i.id,
      title: i.title,
      assignee_ids: [...i.assigneeIds],
      assignee_id: i.assigneeIds[0] ?? null,
      author_id: i.authorId,
      project_id: p.id,
      created_at: isoSeconds(i.createdAt),
      updated_at: isoSeconds(i.updatedAt),
      updated_by_id: i.updatedById,
      last_edited_at: null,
      last_edited_by_id: null,
      relative_position: 0,
      description: i.description,
      milestone_id: null,
      state_id: i.state === 'opened' ? 1 : 2,
      confidential: i.confidential,
      discussion_locked: null,
      due_date: i.dueDate,
      moved_to_id: null,
      duplicated_to_id: null,
      time_estimate: 0,
      total_time_spent: 0,
      time_change: 0,
      human_total_time_spent: null,
      human_time_estimate: null,
      human_time_change: null,
      weight: null,
      health_status: null,
      type: 'Issue',
      iid: i.iid,
      url: `${s.instanceUrl}/${p.pathWithNamespace}/-/issues/${i.iid}`,
      state: i.state,
      action: ev.action,
      // escalation_status / escalation_policy are only sent for incidents.
      severity: 'unknown',
      labels: hookLabels(s, p, i.labels),
    },
    repository: hookRepository(s, p),
    labels: hookLabels(s, p, i.labels),
    changes: serialiseChanges(s, p, ev.changes),
  };
  // GitLab's DataBuilder adds `assignees` (and the deprecated first `assignee`) only when there are any.
  if (assignees[0]) {
    out['assignees'] = assignees.map(short);
    out['assignee'] = short(assignees[0]);
  }
  return out;
}

/** Push Hook: a branch moved, was created (before = 0…0) or deleted (after = 0…0). */
export function pushPayload(s: SandboxState, ev: Extract<SandboxEvent, { kind: 'push' }>): Json {
  const { project: p, actor } = ev;
  const web = `${s.instanceUrl}/${p.pathWithNamespace}`;
  const host = new URL(s.instanceUrl).host;
  const ssh = `git@${host}:${p.pathWithNamespace}.git`;
  const deleted = /^0+$/.test(ev.after);
  return {
    object_kind: 'push',
    event_name: 'push',
    before: ev.before,
    after: ev.after,
    ref: `refs/heads/${ev.branch}`,
    ref_protected: !!s.protectedBranch(p, ev.branch),
    checkout_sha: deleted ? null : ev.after,
    user_id: actor.id,
    user_name: actor.name,
    user_username: actor.username,
    user_email: actor.email,
    user_avatar: avatarUrl(actor),
    project_id: p.id,
    project: hookProject(s, p),
    repository: {
      name: p.name,
      url: ssh,
      description: p.description,
      homepage: web,
      git_http_url: `${web}.git`,
      git_ssh_url: ssh,
      visibility_level: VISIBILITY_LEVEL[p.visibility],
    },
    commits: ev.commits.map((c) => {
      const parent = c.parents[0] ? s.store.commit(c.parents[0]) : undefined;
      const before = parent?.files ?? new Map<string, string>();
      const paths = (pred: (path: string) => boolean, from: Iterable<string>) => [...from].filter(pred).sort();
      return {
        ...(hookCommit(s, p, c, true) as Json),
        added: paths((f) => !before.has(f), c.files.keys()),
        modified: paths((f) => before.has(f) && before.get(f) !== c.files.get(f), c.files.keys()),
        removed: paths((f) => !c.files.has(f), before.keys()),
      };
    }),
    total_commits_count: ev.totalCommits,
  };
}
