// startSandbox: the fastify server speaking GitLab REST v4 on 127.0.0.1, plus the admin API
// tests and the demo use to drive it (pushes, users, tiers, the webhook delivery log).
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from '@jit/observability';
import { SandboxBadArgument, SandboxNotFound } from './errors';
import { HttpError } from './http-error';
import { issuePayload, mergeRequestPayload, notePayload, pushPayload } from './hook-payloads';
import type { ApprovalSettings, Delivery, FileAction, Hook, Project, Tier, User } from './model';
import { createStateSaver, loadStateFile, snapshotState, type StateSaver } from './persist';
import { accountRoutes } from './routes/accounts';
import { mergeRequestRoutes } from './routes/merge-requests';
import { OAuthProvider, type OAuthApplication } from './oauth';
import { oauthRoutes } from './routes/oauth';
import { oidcRoutes } from './routes/oidc';
import { projectSettingsRoutes } from './routes/project-settings';
import { projectEventRoutes, repositoryRoutes } from './routes/repository';
import { parseSeed, validateSeed, type Seed, type SeedHook, type SeedInput } from './seed';
import { SandboxState, type SandboxEvent } from './state';
import { WebhookDispatcher } from './webhooks';

export const DEFAULT_GITLAB_VERSION = '19.0.0-ee';

/** Which hook setting subscribes to an event, and the X-Gitlab-Event it is sent with. */
const HOOK_FLAG = { merge_request: 'merge_requests_events', note: 'note_events', issue: 'issues_events', push: 'push_events' } as const;
const HOOK_HEADER = { merge_request: 'Merge Request Hook', note: 'Note Hook', issue: 'Issue Hook', push: 'Push Hook' } as const;
const BODY_LIMIT = 16 * 1024 * 1024;

export interface SandboxOptions {
  /** A parsed seed object, or seed YAML text. */
  seed?: SeedInput | Seed | string;
  port?: number;
  host?: string;
  /** The URL GitLab calls itself (web_url, X-Gitlab-Instance); default: the listening URL. */
  instanceUrl?: string;
  gitlabVersion?: string;
  now?: () => Date;
  /** Webhook timeout, default 10 s as GitLab's. */
  webhookTimeoutMs?: number;
  logger?: Logger;
  /**
   * Keep the whole state in this file (see persist.ts): restored from it at start when it
   * exists (the seed is then ignored). A change made through the REST API is on disk before the
   * sandbox answers it (and before a webhook reports it), so a kill -9 loses no answered change;
   * changes made in-process (the Sandbox methods) are written after the debounce, and at close.
   */
  persist?: { file: string; debounceMs?: number; maxWaitMs?: number; maxBytes?: number };
}

export interface SandboxPersistence {
  readonly file: string;
  /** True when this start restored the state from the file (false: seeded, file created). */
  readonly restored: boolean;
  /** Completed writes of the file so far. */
  readonly writes: number;
  /** Note a change made behind the sandbox's back (e.g. on `sandbox.state` directly). */
  changed(): void;
  /** Write the file now if anything changed. */
  flush(): Promise<void>;
}

export interface PushInput {
  project: string;
  branch: string;
  /** Commit author (a seeded username). */
  author: string;
  message?: string;
  /** File actions as the commits API takes them, or a map path -> content (null deletes). */
  actions?: FileAction[];
  files?: Record<string, string | null>;
  /** Create `branch` from this ref when it does not exist yet. */
  startBranch?: string;
  /** The commit's author and committer date, as a git client writes it (any time at all; GitLab keeps it). Default: now. */
  committedAt?: Date;
  /**
   * The commit's author and committer lines, as a git client writes them (anything at all; GitLab
   * does not check them). Default: the pusher's name and e-mail. The Push Hook still names `author`
   * as the pusher (`user_username`).
   */
  identity?: { authorName?: string; authorEmail?: string; committerName?: string; committerEmail?: string };
}

