// createGitlabClient: the facade over @gitbeaker/rest (the only place it is imported). Answers are
// mapped to the small camelCase shapes in ./types; transport, retries and errors live in ./requester.
import { Branches, Commits, Events, GroupMembers, Issues, MergeRequestApprovals, MergeRequestNotes, MergeRequests, Projects, RepositoryFiles, Users } from '@gitbeaker/rest';
import type { Logger } from '@jit/observability';
import { GitlabBadResponse, GitlabConfigInvalid } from './errors';
import { premium, str, toMergeRequest, toNote, toPushEvent, toRule, toSettings, toUser, type Json } from './gitlab-mappers';
import { createRequester, type FetchFn, type RetryOptions } from './requester';
import type { ApprovalState, GitlabClient, PushEvent } from './types';

export interface GitlabClientOptions {
  /** Base URL of the GitLab instance, e.g. https://gitlab.example.com (no /api/v4). */
  url: string;
  /**
   * Personal/project/group access token; sent as PRIVATE-TOKEN, never logged. A function is asked
   * at every request, so a rotated token (GITLAB_TOKEN_FILE) is used by the next call.
   */
  token: string | (() => string);
  /** Injected transport (tests pass a fake; default global fetch). */
  fetch?: FetchFn;
  retry?: RetryOptions;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  logger?: Logger;
}

