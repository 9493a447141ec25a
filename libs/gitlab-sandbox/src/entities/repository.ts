// REST v4 response shapes (GitLab's API::Entities) of commits, branches, diffs, labels, push events,
// commit statuses and hooks.
import { structuredPatch } from 'diff';
import type { Commit } from '../git';
import type { CommitStatus, Hook, Label, Project, PushEvent, User } from '../model';
import type { SandboxState } from '../state';
import { iso, userBasic } from './accounts';

type Json = Record<string, unknown>;

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
