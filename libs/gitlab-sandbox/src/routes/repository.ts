// Branches, commits (with file actions), repository files and commit statuses.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Commit } from '../git';
import { branchEntity, commitEntity, fileDiffs, pushEventEntity, statusEntity } from '../entities/repository';
import { badRequest, notFound, paramError } from '../http-error';
import type { CommitStatus, FileAction, Project } from '../model';
import { ACCESS, normalizePath } from '../state';
import { bool, needUser, optUser, paginate, params, str, type RouteContext } from './context';

const STATUS_STATES = ['pending', 'running', 'success', 'failed', 'canceled', 'skipped'] as const;

export function repositoryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state } = ctx;
  type P = { Params: { id: string } };

  const commitOr404 = (project: Project, ref: string): Commit => {
    const c = state.resolveRef(project, ref);
    if (!c) throw notFound('Commit');
    return c;
  };

  /** The newest commit (first-parent walk from `head`) that last changed `path`. */
  const lastCommitFor = (head: Commit, path: string): Commit => {
    let cur = head;
    for (;;) {
      const parent = cur.parents[0] ? state.store.commit(cur.parents[0]) : undefined;
      if (!parent || parent.files.get(path) !== cur.files.get(path)) return cur;
      cur = parent;
    }
  };

  app.get<P>('/api/v4/projects/:id/repository/branches', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const search = str(params(req), 'search', { max: 255 });
    let names = [...project.branches.keys()].sort();
    if (search) names = names.filter((n) => n.includes(search));
    return paginate(req, reply, names).map((n) => branchEntity(state, project, n, project.branches.get(n) as string, user));
  });

  app.get<{ Params: { id: string; branch: string } }>('/api/v4/projects/:id/repository/branches/:branch', async (req) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const sha = project.branches.get(req.params.branch);
    if (!sha) throw notFound('Branch');
    return branchEntity(state, project, req.params.branch, sha, user);
  });

  const protectedEntity = (pb: Project['protectedBranches'][number]) => {
    const levels = (level: number) => [{ id: pb.id, access_level: level, access_level_description: level >= 40 ? 'Maintainers' : 'Developers + Maintainers', user_id: null, group_id: null }];
    return { id: pb.id, name: pb.name, push_access_levels: levels(pb.pushAccessLevel), merge_access_levels: levels(pb.mergeAccessLevel), allow_force_push: false, code_owner_approval_required: false };
  };

  app.get<P>('/api/v4/projects/:id/protected_branches', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.developer);
    return paginate(req, reply, project.protectedBranches).map(protectedEntity);
  });

  app.get<{ Params: { id: string; name: string } }>('/api/v4/projects/:id/protected_branches/:name', async (req) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.developer);
    const pb = project.protectedBranches.find((b) => b.name === req.params.name);
    if (!pb) throw notFound('Protected Branch');
    return protectedEntity(pb);
  });

  app.post<P>('/api/v4/projects/:id/repository/branches', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const branch = str(p, 'branch', { required: true, max: 255 }) as string;
    const ref = str(p, 'ref', { required: true, max: 255 }) as string;
    const c = state.createBranch(project, user, branch, ref);
    reply.code(201);
    return branchEntity(state, project, branch, c.id, user);
  });

  app.delete<{ Params: { id: string; branch: string } }>('/api/v4/projects/:id/repository/branches/:branch', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.deleteBranch(project, user, req.params.branch);
    reply.code(204);
    return null;
  });

  app.post<P>('/api/v4/projects/:id/repository/commits', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const actions = p['actions'];
    if (actions !== undefined && !Array.isArray(actions)) throw paramError('actions is invalid');
    const commit = state.commit(project, user, {
      branch: str(p, 'branch', { required: true, max: 255 }) as string,
      startBranch: str(p, 'start_branch', { max: 255 }),
      startSha: str(p, 'start_sha', { max: 64 }),
      message: str(p, 'commit_message', { required: true, max: 1_000_000 }) as string,
      actions: (actions ?? []) as FileAction[],
      authorName: str(p, 'author_name', { max: 255 }),
      authorEmail: str(p, 'author_email', { max: 255 }),
      force: bool(p, 'force'),
    });
    reply.code(201);
    return commitEntity(state, project, commit, true);
  });

  app.get<P>('/api/v4/projects/:id/repository/commits', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const ref = str(p, 'ref_name', { max: 255 }) ?? project.defaultBranch;
    const path = str(p, 'path', { max: 4096 });
    const head = state.resolveRef(project, ref);
    if (!head) return paginate(req, reply, []);
    let commits = state.store.ancestors(head.id).map((id) => state.store.commit(id) as Commit);
    if (path) commits = commits.filter((c) => c.files.get(path) !== (c.parents[0] ? state.store.commit(c.parents[0])?.files.get(path) : undefined));
    return paginate(req, reply, commits).map((c) => commitEntity(state, project, c));
  });

  app.get<{ Params: { id: string; sha: string } }>('/api/v4/projects/:id/repository/commits/:sha', async (req) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    return commitEntity(state, project, commitOr404(project, req.params.sha), true);
  });

  app.get<{ Params: { id: string; sha: string } }>('/api/v4/projects/:id/repository/commits/:sha/diff', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const c = commitOr404(project, req.params.sha);
    const parent = c.parents[0] ? state.store.commit(c.parents[0]) : undefined;
    return paginate(req, reply, fileDiffs(state, parent, c));
  });

  app.get<P>('/api/v4/projects/:id/repository/tree', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const head = state.resolveRef(project, str(p, 'ref', { max: 255 }) ?? project.defaultBranch);
    if (!head) throw notFound('Tree');
    const rawPath = str(p, 'path', { max: 4096 });
    const dir = rawPath === undefined || rawPath === '' || rawPath === '/' ? '' : normalizePath(rawPath.replace(/\/$/, ''));
    if (dir === '' && rawPath !== undefined && rawPath !== '' && rawPath !== '/') throw notFound('Tree');
    const prefix = dir ? `${dir}/` : '';
    const recursive = bool(p, 'recursive') ?? false;
    const entries = new Map<string, { type: 'tree' | 'blob'; id: string }>();
    for (const [path, blob] of head.files) {
      if (!path.startsWith(prefix)) continue;
      const parts = path.slice(prefix.length).split('/');
      for (let i = 1; i < parts.length; i++) {
        const sub = prefix + parts.slice(0, i).join('/');
        if ((recursive || i === 1) && !entries.has(sub)) entries.set(sub, { type: 'tree', id: state.store.writeTree(head.files, `${sub}/`) });
      }
      if (recursive || parts.length === 1) entries.set(path, { type: 'blob', id: blob });
    }
    if (prefix && entries.size === 0) throw notFound('Tree');
    const rows = [...entries]
      .sort(([a, ea], [b, eb]) => (ea.type !== eb.type ? (ea.type === 'tree' ? -1 : 1) : a < b ? -1 : a > b ? 1 : 0))
      .map(([path, e]) => ({ id: e.id, name: path.split('/').pop() as string, type: e.type, path, mode: e.type === 'tree' ? '040000' : '100644' }));
    return paginate(req, reply, rows);
  });

  const fileInfo = (project: Project, rawPath: string, ref: string | undefined) => {
    const path = normalizePath(rawPath);
    if (!path) throw badRequest('file_path should be a valid file path');
    const head = state.resolveRef(project, ref ?? project.defaultBranch);
    if (!head) throw notFound('Commit');
    const blobId = head.files.get(path);
    if (!blobId) throw notFound('File');
    return { path, head, blobId, content: state.store.blob(blobId) as Buffer };
  };

  app.get<{ Params: { id: string; '*': string } }>('/api/v4/projects/:id/repository/files/*', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    let rawPath = req.params['*'];
    const isRaw = rawPath.endsWith('/raw');
    if (isRaw) rawPath = rawPath.slice(0, -'/raw'.length);
    const ref = isRaw ? str(p, 'ref', { max: 255 }) : (str(p, 'ref', { required: true, max: 255 }) as string);
    const { path, head, blobId, content } = fileInfo(project, rawPath, ref);
    const last = lastCommitFor(head, path);
    const sha256 = createHash('sha256').update(content).digest('hex');
    const meta = {
      'x-gitlab-file-name': path.split('/').pop() as string,
      'x-gitlab-file-path': path,
      'x-gitlab-size': String(content.length),
      'x-gitlab-encoding': 'base64',
      'x-gitlab-blob-id': blobId,
      'x-gitlab-commit-id': head.id,
      'x-gitlab-last-commit-id': last.id,
      'x-gitlab-content-sha256': sha256,
      'x-gitlab-ref': ref ?? project.defaultBranch,
      'x-gitlab-execute-filemode': 'false',
    };
    for (const [k, v] of Object.entries(meta)) reply.header(k, v);
    if (isRaw) {
      reply.type('text/plain; charset=utf-8');
      return content;
    }
    return {
      file_name: meta['x-gitlab-file-name'],
      file_path: path,
      size: content.length,
      encoding: 'base64',
      content_sha256: sha256,
      ref: meta['x-gitlab-ref'],
      blob_id: blobId,
      commit_id: head.id,
      last_commit_id: last.id,
      execute_filemode: false,
      content: content.toString('base64'),
    };
  });

  app.post<{ Params: { id: string; sha: string } }>('/api/v4/projects/:id/statuses/:sha', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.developer);
    const p = params(req);
    const status = str(p, 'state', { required: true }) as string;
    if (!(STATUS_STATES as readonly string[]).includes(status)) throw paramError('state does not have a valid value');
    const commit = commitOr404(project, req.params.sha);
    const name = str(p, 'name', { max: 255 }) ?? str(p, 'context', { max: 255 }) ?? 'default';
    const targetUrl = str(p, 'target_url', { max: 255 }) ?? null;
    if (targetUrl !== null && !/^https?:\/\//.test(targetUrl)) throw badRequest('target_url is blocked: Only allowed schemes are http, https');
    const ref = str(p, 'ref', { max: 255 }) ?? [...project.branches].find(([, h]) => h === commit.id)?.[0] ?? null;
    const now = state.now();
    // GitLab (Ci::CreateCommitStatusService) updates only a status of this name, ref and user that is
    // still pending or running; a finished one is retried: a new status is created and the list shows
    // the newest. Updating an open one goes through CommitStatus's state machine, and an event it
    // does not allow (pending again, running again) is a 400 naming the event and the state.
    const existing = project.statuses.findLast((s) => s.sha === commit.id && s.name === name && s.ref === ref && s.authorId === user.id && (s.status === 'pending' || s.status === 'running'));
    if (existing) {
      const refusal = transitionRefusal(existing.status, status as CommitStatus['status']);
      if (refusal) throw badRequest(refusal);
    }
    const record: CommitStatus = existing ?? {
      id: state.allocateStatusId(),
      sha: commit.id,
      ref,
      status: status as CommitStatus['status'],
      name,
      description: null,
      targetUrl: null,
      authorId: user.id,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      coverage: null,
    };
    const terminal = ['success', 'failed', 'canceled', 'skipped'].includes(status);
    record.status = status as CommitStatus['status'];
    record.description = str(p, 'description', { max: 255 }) ?? record.description;
    record.targetUrl = targetUrl ?? record.targetUrl;
    record.coverage = p['coverage'] === undefined ? record.coverage : Number(p['coverage']);
    if (status === 'running') record.startedAt = now;
    if (terminal) record.finishedAt = now;
    if (!existing) project.statuses.push(record);
    reply.code(201);
    return statusEntity(state, record);
  });

  app.get<{ Params: { id: string; sha: string } }>('/api/v4/projects/:id/repository/commits/:sha/statuses', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const commit = commitOr404(project, req.params.sha);
    const p = params(req);
    const name = str(p, 'name', { max: 255 });
    const ref = str(p, 'ref', { max: 255 });
    const all = bool(p, 'all') ?? false;
    let rows = project.statuses.filter((s) => s.sha === commit.id && (!name || s.name === name) && (!ref || s.ref === ref));
    if (!all) {
      const latest = new Map<string, CommitStatus>();
      for (const s of rows) latest.set(`${s.name}\0${s.ref}`, s);
      rows = [...latest.values()];
    }
    return paginate(req, reply, rows).map((s) => statusEntity(state, s));
  });
}

