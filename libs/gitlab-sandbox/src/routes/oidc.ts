// GitLab's OpenID Connect surface: the discovery document (doorkeeper-openid_connect's
// DiscoveryController with GitLab's configuration) and the signing keys (GitLab's JwksController),
// both public; plus the sandbox's own stand-in for "a job ran with `id_tokens:`", outside GitLab's
// namespaces (`/-/sandbox/…` exists on no GitLab), since the sandbox runs no pipelines.
import type { FastifyInstance } from 'fastify';
import { JitError } from '@jit/errors';
import { ciSigning, issueCiIdToken, publicJwk, type CiIdTokenInput } from '../ci-id-token';
import { forbidden, HttpError, paramError } from '../http-error';
import { int, needUser, params, str, type RouteContext } from './context';

/** Where the sandbox mints a job's ID token (the sandbox's own route; GitLab hands the token to the job instead). */
export const CI_ID_TOKEN_ROUTE = '/-/sandbox/ci/id_tokens';

// doorkeeper's scopes as GitLab configures them (config/initializers/doorkeeper.rb).
const SCOPES = [
  'api',
  'read_api',
  'read_user',
  'create_runner',
  'manage_runner',
  'k8s_proxy',
  'self_rotate',
  'read_repository',
  'write_repository',
  'read_registry',
  'write_registry',
  'read_virtual_registry',
  'write_virtual_registry',
  'read_observability',
  'write_observability',
  'ai_features',
  'sudo',
  'admin_mode',
  'read_service_ping',
  'openid',
  'profile',
  'email',
];
// doorkeeper-openid_connect: iss sub aud exp iat, then GitLab's claims (config/initializers/doorkeeper_openid_connect.rb).
const CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'sub_legacy',
  'name',
  'nickname',
  'preferred_username',
  'email',
  'email_verified',
  'website',
  'profile',
  'picture',
  'groups',
  'groups_direct',
  'https://gitlab.org/claims/groups/owner',
  'https://gitlab.org/claims/groups/maintainer',
  'https://gitlab.org/claims/groups/developer',
];

/** `/.well-known/openid-configuration` as GitLab serves it for `base` (its external URL). */
export function discoveryDocument(base: string): Record<string, unknown> {
  return {
    issuer: base,
    authorization_endpoint: `${base}/oauth/authorize`,
    token_endpoint: `${base}/oauth/token`,
    revocation_endpoint: `${base}/oauth/revoke`,
    introspection_endpoint: `${base}/oauth/introspect`,
    userinfo_endpoint: `${base}/oauth/userinfo`,
    jwks_uri: `${base}/oauth/discovery/keys`,
    scopes_supported: SCOPES,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'fragment', 'form_post'],
    grant_types_supported: ['authorization_code', 'password', 'client_credentials', 'device_code', 'refresh_token'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claim_types_supported: ['normal'],
    claims_supported: CLAIMS,
    code_challenge_methods_supported: ['plain', 'S256'],
  };
}

export function oidcRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { state } = ctx;

  app.get('/.well-known/openid-configuration', async (_req, reply) => {
    reply.header('access-control-allow-origin', '*');
    return discoveryDocument(state.instanceUrl);
  });

  app.get('/oauth/discovery/keys', async (_req, reply) => {
    // JwksController: `expires_in 24.hours, public: true, must_revalidate: true, 'no-transform': true`
    reply.header('cache-control', 'max-age=86400, public, must-revalidate, no-transform');
    reply.header('access-control-allow-origin', '*');
    return { keys: [publicJwk(await ciSigning(state))] };
  });

  // A job's ID token. An admin may ask for any user's job; anyone else only for a job of their
  // own — what GitLab lets them do by running a pipeline (Developer, and push/merge rights on a
  // protected ref, checked in issueCiIdToken).
  app.post(CI_ID_TOKEN_ROUTE, async (req, reply) => {
    const caller = needUser(ctx, req);
    const p = params(req);
    const username = str(p, 'user', { max: 255 }) ?? caller.username;
    if (!caller.admin && username.toLowerCase() !== caller.username.toLowerCase()) throw forbidden();
    const project = str(p, 'project', { required: true, max: 1024 })!;
    state.findProject(project, caller); // 404 for a project the caller may not see, as GitLab
    const rawAud = p['aud'];
    const aud = Array.isArray(rawAud) ? rawAud.map(String) : str(p, 'aud', { required: true, max: 2048 })!;
    const envName = str(p, 'environment', { max: 255 });
    const input: CiIdTokenInput = {
      user: username,
      project,
      aud,
      ref: str(p, 'ref', { max: 1024 }),
      pipelineSource: str(p, 'pipeline_source', { max: 64 }),
      ttlSeconds: int(p, 'ttl_seconds', { min: 1 }),
      ...(envName ? { environment: { name: envName } } : {}),
    };
    try {
      const token = await issueCiIdToken(ctx, input);
      return reply.code(201).send({ token });
    } catch (err) {
      if (err instanceof JitError) throw new HttpError(err.statusCode === 404 ? 404 : 400, err.statusCode === 404 ? { message: '404 Not Found' } : { error: err.message });
      if (err instanceof HttpError) throw err;
      throw paramError('invalid request');
    }
  });
}