export interface Sandbox {
  readonly url: string;
  readonly port: number;
  readonly apiUrl: string;
  readonly state: SandboxState;
  readonly app: FastifyInstance;
  close(): Promise<void>;
  /** Resolves when every queued webhook delivery has finished. */
  idle(): Promise<void>;
  deliveries(hookId?: number): Delivery[];
  resend(deliveryId: string): Delivery;
  addUser(input: { username: string; name?: string; email?: string; token?: string; bot?: boolean; admin?: boolean }): User;
  addGroupMember(groupPath: string, username: string, accessLevel?: number): void;
  /** What a group owner's "remove member" does (someone leaves a team); unknown group or user: not found. */
  removeGroupMember(groupPath: string, username: string): void;
  addProjectMember(projectPath: string, username: string, accessLevel?: number): void;
  setProjectTier(projectPath: string, tier: Tier): void;
  setApprovalSettings(projectPath: string, settings: Partial<ApprovalSettings>): void;
  addHook(projectPath: string, hook: Partial<SeedHook> & { url: string }): { id: number };
  pushCommit(input: PushInput): string;
  project(projectPath: string): Project;
  user(username: string): User;
  /**
   * Keep exactly one hook among those `match` selects, with these settings: the first match is
   * updated in place (its id stays), the other matches are removed, or a new hook is added.
   */
  replaceHooks(projectPath: string, match: (hook: Hook) => boolean, hook: Partial<SeedHook> & { url: string }): { id: number };
  /** Present when started with `persist`. */
  readonly persistence?: SandboxPersistence;
  /** What an admin's "Add new application" does (an OAuth 2 client; in memory, like its tokens). */
  addOAuthApplication(input: { name: string; redirectUri: string | string[]; scopes: string[]; confidential?: boolean }): OAuthApplication;
}

function toSeed(seed: SandboxOptions['seed']): Seed {
  if (seed === undefined) return validateSeed({});
  if (typeof seed === 'string') return parseSeed(seed);
  return validateSeed(seed);
}