const EVENT_ACTIONS = ['created', 'updated', 'closed', 'reopened', 'pushed', 'commented', 'merged', 'joined', 'left', 'destroyed', 'expired', 'approved'];
const EVENT_TARGET_TYPES = ['issue', 'milestone', 'merge_request', 'note', 'project', 'snippet', 'user', 'wiki', 'design'];

/**
 * GET /projects/:id/events (GitLab's "List a project's visible events"). The sandbox records pushes
 * only, so any other `action`, and any `target_type` (a push has none), lists nothing. `after` and
 * `before` are days (YYYY-MM-DD) and exclusive: after the end of `after`, before the start of `before`.
 */
export function projectEventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state } = ctx;
  const day = (p: Record<string, unknown>, name: string): Date | undefined => {
    const v = str(p, name, { max: 32 });
    if (v === undefined) return undefined;
    const d = /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T00:00:00.000Z`) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw paramError(`${name} is invalid`);
    return d;
  };
  app.get<{ Params: { id: string } }>('/api/v4/projects/:id/events', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const action = str(p, 'action', { max: 32 });
    if (action !== undefined && !EVENT_ACTIONS.includes(action)) throw paramError('action does not have a valid value');
    const targetType = str(p, 'target_type', { max: 32 });
    if (targetType !== undefined && !EVENT_TARGET_TYPES.includes(targetType.toLowerCase())) throw paramError('target_type does not have a valid value');
    const sort = str(p, 'sort') ?? 'desc';
    if (sort !== 'asc' && sort !== 'desc') throw paramError('sort does not have a valid value');
    const after = day(p, 'after');
    const before = day(p, 'before');
    let rows = action !== undefined && action !== 'pushed' ? [] : targetType !== undefined ? [] : [...project.pushEvents];
    if (after) rows = rows.filter((e) => e.createdAt.getTime() >= after.getTime() + 86_400_000);
    if (before) rows = rows.filter((e) => e.createdAt.getTime() < before.getTime());
    rows.sort((a, b) => (sort === 'asc' ? a.id - b.id : b.id - a.id));
    return paginate(req, reply, rows).map((e) => pushEventEntity(state, project, e));
  });
}

/**
 * GitLab's answer to moving an open (pending or running) commit status to `to`, per CommitStatus's
 * state machine as the statuses API drives it (pending: enqueue!, running: enqueue then run!,
 * success: success!, failed: drop!, canceled: cancel!, skipped: skip!); undefined when allowed.
 */
export function transitionRefusal(from: 'pending' | 'running' | string, to: string): string | undefined {
  const event: Record<string, string> = { pending: 'enqueue', running: 'run', success: 'succeed', failed: 'drop', canceled: 'cancel', skipped: 'skip' };
  const allowed: Record<string, string[]> = {
    pending: ['running', 'success', 'failed', 'canceled', 'skipped'],
    running: ['success', 'failed', 'canceled'],
  };
  if (allowed[from]?.includes(to)) return undefined;
  const via = event[to] ?? to;
  return `Cannot transition status via :${via} from :${from} (Reason(s): Status cannot transition via "${via}")`;
}
