// REST v4 response shapes (GitLab's API::Entities) of notes and issues.
import type { Issue, Note, Project, User } from '../model';
import type { SandboxState } from '../state';
import { iso, userBasic } from './accounts';

type Json = Record<string, unknown>;

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