function formBody(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    if (k.endsWith('[]')) out[k] = [...((out[k] as string[] | undefined) ?? []), v];
    else out[k] = v;
  }
  return out;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const version = options.gitlabVersion ?? DEFAULT_GITLAB_VERSION;
  const now = options.now ?? (() => new Date());
  const seed = toSeed(options.seed);
  const live = { instanceUrl: options.instanceUrl ?? 'http://127.0.0.1' };

  const dispatcher = new WebhookDispatcher({
    get instanceUrl() {
      return live.instanceUrl;
    },
    gitlabVersion: version,
    timeoutMs: options.webhookTimeoutMs,
    logger: options.logger,
    now,
    beforeSend: () => saver?.flush() ?? Promise.resolve(),
  });
  // Declared before the state: the state's events mark it dirty.
  let saver: StateSaver | undefined;
  const stateOpts = {
    get instanceUrl() {
      return live.instanceUrl;
    },
    now,
    emit: (ev: SandboxEvent) => {
      saver?.changed();
      dispatch(ev);
    },
    changed: () => saver?.changed(),
  };
  const restored = options.persist ? await loadStateFile(options.persist.file, stateOpts, options.persist.maxBytes) : undefined;
  const state = restored ?? new SandboxState(seed, stateOpts);
  if (options.persist) saver = createStateSaver({ ...options.persist, serialize: () => snapshotState(state), logger: options.logger });
  if (saver && !restored) {
    // A fresh sandbox writes its seeded state at once: the file's existence is what says "seeded".
    saver.changed();
    await saver.flush();
  }

  /**
   * GitLab's recursion detection: X-Gitlab-Event-UUID is one UUID per hook per API request,
   * or the UUID the request itself carried when a webhook receiver called back.
   */
  const requestScope = new AsyncLocalStorage<{ incoming: string | undefined; perHook: Map<number, string> }>();

  function dispatch(ev: SandboxEvent): void {
    const hooks = ev.project.hooks.filter((h) => h.events[HOOK_FLAG[ev.kind]]);
    if (hooks.length === 0) return;
    // Built once per event, so every hook of the project gets the same body.
    const payload = ev.kind === 'merge_request' ? mergeRequestPayload(state, ev) : ev.kind === 'note' ? notePayload(state, ev) : ev.kind === 'push' ? pushPayload(state, ev) : issuePayload(state, ev);
    const header = HOOK_HEADER[ev.kind];
    const scope = requestScope.getStore();
    for (const hook of hooks) {
      const eventUuid = scope?.incoming ?? scope?.perHook.get(hook.id) ?? randomUUID();
      scope?.perHook.set(hook.id, eventUuid);
      dispatcher.enqueue(hook, header, payload, eventUuid);
    }
  }

  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 } });
  // GitLab (Grape) takes an empty JSON body as no parameters: a bare `curl -X POST -H
  // 'Content-Type: application/json' …/approve` works there. Fastify's JSON parser refuses it, so
  // an empty body is let through here; anything else goes to that parser (prototype poisoning refused).
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    jsonParser(req, body as string, done);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, formBody(body as string));
  });
  app.setErrorHandler((err: FastifyError | HttpError, _req, reply) => {
    if (err instanceof HttpError) return reply.code(err.statusCode).send(err.body);
    const code = (err as FastifyError).code;
    const status = (err as FastifyError).statusCode ?? 500;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ message: '413 Request Entity Too Large' });
    if (status === 415) return reply.code(415).send({ error: '415 Unsupported Media Type' });
    if (status >= 400 && status < 500) return reply.code(400).send({ error: (err as Error).message || '400 Bad request' });
    options.logger?.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'sandbox internal error');
    return reply.code(500).send({ message: '500 Internal Server Error' });
  });
  app.addHook('onRequest', (req, _reply, done) => {
    const h = req.headers['x-gitlab-event-uuid'];
    const incoming = typeof h === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(h) ? h : undefined;
    requestScope.run({ incoming, perHook: new Map() }, done);
  });
  if (saver)
    // Every state change through the REST API is a non-GET request (settings, statuses and rules
    // raise no event); a refused one costs one needless write at most. The write (fsync, rename,
    // directory fsync) completes before the answer leaves: in sandbox mode this is the user's
    // GitLab, and GitLab answers 201 for what it has committed. Concurrent requests share writes
    // (each write takes the state as it is then). If the write fails, the answer is a 500.
    app.addHook('onSend', async (req, reply, payload) => {
      if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return payload;
      saver.changed();
      try {
        await saver.flush();
        return payload;
      } catch (err) {
        options.logger?.error({ code: (err as { code?: string }).code, err: (err as Error).message }, 'sandbox state not saved; answering 500');
        reply.code(500).type('application/json');
        return JSON.stringify({ message: '500 Internal Server Error' });
      }
    });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: '404 Not Found' }));

  const oauth = new OAuthProvider(now);
  const ctx = { state, webhooks: dispatcher, oauth };
  accountRoutes(app, ctx, version);
  repositoryRoutes(app, ctx);
  projectEventRoutes(app, ctx);
  mergeRequestRoutes(app, ctx);
  projectSettingsRoutes(app, ctx);
  oidcRoutes(app, ctx);
  oauthRoutes(app, ctx);

  const address = await app.listen({ host, port: options.port ?? 0 });
  const port = Number(new URL(address).port);
  const url = `http://${host}:${port}`;
  if (!options.instanceUrl) live.instanceUrl = url;

  const project = (path: string): Project => {
    const p = state.projectByPath(path) ?? (/^\d+$/.test(path) ? state.projects.find((x) => x.id === Number(path)) : undefined);
    if (!p) throw SandboxNotFound(`project "${path}"`);
    return p;
  };
  const user = (username: string): User => {
    const u = state.userByUsername(username);
    if (!u) throw SandboxNotFound(`user "${username}"`);
    return u;
  };
  const wrap = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof HttpError) throw SandboxBadArgument(`${err.statusCode} ${err.message}`, { cause: err });
      throw err;
    }
  };

  const sandbox: Sandbox = {
    url,
    port,
    apiUrl: `${url}/api/v4`,
    state,
    app,
    async close() {
      dispatcher.close();
      await app.close();
      // The final state is written whatever happened, also changes made on `state` directly.
      saver?.changed();
      await saver?.close();
    },
    persistence: saver && {
      file: saver.file,
      restored: restored !== undefined,
      get writes() {
        return saver.writes;
      },
      changed: () => saver.changed(),
      flush: () => saver.flush(),
    },
    idle: () => dispatcher.idle(),
    deliveries: (hookId) => dispatcher.deliveries(hookId),
    resend(deliveryId) {
      const r = dispatcher.resend(deliveryId);
      if (!r) throw SandboxNotFound(`delivery "${deliveryId}"`);
      return r;
    },
    addUser(input) {
      if (input.token !== undefined && state.userByToken(input.token)) throw SandboxBadArgument('that token already belongs to another user');
      return wrap(() => state.addUser({ ...input, tokens: input.token ? [input.token] : [] }));
    },
    addGroupMember(groupPath, username, accessLevel = 30) {
      const g = state.groupByPath(groupPath);
      if (!g) throw SandboxNotFound(`group "${groupPath}"`);
      g.members.set(user(username).id, accessLevel);
    },
    removeGroupMember(groupPath, username) {
      const g = state.groupByPath(groupPath);
      if (!g) throw SandboxNotFound(`group "${groupPath}"`);
      g.members.delete(user(username).id);
    },
    addProjectMember(projectPath, username, accessLevel = 30) {
      project(projectPath).members.set(user(username).id, accessLevel);
    },
    setProjectTier(projectPath, tier) {
      if (tier !== 'free' && tier !== 'premium') throw SandboxBadArgument(`tier must be free or premium, not ${String(tier)}`);
      project(projectPath).tier = tier;
    },
    setApprovalSettings(projectPath, settings) {
      Object.assign(project(projectPath).approvalSettings, settings);
    },
    addHook(projectPath, hook) {
      const h = wrap(() =>
        state.addHook(project(projectPath), {
          url: hook.url,
          token: hook.token,
          signing_token: hook.signing_token,
          merge_requests_events: hook.merge_requests_events ?? true,
          note_events: hook.note_events ?? true,
          issues_events: hook.issues_events ?? false,
          push_events: hook.push_events ?? false,
        }),
      );
      return { id: h.id };
    },
    pushCommit(input) {
      const p = project(input.project);
      const u = user(input.author);
      let actions = input.actions;
      if (!actions) {
        const head = state.branchHead(p, input.branch) ?? (input.startBranch ? state.branchHead(p, input.startBranch) : undefined);
        const files = head ? state.store.commit(head)?.files : undefined;
        actions = Object.entries(input.files ?? {}).map(([path, content]) =>
          content === null ? { action: 'delete', file_path: path } : { action: files?.has(path) ? 'update' : 'create', file_path: path, content },
        );
      }
      const startBranch = state.branchHead(p, input.branch) ? undefined : (input.startBranch ?? p.defaultBranch);
      const time = input.committedAt ? Math.floor(input.committedAt.getTime() / 1000) : undefined;
      return wrap(() => state.commit(p, u, { branch: input.branch, startBranch, message: input.message ?? 'Update files', actions: actions as FileAction[], ...input.identity }, time)).id;
    },
    replaceHooks(projectPath, match, hook) {
      const p = project(projectPath);
      const [keep, ...extra] = p.hooks.filter(match);
      for (const h of extra) p.hooks.splice(p.hooks.indexOf(h), 1);
      if (!keep) return sandbox.addHook(projectPath, hook);
      keep.url = hook.url;
      keep.token = hook.token ?? null;
      keep.signingToken = hook.signing_token ?? null;
      keep.events = {
        merge_requests_events: hook.merge_requests_events ?? true,
        note_events: hook.note_events ?? true,
        issues_events: hook.issues_events ?? false,
        push_events: hook.push_events ?? false,
      };
      return { id: keep.id };
    },
    addOAuthApplication: (input) => oauth.addApplication(input),
    project,
    user,
  };
  if (saver)
    // Admin-API mutations are saved too, also when one threw half-way.
    for (const name of ['addUser', 'addGroupMember', 'removeGroupMember', 'addProjectMember', 'setProjectTier', 'setApprovalSettings', 'addHook', 'pushCommit', 'replaceHooks'] as const) {
      const fn = sandbox[name] as (...args: unknown[]) => unknown;
      (sandbox as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        try {
          return fn(...args);
        } finally {
          saver.changed();
        }
      };
    }
  return sandbox;
}
