// Users, groups (direct and inherited members), projects and project members.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { groupEntity, memberEntity, projectEntity, userBasic, userFull } from '../entities/accounts';
import { badRequest, conflict, forbidden, notFound, paramError } from '../http-error';
import type { Group, User } from '../model';
import { ACCESS } from '../state';
import { bool, int, needUser, optUser, paginate, params, str, strArray, type RouteContext } from './context';

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

  const findGroup = (id: string, viewer: User): Group => {
    const g = /^\d+$/.test(id) ? state.groupById(Number(id)) : state.groupByPath(id);
    // Groups are private: only members of the group or a descendant (and admins) see them.
    if (!g) throw notFound('Group');
    const visible = viewer.admin || state.groupMembersAll(g).has(viewer.id) || state.groups.some((d) => state.groupAncestry(d).includes(g) && d.members.has(viewer.id));
    if (!visible) throw notFound('Group');
    return g;
  };

  // Admin-only, as in GitLab: create users and their personal access tokens.
  app.post('/api/v4/users', async (req, reply) => {
    const admin = needUser(ctx, req);
    if (!admin.admin) throw forbidden();
    const p = params(req);
    const username = str(p, 'username', { required: true, max: 255 }) as string;
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(username)) throw badRequest("Username can contain only letters, digits, '_', '-' and '.'");
    if (state.userByUsername(username)) throw conflict('Username has already been taken');
    const email = str(p, 'email', { required: true, max: 255 }) as string;
    if (!/^[^@\s]+@[^@\s]+$/.test(email)) throw badRequest('Email is invalid');
    if (state.users.some((u) => u.email.toLowerCase() === email.toLowerCase())) throw conflict('Email has already been taken');
    const user = state.addUser({
      username,
      email,
      name: str(p, 'name', { required: true, max: 255 }) as string,
      admin: bool(p, 'admin') ?? false,
    });
    reply.code(201);
    return userFull(state, user, true);
  });

  app.post<{ Params: { id: string } }>('/api/v4/users/:id/personal_access_tokens', async (req, reply) => {
    const admin = needUser(ctx, req);
    if (!admin.admin) throw forbidden();
    const user = /^\d+$/.test(req.params.id) ? state.userById(Number(req.params.id)) : undefined;
    if (!user) throw notFound('User');
    const p = params(req);
    const name = str(p, 'name', { required: true, max: 255 }) as string;
    const scopes = strArray(p, 'scopes');
    if (!scopes || scopes.length === 0) throw paramError('scopes is missing');
    const token = `glpat-${randomBytes(15).toString('base64url')}`;
    user.tokens.add(token);
    reply.code(201);
    // The only time GitLab shows a token value is in this creation response.
    return { id: user.tokens.size, name, revoked: false, created_at: state.now().toISOString(), scopes, user_id: user.id, active: true, expires_at: str(p, 'expires_at', { max: 10 }) ?? null, token };
  });

  const addMember = (members: Map<number, number>, req: FastifyRequest, reply: FastifyReply) => {
    const p = params(req);
    const userId = int(p, 'user_id', { required: true }) as number;
    const level = int(p, 'access_level', { required: true }) as number;
    if (![10, 20, 30, 40, 50].includes(level)) throw paramError('access_level does not have a valid value');
    const user = state.userById(userId);
    if (!user) throw notFound('User');
    if (members.has(userId)) throw conflict('Member already exists');
    members.set(userId, level);
    reply.code(201);
    return memberEntity(state, user, level);
  };

  app.post<{ Params: { id: string } }>('/api/v4/groups/:id/members', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const g = findGroup(req.params.id, viewer);
    if (!viewer.admin && (state.groupMembersAll(g).get(viewer.id)?.level ?? 0) < ACCESS.owner) throw forbidden();
    return addMember(g.members, req, reply);
  });

  app.post<{ Params: { id: string } }>('/api/v4/projects/:id/members', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const project = state.findProject(req.params.id, viewer);
    state.requireAccess(viewer, project, ACCESS.maintainer);
    return addMember(project.members, req, reply);
  });

  app.get<{ Params: { id: string } }>('/api/v4/users/:id', async (req) => {
    const viewer = optUser(ctx, req);
    const user = /^\d+$/.test(req.params.id) ? state.userById(Number(req.params.id)) : undefined;
    if (!user) throw notFound('User');
    return userFull(state, user, viewer?.id === user.id || !!viewer?.admin);
  });

  app.get<{ Params: { id: string } }>('/api/v4/groups/:id', async (req) => {
    const viewer = needUser(ctx, req);
    return groupEntity(state, findGroup(req.params.id, viewer));
  });

  app.get<{ Params: { id: string } }>('/api/v4/groups/:id/subgroups', async (req, reply) => {
    const viewer = needUser(ctx, req);
    const g = findGroup(req.params.id, viewer);
    return paginate(
      req,
      reply,
      state.groups.filter((x) => x.parentId === g.id),
    ).map((x) => groupEntity(state, x));
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
