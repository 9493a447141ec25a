// Project approval settings and rules (Premium), labels, issues and their notes, project hooks.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { projectApprovalsEntity, ruleEntity } from '../entities/approvals';
import { issueEntity, noteEntity } from '../entities/discussions';
import { hookEntity, labelEntity } from '../entities/repository';
import { badRequest, notFound, paramError } from '../http-error';
import type { ApprovalSettings } from '../model';
import { isSigningToken } from '../seed';
import { ACCESS } from '../state';
import { bool, int, intArray, needUser, optUser, paginate, params, str, strArray, type RouteContext } from './context';

type P = { Params: { id: string } };

const SETTINGS_KEYS: (keyof ApprovalSettings)[] = [
  'reset_approvals_on_push',
  'disable_overriding_approvers_per_merge_request',
  'merge_requests_author_approval',
  'merge_requests_disable_committers_approval',
  'require_password_to_approve',
];

export function projectSettingsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state } = ctx;

  // ------------------------------------------------------------- approval settings & rules

  app.get<P>('/api/v4/projects/:id/approvals', async (req) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requirePremium(project);
    return projectApprovalsEntity(state, project);
  });

  app.post<P>('/api/v4/projects/:id/approvals', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requirePremium(project);
    state.requireAccess(user, project, ACCESS.maintainer);
    const p = params(req);
    const before = int(p, 'approvals_before_merge', { min: 0 });
    const updates: Partial<ApprovalSettings> = {};
    for (const k of SETTINGS_KEYS) {
      const v = bool(p, k);
      if (v !== undefined) (updates as Record<string, boolean>)[k] = v;
    }
    if (before !== undefined) updates.approvals_before_merge = before;
    Object.assign(project.approvalSettings, updates);
    reply.code(201);
    return projectApprovalsEntity(state, project);
  });

  app.get<P>('/api/v4/projects/:id/approval_rules', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requirePremium(project);
    return paginate(req, reply, project.approvalRules).map((r) => ruleEntity(state, project, r, 'project'));
  });

  app.post<P>('/api/v4/projects/:id/approval_rules', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requirePremium(project);
    const p = params(req);
    const rule = state.addProjectRule(project, user, {
      name: str(p, 'name', { required: true, max: 1000 }) as string,
      approvalsRequired: int(p, 'approvals_required', { required: true }) as number,
      userIds: intArray(p, 'user_ids') ?? [],
      groupIds: intArray(p, 'group_ids') ?? [],
      usernames: strArray(p, 'usernames') ?? [],
    });
    reply.code(201);
    return ruleEntity(state, project, rule, 'project');
  });

  // ------------------------------------------------------------- labels

  app.get<P>('/api/v4/projects/:id/labels', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const rows = paginate(req, reply, project.labels);
    return rows.map((l) =>
      labelEntity(project, l, {
        openMr: project.mergeRequests.filter((m) => m.state === 'opened' && m.labels.includes(l.name)).length,
        openIssues: project.issues.filter((i) => i.state === 'opened' && i.labels.includes(l.name)).length,
      }),
    );
  });

  app.post<P>('/api/v4/projects/:id/labels', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.developer);
    const p = params(req);
    const color = str(p, 'color', { required: true, max: 32 }) as string;
    if (!/^(#[0-9A-Fa-f]{3}|#[0-9A-Fa-f]{6}|[a-z]+)$/.test(color)) throw badRequest('Color must be a valid color code');
    const label = state.createLabel(project, str(p, 'name', { required: true, max: 255 }) as string, color, str(p, 'description', { max: 1000 }) ?? null);
    reply.code(201);
    return labelEntity(project, label);
  });

  // ------------------------------------------------------------- issues

  app.get<P>('/api/v4/projects/:id/issues', async (req, reply) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const st = str(p, 'state') ?? 'all';
    const labels = strArray(p, 'labels');
    const rows = [...project.issues].filter((i) => (st === 'all' || i.state === st) && (!labels || labels.every((l) => i.labels.includes(l)))).sort((a, b) => b.id - a.id);
    return paginate(req, reply, rows).map((i) => issueEntity(state, project, i));
  });

  app.post<P>('/api/v4/projects/:id/issues', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const p = params(req);
    const dueDate = str(p, 'due_date', { max: 10 });
    if (dueDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(dueDate)) throw paramError('due_date is invalid');
    const issue = state.createIssue(project, user, {
      title: str(p, 'title', { required: true }) as string,
      description: str(p, 'description', { max: 1_048_576 }),
      labels: strArray(p, 'labels'),
      assigneeIds: intArray(p, 'assignee_ids'),
      confidential: bool(p, 'confidential'),
      dueDate,
    });
    reply.code(201);
    return issueEntity(state, project, issue);
  });

  app.get<{ Params: { id: string; iid: string } }>('/api/v4/projects/:id/issues/:iid', async (req) => {
    const user = optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    return issueEntity(state, project, state.findIssue(project, req.params.iid));
  });

  app.put<{ Params: { id: string; iid: string } }>('/api/v4/projects/:id/issues/:iid', async (req) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    const issue = state.findIssue(project, req.params.iid);
    const p = params(req);
    state.editIssue(project, issue, user, {
      title: str(p, 'title', { max: 1000 }),
      description: str(p, 'description', { max: 1_048_576 }),
      labels: strArray(p, 'labels'),
      stateEvent: str(p, 'state_event'),
    });
    return issueEntity(state, project, issue);
  });

  const issueTarget = (req: FastifyRequest<{ Params: { id: string; iid: string } }>, write: boolean) => {
    const user = write ? needUser(ctx, req) : optUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    return { user, project, issue: state.findIssue(project, req.params.iid) };
  };

  app.get<{ Params: { id: string; iid: string } }>('/api/v4/projects/:id/issues/:iid/notes', async (req, reply) => {
    const { project, issue } = issueTarget(req, false);
    return paginate(
      req,
      reply,
      [...issue.notes].sort((a, b) => b.id - a.id),
    ).map((n) => noteEntity(state, project, n));
  });

  app.post<{ Params: { id: string; iid: string } }>('/api/v4/projects/:id/issues/:iid/notes', async (req, reply) => {
    const { user, project, issue } = issueTarget(req, true);
    const note = state.addNote(project, { issue }, user!, str(params(req), 'body', { required: true }) as string);
    reply.code(201);
    return noteEntity(state, project, note);
  });

  // ------------------------------------------------------------- hooks

  app.get<P>('/api/v4/projects/:id/hooks', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.maintainer);
    return paginate(req, reply, project.hooks).map(hookEntity);
  });

  app.get<{ Params: { id: string; hookId: string } }>('/api/v4/projects/:id/hooks/:hookId', async (req) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.maintainer);
    const hook = project.hooks.find((h) => h.id === Number(req.params.hookId));
    if (!hook) throw notFound('Hook');
    return hookEntity(hook);
  });

  const hookInput = (req: FastifyRequest, requireUrl: boolean) => {
    const p = params(req);
    const url = str(p, 'url', { required: requireUrl, max: 2048 });
    if (url !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw badRequest('Invalid url given');
      }
      if (!['http:', 'https:'].includes(parsed.protocol)) throw badRequest('Invalid url given');
    }
    const signing = str(p, 'signing_token', { max: 255 });
    if (signing !== undefined && !isSigningToken(signing)) throw badRequest('signing_token must be whsec_ followed by the base64 encoding of a 32-byte key');
    return {
      url,
      token: str(p, 'token', { max: 255 }),
      signing_token: signing,
      merge_requests_events: bool(p, 'merge_requests_events'),
      note_events: bool(p, 'note_events'),
      issues_events: bool(p, 'issues_events'),
      push_events: bool(p, 'push_events'),
      enable_ssl_verification: bool(p, 'enable_ssl_verification'),
    };
  };

  app.post<P>('/api/v4/projects/:id/hooks', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.maintainer);
    const input = hookInput(req, true);
    const hook = state.addHook(project, {
      url: input.url as string,
      token: input.token,
      signing_token: input.signing_token,
      // GitLab's defaults: push events on, everything else off.
      merge_requests_events: input.merge_requests_events ?? false,
      note_events: input.note_events ?? false,
      issues_events: input.issues_events ?? false,
      push_events: input.push_events ?? true,
      enable_ssl_verification: input.enable_ssl_verification,
    });
    reply.code(201);
    return hookEntity(hook);
  });

  app.put<{ Params: { id: string; hookId: string } }>('/api/v4/projects/:id/hooks/:hookId', async (req) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.maintainer);
    const hook = project.hooks.find((h) => h.id === Number(req.params.hookId));
    if (!hook) throw notFound('Hook');
    const input = hookInput(req, false);
    if (input.url) hook.url = input.url;
    if (input.token !== undefined) hook.token = input.token;
    if (input.signing_token !== undefined) hook.signingToken = input.signing_token;
    for (const k of ['merge_requests_events', 'note_events', 'issues_events', 'push_events'] as const) if (input[k] !== undefined) hook.events[k] = input[k] as boolean;
    return hookEntity(hook);
  });

  const TRIGGER: Record<string, string> = {
    'Merge Request Hook': 'merge_request_hooks',
    'Note Hook': 'note_hooks',
    'Issue Hook': 'issue_hooks',
    'Push Hook': 'push_hooks',
  };
  const hookOf = (req: FastifyRequest<{ Params: { id: string; hookId: string } }>) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.maintainer);
    const hook = project.hooks.find((h) => h.id === Number(req.params.hookId));
    if (!hook) throw notFound('Hook');
    return hook;
  };

  app.get<{ Params: { id: string; hookId: string } }>('/api/v4/projects/:id/hooks/:hookId/events', async (req, reply) => {
    const hook = hookOf(req);
    const rows = ctx.webhooks.deliveries(hook.id).reverse();
    return paginate(req, reply, rows).map((d) => ({
      id: d.logId,
      url: hook.url,
      trigger: TRIGGER[d.event] ?? d.event,
      request_headers: d.requestHeaders,
      request_data: JSON.parse(d.body) as unknown,
      response_headers: d.responseHeaders,
      response_body: d.responseBody ?? '',
      execution_duration: d.durationMs === null ? null : d.durationMs / 1000,
      response_status: d.status === null ? (d.finishedAt ? 'internal error' : 'pending') : String(d.status),
    }));
  });

  app.post<{ Params: { id: string; hookId: string; eventId: string } }>('/api/v4/projects/:id/hooks/:hookId/events/:eventId/resend', async (req, reply) => {
    const hook = hookOf(req);
    const original = ctx.webhooks.deliveries(hook.id).find((d) => d.logId === Number(req.params.eventId));
    if (!original) throw notFound('Hook Event');
    ctx.webhooks.resend(original.id);
    reply.code(201);
    return {};
  });

  app.delete<{ Params: { id: string; hookId: string } }>('/api/v4/projects/:id/hooks/:hookId', async (req, reply) => {
    const user = needUser(ctx, req);
    const project = state.findProject(req.params.id, user);
    state.requireAccess(user, project, ACCESS.maintainer);
    const idx = project.hooks.findIndex((h) => h.id === Number(req.params.hookId));
    if (idx === -1) throw notFound('Hook');
    project.hooks.splice(idx, 1);
    reply.code(204);
    return null;
  });
}
