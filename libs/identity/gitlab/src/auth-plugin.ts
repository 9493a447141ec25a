// The fastify plugin that authenticates every route of a public listener except the ones it is
// told are public (POST /webhooks/gitlab, which has its own token and signature). Unknown paths
// are authenticated too, so a stranger learns nothing, not even which routes exist. A refused
// caller gets 401 with `WWW-Authenticate: Bearer` (RFC 6750), 431 for an oversize header, or 503
// when GitLab or its keys cannot be reached — never anonymous access. The token is in no answer,
// log line or metric; routes read `request.caller`.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { Counter } from 'prom-client';
import { JitError } from '@jit/errors';
import { AuthMissing, AuthUnavailable, type CallerResolver } from '@jit/identity-contract';
import type { Registry } from '@jit/observability';

export interface PublicRoute {
  method: string;
  /** The route as registered (e.g. `/webhooks/gitlab`). */
  url: string;
}

/** The webhook authenticates itself (X-Gitlab-Token / Standard Webhooks signature). */
export const WEBHOOK_ROUTE: PublicRoute = { method: 'POST', url: '/webhooks/gitlab' };

export interface AuthPluginOptions {
  resolver: CallerResolver;
  /** Routes served without a caller. Default: the GitLab webhook only. */
  publicRoutes?: readonly PublicRoute[];
  /** `jit_api_auth_total{outcome,via}` is registered here when given. */
  registry?: Registry;
  /** `realm` of WWW-Authenticate. Default `jit`. */
  realm?: string;
}

const plugin: FastifyPluginAsync<AuthPluginOptions> = async (app, opts) => {
  const publicRoutes = opts.publicRoutes ?? [WEBHOOK_ROUTE];
  const realm = opts.realm ?? 'jit';
  const counter = opts.registry ? authCounter(opts.registry) : undefined;
  app.decorateRequest('caller', undefined);
  const isPublic = (req: FastifyRequest) => publicRoutes.some((r) => r.method === req.method && r.url === req.routeOptions.url);

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (isPublic(req)) return;
    try {
      req.caller = await opts.resolver.resolve(req.headers.authorization);
      counter?.inc({ outcome: 'accepted', via: req.caller.via });
    } catch (err) {
      const e = err instanceof JitError ? err : AuthUnavailable('the caller could not be checked', { cause: err });
      counter?.inc({ outcome: e.retriable ? 'unavailable' : 'refused', via: 'none' });
      if (e.statusCode === 401) {
        reply.header('www-authenticate', AuthMissing.is(e) ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`);
      }
      if (e.retriable) reply.header('retry-after', '5');
      // the code says why; the token and the header are never logged
      req.log[e.retriable ? 'warn' : 'info']({ code: e.code, method: req.method, route: req.routeOptions.url ?? 'unknown' }, 'api caller refused');
      return reply.code(e.statusCode).send({ code: e.code, message: e.message });
    }
  });
};

function authCounter(registry: Registry): Counter<'outcome' | 'via'> {
  const name = 'jit_api_auth_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'outcome' | 'via'>;
  return new Counter({
    name,
    help: 'API calls by authentication outcome (accepted, refused, unavailable) and token kind (gitlab-token, ci-id-token; none when refused).',
    labelNames: ['outcome', 'via'],
    registers: [registry],
  });
}

/** Registers once per fastify instance (fastify-plugin: the hook covers every route of the app). */
export const authPlugin = fp(plugin, { name: 'jit-auth', fastify: '5.x' });
