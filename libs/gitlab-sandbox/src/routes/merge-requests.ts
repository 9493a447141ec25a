// Merge requests: create/show/list/edit/close/reopen, diffs and changes, merge, approvals
// (approve/unapprove/approvals/approval_state), MR approval rules and MR notes.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { approvalStateEntity, approvalsEntity, ruleEntity } from '../entities/approvals';
import { noteEntity } from '../entities/discussions';
import { mrDiffs, mrEntity, mrVersions } from '../entities/merge-requests';
import { commitEntity } from '../entities/repository';
import { HttpError, notFound } from '../http-error';
import type { MergeRequest, Project, User } from '../model';
import { ConflictMr } from '../state';
import { bool, int, intArray, needUser, optUser, paginate, params, str, strArray, type RouteContext } from './context';

type MrParams = { Params: { id: string; iid: string } };

export function mergeRequestRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state } = ctx;

  /** The caller (optional when `anonymous`), the project and the MR named by :id and :iid. */
  const load = (req: FastifyRequest, anonymous = false): { user: User | undefined; project: Project; mr: MergeRequest } => {
    const { id, iid } = req.params as MrParams['Params'];
    const user = anonymous ? optUser(ctx, req) : needUser(ctx, req);
    const project = state.findProject(id, user);
    return { user, project, mr: state.findMr(project, iid) };
  };
  const loadAuthed = (req: FastifyRequest) => load(req) as { user: User; project: Project; mr: MergeRequest };

  app.post<{ Params: { id: string } }>('/api/v4/projects/:id/merge_requests', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    try {
      const mr = state.createMr(project, user, {
        sourceBranch: str(p, 'source_branch', { required: true, max: 255 }) as string,
        targetBranch: str(p, 'target_branch', { required: true, max: 255 }) as string,
        title: str(p, 'title', { required: true }) as string,
        description: str(p, 'description'),
        assigneeIds: intArray(p, 'assignee_ids') ?? (int(p, 'assignee_id') !== undefined ? [int(p, 'assignee_id') as number] : undefined),
        reviewerIds: intArray(p, 'reviewer_ids'),
        labels: strArray(p, 'labels'),
        removeSourceBranch: bool(p, 'remove_source_branch'),
      });
      reply.code(201);
      return mrEntity(state, project, mr, user, true);
    } catch (err) {
      if (err instanceof ConflictMr) throw new HttpError(409, { message: [err.message] });
      throw err;
    }
  });

  app.get<{ Params: { id: string } }>('/api/v4/projects/:id/merge_requests', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const st = str(p, 'state') ?? 'all';
    if (!['opened', 'closed', 'merged', 'locked', 'all'].includes(st)) throw new HttpError(400, { error: 'state does not have a valid value' });
    const source = str(p, 'source_branch', { max: 255 });
    const target = str(p, 'target_branch', { max: 255 });
    const authorId = int(p, 'author_id');
    const authorUsername = str(p, 'author_username', { max: 255 });
    const iids = intArray(p, 'iids');
    const labels = strArray(p, 'labels');
    const sort = str(p, 'sort') ?? 'desc';
    if (sort !== 'asc' && sort !== 'desc') throw new HttpError(400, { error: 'sort does not have a valid value' });
    const orderBy = str(p, 'order_by') ?? 'created_at';
    if (!['created_at', 'updated_at', 'merged_at', 'title'].includes(orderBy)) throw new HttpError(400, { error: 'order_by does not have a valid value' });
    const time = (name: string): number | undefined => {
      const v = str(p, name, { max: 64 });
      if (v === undefined) return undefined;
      const t = /^\d{4}-\d{2}-\d{2}/.test(v) ? Date.parse(v) : NaN;
      if (Number.isNaN(t)) throw new HttpError(400, { error: `${name} is invalid` });
      return t;
    };
    const updatedAfter = time('updated_after');
    const updatedBefore = time('updated_before');
    let rows = project.mergeRequests.filter(
      (m) =>
        (st === 'all' || m.state === st) &&
        (!source || m.sourceBranch === source) &&
        (!target || m.targetBranch === target) &&
        (authorId === undefined || m.authorId === authorId) &&
        (!authorUsername || state.userById(m.authorId)?.username === authorUsername) &&
        (!iids || iids.includes(m.iid)) &&
        (!labels || labels.every((l) => m.labels.includes(l))) &&
        (updatedAfter === undefined || m.updatedAt.getTime() >= updatedAfter) &&
        (updatedBefore === undefined || m.updatedAt.getTime() <= updatedBefore),
    );
    // GitLab orders by the column, then by id; MRs never merged sort last under merged_at.
    const column = (m: MergeRequest): number | string =>
      orderBy === 'title' ? m.title : orderBy === 'updated_at' ? m.updatedAt.getTime() : orderBy === 'merged_at' ? (m.mergedAt?.getTime() ?? Number.MAX_SAFE_INTEGER) : m.createdAt.getTime();
    const dir = sort === 'asc' ? 1 : -1;
    rows = [...rows].sort((a, b) => {
      const x = column(a);
      const y = column(b);
      return dir * (x < y ? -1 : x > y ? 1 : a.id - b.id);
    });
    return paginate(req, reply, rows).map((m) => mrEntity(state, project, m, user));
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid', async (req) => {
    const { user, project, mr } = load(req, true);
    return mrEntity(state, project, mr, user, true);
  });

  app.put<MrParams>('/api/v4/projects/:id/merge_requests/:iid', async (req) => {
    const { user, project, mr } = loadAuthed(req);
    const p = params(req);
    const assigneeId = int(p, 'assignee_id');
    state.editMr(project, mr, user, {
      title: p['title'] === undefined ? undefined : String(p['title']),
      description: str(p, 'description') ?? (p['description'] === '' ? '' : undefined),
      targetBranch: str(p, 'target_branch', { max: 255 }),
      stateEvent: str(p, 'state_event'),
      labels: strArray(p, 'labels'),
      addLabels: strArray(p, 'add_labels'),
      removeLabels: strArray(p, 'remove_labels'),
      assigneeIds: intArray(p, 'assignee_ids') ?? (assigneeId !== undefined ? (assigneeId === 0 ? [] : [assigneeId]) : undefined),
      reviewerIds: intArray(p, 'reviewer_ids'),
      removeSourceBranch: bool(p, 'remove_source_branch'),
    });
    return mrEntity(state, project, mr, user, true);
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/diffs', async (req, reply) => {
    const { project, mr } = load(req, true);
    return paginate(req, reply, mrDiffs(state, project, mr));
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/versions', async (req, reply) => {
    const { project, mr } = load(req, true);
    return paginate(req, reply, mrVersions(state, project, mr));
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/changes', async (req) => {
    const { user, project, mr } = load(req, true);
    return { ...mrEntity(state, project, mr, user, true), changes: mrDiffs(state, project, mr), overflow: false };
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/commits', async (req, reply) => {
    const { project, mr } = load(req, true);
    return paginate(req, reply, state.mrCommits(project, mr)).map((c) => commitEntity(state, project, c));
  });

  app.put<MrParams>('/api/v4/projects/:id/merge_requests/:iid/merge', async (req) => {
    const { user, project, mr } = loadAuthed(req);
    const p = params(req);
    state.merge(project, mr, user, {
      sha: str(p, 'sha', { max: 64 }),
      mergeCommitMessage: str(p, 'merge_commit_message', { max: 1_000_000 }),
      shouldRemoveSourceBranch: bool(p, 'should_remove_source_branch'),
      squash: bool(p, 'squash'),
    });
    return mrEntity(state, project, mr, user, true);
  });

  // ------------------------------------------------------------- approvals

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/approvals', async (req) => {
    const { user, project, mr } = load(req, true);
    return approvalsEntity(state, project, mr, user);
  });

  app.post<MrParams>('/api/v4/projects/:id/merge_requests/:iid/approve', async (req, reply) => {
    const { user, project, mr } = loadAuthed(req);
    state.approve(project, mr, user, str(params(req), 'sha', { max: 64 }));
    reply.code(201);
    return approvalsEntity(state, project, mr, user);
  });

  app.post<MrParams>('/api/v4/projects/:id/merge_requests/:iid/unapprove', async (req, reply) => {
    const { user, project, mr } = loadAuthed(req);
    state.unapprove(project, mr, user);
    reply.code(201);
    return approvalsEntity(state, project, mr, user);
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/approval_state', async (req) => {
    const { project, mr } = load(req, true);
    state.requirePremium(project);
    return approvalStateEntity(state, project, mr);
  });

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/approval_rules', async (req, reply) => {
    const { project, mr } = load(req, true);
    state.requirePremium(project);
    return paginate(req, reply, mr.rules).map((r) => ruleEntity(state, project, r, 'mr'));
  });

  const ruleInput = (req: FastifyRequest) => {
    const p = params(req);
    return {
      name: str(p, 'name', { required: true, max: 1000 }) as string,
      approvalsRequired: int(p, 'approvals_required', { required: true }) as number,
      userIds: intArray(p, 'user_ids') ?? [],
      groupIds: intArray(p, 'group_ids') ?? [],
      usernames: strArray(p, 'usernames') ?? [],
    };
  };

  app.post<MrParams>('/api/v4/projects/:id/merge_requests/:iid/approval_rules', async (req, reply) => {
    const { user, project, mr } = loadAuthed(req);
    state.requirePremium(project);
    const rule = state.addMrRule(project, mr, user, ruleInput(req));
    reply.code(201);
    return ruleEntity(state, project, rule, 'mr');
  });

  app.put<{ Params: { id: string; iid: string; ruleId: string } }>('/api/v4/projects/:id/merge_requests/:iid/approval_rules/:ruleId', async (req) => {
    const { user, project, mr } = loadAuthed(req);
    state.requirePremium(project);
    const p = params(req);
    const rule = state.editMrRule(project, mr, user, Number(req.params.ruleId), {
      name: str(p, 'name', { max: 1000 }),
      approvalsRequired: int(p, 'approvals_required'),
      userIds: intArray(p, 'user_ids'),
      groupIds: intArray(p, 'group_ids'),
      usernames: strArray(p, 'usernames'),
    });
    return ruleEntity(state, project, rule, 'mr');
  });

  app.delete<{ Params: { id: string; iid: string; ruleId: string } }>('/api/v4/projects/:id/merge_requests/:iid/approval_rules/:ruleId', async (req, reply) => {
    const { user, project, mr } = loadAuthed(req);
    state.requirePremium(project);
    state.removeMrRule(project, mr, user, Number(req.params.ruleId));
    reply.code(204);
    return null;
  });

  // ------------------------------------------------------------- notes

  app.get<MrParams>('/api/v4/projects/:id/merge_requests/:iid/notes', async (req, reply) => {
    const { project, mr } = load(req, true);
    const p = params(req);
    const sort = str(p, 'sort') ?? 'desc';
    const rows = [...mr.notes].sort((a, b) => (sort === 'asc' ? a.id - b.id : b.id - a.id));
    return paginate(req, reply, rows).map((n) => noteEntity(state, project, n));
  });

  app.get<{ Params: { id: string; iid: string; noteId: string } }>('/api/v4/projects/:id/merge_requests/:iid/notes/:noteId', async (req) => {
    const { project, mr } = load(req as unknown as FastifyRequest<MrParams>, true);
    const note = mr.notes.find((n) => n.id === Number(req.params.noteId));
    if (!note) throw notFound('Note');
    return noteEntity(state, project, note);
  });

  app.post<MrParams>('/api/v4/projects/:id/merge_requests/:iid/notes', async (req, reply) => {
    const { user, project, mr } = loadAuthed(req);
    const note = state.addNote(project, { mr }, user, str(params(req), 'body', { required: true }) as string);
    reply.code(201);
    return noteEntity(state, project, note);
  });

  app.put<{ Params: { id: string; iid: string; noteId: string } }>('/api/v4/projects/:id/merge_requests/:iid/notes/:noteId', async (req) => {
    const { user, project, mr } = loadAuthed(req);
    const note = state.editNote(project, { mr }, user, Number(req.params.noteId), str(params(req), 'body', { required: true }) as string);
    return noteEntity(state, project, note);
  });

  app.delete<{ Params: { id: string; iid: string; noteId: string } }>('/api/v4/projects/:id/merge_requests/:iid/notes/:noteId', async (req, reply) => {
    const { user, project, mr } = loadAuthed(req);
    state.removeNote(project, { mr }, user, Number(req.params.noteId));
    reply.code(204);
    return null;
  });
}