export function createGitlabClient(options: GitlabClientOptions): GitlabClient {
  if (!/^https?:\/\//.test(options.url ?? '')) throw GitlabConfigInvalid('url must start with http:// or https://');
  const { token } = options;
  if (typeof token === 'function' ? !token() : !token) throw GitlabConfigInvalid('token is empty');
  const requesterFn = createRequester({
    fetch: options.fetch,
    retry: options.retry,
    timeoutMs: options.timeoutMs,
    sleep: options.sleep,
    random: options.random,
    logger: options.logger,
    liveToken: typeof token === 'function',
  });
  // gitbeaker resolves a function token per request (requester-utils getDynamicToken).
  const cfg = { host: options.url.replace(/\/+$/, ''), token: typeof token === 'function' ? async () => token() : token, requesterFn };
  const api = {
    projects: new Projects(cfg),
    files: new RepositoryFiles(cfg),
    mrs: new MergeRequests(cfg),
    approvals: new MergeRequestApprovals(cfg),
    notes: new MergeRequestNotes(cfg),
    commits: new Commits(cfg),
    users: new Users(cfg),
    groupMembers: new GroupMembers(cfg),
    issues: new Issues(cfg),
    branches: new Branches(cfg),
    events: new Events(cfg),
  };
  const j = (v: unknown) => v as any;

  return {
    projects: {
      async show(projectId) {
        const p: Json = j(await api.projects.show(projectId));
        return {
          id: p.id,
          defaultBranch: str(p.default_branch) || 'main',
          pathWithNamespace: str(p.path_with_namespace),
          webUrl: typeof p.web_url === 'string' ? p.web_url : undefined,
        };
      },
    },
    files: {
      async show(projectId, path, ref) {
        const f: Json = j(await api.files.show(projectId, path, ref));
        if (typeof f.content !== 'string') throw GitlabBadResponse(`file ${path}`, 'missing content');
        const content = f.encoding === 'base64' ? new Uint8Array(Buffer.from(f.content, 'base64')) : new TextEncoder().encode(f.content);
        return {
          path: str(f.file_path) || path,
          ref: str(f.ref) || ref,
          blobId: str(f.blob_id),
          commitId: str(f.commit_id),
          lastCommitId: str(f.last_commit_id),
          size: typeof f.size === 'number' ? f.size : content.byteLength,
          content,
        };
      },
    },
    mergeRequests: {
      async show(projectId, iid) {
        return toMergeRequest(j(await api.mrs.show(projectId, iid)));
      },
      async all(projectId, o = {}) {
        const list: unknown = await api.mrs.all({
          projectId,
          ...(o.state ? { state: o.state } : {}),
          ...(o.updatedAfter ? { updatedAfter: o.updatedAfter } : {}),
          ...(o.orderBy ? { orderBy: o.orderBy } : {}),
          ...(o.sort ? { sort: o.sort } : {}),
          perPage: Math.min(Math.max(1, o.perPage ?? 100), 100),
          maxPages: Math.max(1, o.maxPages ?? 20),
        });
        if (!Array.isArray(list)) throw GitlabBadResponse(`merge request list of project ${projectId}`, 'not an array');
        return list.map((m) => toMergeRequest(m as Json));
      },
      async diffs(projectId, iid) {
        const list: Json[] = j(await api.mrs.allDiffs(projectId, iid));
        return list.map((d) => ({
          oldPath: str(d.old_path),
          newPath: str(d.new_path),
          newFile: d.new_file === true,
          renamedFile: d.renamed_file === true,
          deletedFile: d.deleted_file === true,
        }));
      },
      async commits(projectId, iid) {
        const list: Json[] = j(await api.mrs.allCommits(projectId, iid));
        return list.map((c) => ({
          id: str(c.id),
          authorName: str(c.author_name),
          authorEmail: str(c.author_email),
          committerName: str(c.committer_name),
          committerEmail: str(c.committer_email),
          createdAt: typeof c.created_at === 'string' ? c.created_at : undefined,
        }));
      },
      async versions(projectId, iid) {
        const list: Json[] = j(await api.mrs.allDiffVersions(projectId, iid));
        if (!Array.isArray(list)) throw GitlabBadResponse(`diff versions of MR !${iid}`, 'not an array');
        return list.map((v) => {
          const createdAt = str(v.created_at);
          if (typeof v.id !== 'number' || !v.head_commit_sha || Number.isNaN(Date.parse(createdAt))) {
            throw GitlabBadResponse(`diff versions of MR !${iid}`, 'a version without id, head_commit_sha or created_at');
          }
          return { id: v.id, headCommitSha: str(v.head_commit_sha), createdAt };
        });
      },
      async create(projectId, input) {
        const m = await api.mrs.create(projectId, input.sourceBranch, input.targetBranch, input.title, {
          description: input.description,
        });
        return toMergeRequest(j(m));
      },
      async merge(projectId, iid, opts) {
        return toMergeRequest(j(await api.mrs.merge(projectId, iid, opts?.sha ? { sha: opts.sha } : undefined)));
      },
      async approvals(projectId, iid) {
        const a: Json = j(await api.approvals.showConfiguration(projectId, { mergerequestIId: iid }));
        const approvedBy: Json[] = Array.isArray(a.approved_by) ? a.approved_by : [];
        return {
          approvalsRequired: Number(a.approvals_required ?? 0),
          approvalsLeft: Number(a.approvals_left ?? 0),
          approvedBy: approvedBy
            .filter((e) => e?.user && typeof e.user.id === 'number')
            .map((e) => ({
              userId: e.user.id,
              username: str(e.user.username),
              ...(typeof e.approved_at === 'string' ? { approvedAt: e.approved_at } : {}),
            })),
        };
      },
      async approvalState(projectId, iid) {
        const endpoint = `projects/${projectId}/merge_requests/${iid}/approval_state`;
        return premium(endpoint, async (): Promise<ApprovalState> => {
          const s: Json = j(await api.approvals.showApprovalState(projectId, iid));
          const rules: Json[] = Array.isArray(s.rules) ? s.rules : [];
          return {
            rules: rules.map((r) => ({
              id: r.id,
              name: str(r.name),
              approved: r.approved === true,
              approvalsRequired: Number(r.approvals_required ?? 0),
              approvedBy: (Array.isArray(r.approved_by) ? r.approved_by : []).map((u: Json) => str(u.username)),
            })),
          };
        });
      },
      async approve(projectId, iid, opts) {
        await api.approvals.approve(projectId, iid, opts?.sha ? { sha: opts.sha } : undefined);
      },
      async unapprove(projectId, iid) {
        await api.approvals.unapprove(projectId, iid);
      },
    },
    approvalRules: {
      all(projectId, iid) {
        return premium(`projects/${projectId}/merge_requests/${iid}/approval_rules`, async () => {
          const list: Json[] = j(await api.approvals.allApprovalRules(projectId, { mergerequestIId: iid }));
          return list.map(toRule);
        });
      },
      create(projectId, iid, input) {
        return premium(`projects/${projectId}/merge_requests/${iid}/approval_rules`, async () =>
          toRule(
            j(
              await api.approvals.createApprovalRule(projectId, input.name, input.approvalsRequired, {
                mergerequestIId: iid,
                userIds: input.userIds,
              }),
            ),
          ),
        );
      },
      edit(projectId, iid, ruleId, input) {
        return premium(`projects/${projectId}/merge_requests/${iid}/approval_rules/${ruleId}`, async () =>
          toRule(
            j(
              await api.approvals.editApprovalRule(projectId, ruleId, input.name, input.approvalsRequired, {
                mergerequestIId: iid,
                userIds: input.userIds,
              }),
            ),
          ),
        );
      },
    },
    approvalSettings: {
      show(projectId) {
        return premium(`projects/${projectId}/approvals`, async () => toSettings(j(await api.approvals.showConfiguration(projectId))));
      },
      edit(projectId, s) {
        return premium(`projects/${projectId}/approvals`, async () =>
          toSettings(
            j(
              await api.approvals.editConfiguration(projectId, {
                ...(s.resetApprovalsOnPush !== undefined ? { resetApprovalsOnPush: s.resetApprovalsOnPush } : {}),
                ...(s.mergeRequestsAuthorApproval !== undefined ? { mergeRequestsAuthorApproval: s.mergeRequestsAuthorApproval } : {}),
                ...(s.mergeRequestsDisableCommittersApproval !== undefined ? { mergeRequestsDisableCommittersApproval: s.mergeRequestsDisableCommittersApproval } : {}),
              }),
            ),
          ),
        );
      },
    },
    commitStatuses: {
      async create(projectId, sha, input) {
        await api.commits.editStatus(projectId, sha, input.state, {
          name: input.name,
          ...(input.description ? { description: input.description.slice(0, 255) } : {}),
          ...(input.targetUrl ? { targetUrl: input.targetUrl } : {}),
        });
      },
    },
    notes: {
      async all(projectId, iid) {
        const list: Json[] = j(await api.notes.all(projectId, iid, { sort: 'asc', orderBy: 'created_at' }));
        return list.map(toNote);
      },
      async create(projectId, iid, body) {
        return toNote(j(await api.notes.create(projectId, iid, body)));
      },
      async edit(projectId, iid, noteId, body) {
        return toNote(j(await api.notes.edit(projectId, iid, noteId, { body })));
      },
    },
    users: {
      async show(userId) {
        return toUser(j(await api.users.show(userId)));
      },
      async byUsername(username) {
        const list: Json[] = j(await api.users.all({ username }));
        const hit = list.find((u) => typeof u.username === 'string' && u.username.toLowerCase() === username.toLowerCase());
        if (!hit) return undefined;
        // The list endpoint may omit `bot`; the single-user endpoint has it.
        return toUser(j(await api.users.show(hit.id)));
      },
      async current() {
        return toUser(j(await api.users.showCurrentUser()));
      },
    },
    groupMembers: {
      async all(group) {
        const list: Json[] = j(await api.groupMembers.all(group, { includeInherited: true }));
        return list.map(toUser);
      },
    },
    issues: {
      async create(projectId, input) {
        const i: Json = j(
          await api.issues.create(projectId, input.title, {
            ...(input.description ? { description: input.description } : {}),
            ...(input.assigneeIds?.length ? { assigneeIds: input.assigneeIds } : {}),
            ...(input.labels?.length ? { labels: input.labels.join(',') } : {}),
          }),
        );
        return { id: i.id, iid: i.iid, webUrl: typeof i.web_url === 'string' ? i.web_url : undefined };
      },
      async all(projectId, o) {
        const list: Json[] = j(
          await api.issues.all({
            projectId,
            labels: o.labels.join(','),
            state: 'all',
            orderBy: 'created_at',
            sort: 'desc',
            perPage: 100,
            maxPages: Math.max(1, o.maxPages ?? 5),
          } as any),
        );
        return list.map((i) => ({ id: i.id, iid: i.iid, title: str(i.title), authorUsername: str(i.author?.username), webUrl: typeof i.web_url === 'string' ? i.web_url : undefined }));
      },
    },
    branches: {
      async create(projectId, name, ref) {
        await api.branches.create(projectId, name, ref);
      },
    },
    commits: {
      async create(projectId, branch, message, actions) {
        const c: Json = j(await api.commits.create(projectId, branch, message, actions as any));
        return { id: str(c.id) };
      },
    },
    events: {
      async pushes(projectId, o = {}) {
        const list: unknown = await api.events.all({
          projectId,
          action: 'pushed',
          ...(o.after ? { after: o.after } : {}),
          sort: 'desc',
          perPage: 100,
          maxPages: Math.max(1, o.maxPages ?? 20),
        });
        if (!Array.isArray(list)) throw GitlabBadResponse(`push events of project ${projectId}`, 'not an array');
        return list.map((e) => toPushEvent(e as Json)).filter((e): e is PushEvent => e !== undefined);
      },
    },
  };
}
