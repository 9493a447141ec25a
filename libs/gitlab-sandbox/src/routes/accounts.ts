// Users, groups (direct and inherited members), projects and project members.
import type { FastifyInstance } from 'fastify';
import { groupEntity, memberEntity, projectEntity, userBasic, userFull } from '../entities';
import { notFound } from '../http-error';
import type { Group, User } from '../model';
import { needUser, optUser, paginate, params, str, type RouteContext } from './context';

export function accountRoutes(app: FastifyInstance, ctx: RouteContext, version: string): void {
  const { state } = ctx;

  app.get('/api/v4/version', async (req) => {
    needUser(ctx, req);
    return { version, revision: 'sandbox', kas: { enabled: false, externalUrl: null, version: null }, enterprise: true };
  });

  app.get('/api/v4/user', async (req) => {
    const user = needUser(ctx, req);
    return userFull(state, user, true);
  });

  app.get('/api/v4/users', async (req, reply) => {
    optUser(ctx, req);
    const p = params(req);
    const username = str(p, 'username', { max: 255 });
    const search = str(p, 'search', { max: 255 });
    // Blocked users are listed too; their `state` says so.
    let users = [...state.users];
    if (username !== undefined) users = users.filter((u) => u.username.toLowerCase() === username.toLowerCase());
    if (search !== undefined) {
      const q = search.toLowerCase();
      users = users.filter((u) => u.username.toLowerCase().includes(q) || u.name.toLowerCase().includes(q));
    }
    return paginate(req, reply, users).map((u) => userBasic(state, u));
  });

  app.get<{ Params: { id: string } }>('/api/v4/users/:id', async (req) => {
    const viewer = optUser(ctx, req);
    const user = /^\d+$/.test(req.params.id) ? state.userById(Number(req.params.id)) : undefined;
    if (!user) throw notFound('User');
    return userFull(state, user, viewer?.id === user.id || !!viewer?.admin);
  });

  const findGroup = (id: string, viewer: User): Group => {
    const g = /^\d+$/.test(id) ? state.groupById(Number(id)) : state.groupByPath(id);
    // Groups are private: only members of the group or a descendant (and admins) see them.
    if (!g) throw notFound('Group');
    const visible = viewer.admin || state.groupMembersAll(g).has(viewer.id) || state.groups.some((d) => state.groupAncestry(d).includes(g) && d.members.has(viewer.id));
    if (!visible) throw notFound('Group');
    return g;
  };

  app.get<{ Params: { id: string } }>('/api/v4/groups/:id', async (req) => {
    const viewer = needUser(ctx, req);
    return groupEntity(state, findGroup(req.params.id, viewer));
  });

  app.get<{ Params: { id: string } }>('/api/v4/groups/:id/subgroups', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const g = findGroup(req.params.id, viewer);
    return paginate(req, reply, state.groups.filter((x) => x.parentId === g.id)).map((x) => groupEntity(state, x));
  });

  app.get<{ Params: { id: string } }>('/api/v4/groups/:id/members', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const g = findGroup(req.params.id, viewer);
    const rows = [...g.members].map(([uid, level]) => memberEntity(state, state.userById(uid) as User, level));
    return paginate(req, reply, rows);
  });

  app.get<{ Params: { id: string } }>('/api/v4/groups/:id/members/all', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const g = findGroup(req.params.id, viewer);
    const rows = [...state.groupMembersAll(g)].map(([uid, { level }]) => memberEntity(state, state.userById(uid) as User, level));
    return paginate(req, reply, rows);
  });

  app.get('/api/v4/projects', async (req, reply) => {
    const viewer = optUser(ctx, req);
    const p = params(req);
    const search = str(p, 'search', { max: 255 })?.toLowerCase();
    let projects = state.projects.filter((x) => state.canRead(viewer, x));
    if (search) projects = projects.filter((x) => x.pathWithNamespace.toLowerCase().includes(search));
    return paginate(req, reply, projects).map((x) => projectEntity(state, x));
  });

  app.get<{ Params: { id: string } }>('/api/v4/projects/:id', async (req) => {
    const viewer = optUser(ctx, req);
    return projectEntity(state, state.findProject(req.params.id, viewer));
  });

  app.get<{ Params: { id: string } }>('/api/v4/projects/:id/members', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const project = state.findProject(req.params.id, viewer);
    const rows = [...project.members].map(([uid, level]) => memberEntity(state, state.userById(uid) as User, level));
    return paginate(req, reply, rows);
  });

  app.get<{ Params: { id: string } }>('/api/v4/projects/:id/members/all', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const project = state.findProject(req.params.id, viewer);
    const rows = [...state.projectMembersAll(project)].map(([uid, level]) => memberEntity(state, state.userById(uid) as User, level));
    return paginate(req, reply, rows);
  });
}
