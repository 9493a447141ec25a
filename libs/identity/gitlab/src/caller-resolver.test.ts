// Every way a caller can present itself, good and bad, against a GitLab double behind an injected
// fetch: the verdict (code and status) and that no token value ever shows in an error.
import { createHmac } from 'node:crypto';
import { base64url } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { GitlabNotFound, GitlabUnavailable } from '@jit/gitlab';
import { createCallerResolver } from './caller-resolver';
import { bearerToken, isJwtShaped } from './bearer';
import { createFakeGitlabIdentity, type FakeGitlabIdentity } from './testing';

const ALICE = 'glpat-alice-0123456789abcdef';
let gl: FakeGitlabIdentity;
/** GitLab's users by id, as GET /users/:id (jit's own token) answers; the fake ID tokens name user 5. */
let users: Map<number, { username: string; state?: string }>;
let userLookups = 0;
const resolver = (o: { ttl?: number; audience?: string | null; allowedProjects?: Array<{ project: string; ref?: string }> } = {}) =>
  createCallerResolver({
    gitlabUrl: gl.url,
    audience: o.audience === null ? undefined : (o.audience ?? gl.audience),
    allowedProjects: o.allowedProjects ?? [{ project: 'apps/*' }],
    userById: async (id) => {
      userLookups += 1;
      if (gl.mode !== 'up') throw GitlabUnavailable('GET /users/:id', 'down');
      const u = users.get(id);
      if (!u) throw GitlabNotFound('user');
      return u;
    },
    cacheTtlMs: o.ttl ?? 60_000,
    fetch: gl.fetch,
  });

/** The JitError `resolve(header)` throws; fails the test if it resolves. */
async function refusal(header: string | undefined, r = resolver()): Promise<JitError> {
  try {
    await r.resolve(header);
  } catch (err) {
    expect(err).toBeInstanceOf(JitError);
    const e = err as JitError;
    // no part of what the caller sent is ever echoed
    const token = header?.replace(/^\S+\s+/, '') ?? '';
    if (token.length >= 8) expect(JSON.stringify({ m: e.message, d: e.details }), 'token echoed').not.toContain(token);
    return e;
  }
  throw new Error(`expected ${header?.slice(0, 40)} to be refused`);
}

const forge = (header: object, payload: object, signature = '') => `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;

beforeEach(async () => {
  gl = await createFakeGitlabIdentity();
  users = new Map([[5, { username: 'deploy-agent', state: 'active' }]]);
  userLookups = 0;
  gl.tokens.set(ALICE, { id: 3, username: 'alice' });
});

describe('the Authorization header', () => {
  it('takes one Bearer token, any case of the scheme', () => {
    expect(bearerToken(`Bearer ${ALICE}`)).toBe(ALICE);
    expect(bearerToken(`bearer ${ALICE}`)).toBe(ALICE);
  });

  it.each([
    ['no header', undefined, 'JIT_ERR_AUTH_MISSING', 401],
    ['an empty header', '', 'JIT_ERR_AUTH_MISSING', 401],
    ['Bearer and no token', 'Bearer', 'JIT_ERR_AUTH_MALFORMED', 401],
    ['Bearer and blanks', 'Bearer    ', 'JIT_ERR_AUTH_MALFORMED', 401],
    ['two tokens', `Bearer ${ALICE} ${ALICE}`, 'JIT_ERR_AUTH_MALFORMED', 401],
    ['a quoted token', `Bearer "${ALICE}"`, 'JIT_ERR_AUTH_MALFORMED', 401],
    ['a token without a scheme', ALICE, 'JIT_ERR_AUTH_MALFORMED', 401],
    ['Basic', `Basic ${Buffer.from(`alice:${ALICE}`).toString('base64')}`, 'JIT_ERR_AUTH_SCHEME', 401],
    ['Token (another scheme)', `Token ${ALICE}`, 'JIT_ERR_AUTH_SCHEME', 401],
    ['a 9 KB header', `Bearer ${'a'.repeat(9000)}`, 'JIT_ERR_AUTH_HEADER_TOO_LARGE', 431],
  ])('%s is refused with %s', async (_what, header, code, status) => {
    const e = await refusal(header);
    expect([e.code, e.statusCode, e.retriable]).toEqual([code, status, false]);
    expect(gl.calls, 'nothing reaches GitLab').toEqual([]);
  });

  it('tells a JWT from a GitLab token by shape', () => {
    expect(isJwtShaped('aaa.bbb.ccc')).toBe(true);
    expect(isJwtShaped('aaa.bbb.')).toBe(true);
    expect(isJwtShaped(ALICE)).toBe(false);
    expect(isJwtShaped('a.b')).toBe(false);
  });
});

describe('GitLab tokens', () => {
  it('are asked to GitLab once, then answered from the cache by their hash', async () => {
    const r = resolver();
    expect(await r.resolve(`Bearer ${ALICE}`)).toEqual({ username: 'alice', userId: 3, bot: false, via: 'gitlab-token' });
    await Promise.all([r.resolve(`Bearer ${ALICE}`), r.resolve(`Bearer ${ALICE}`)]);
    expect(gl.calls).toEqual(['/api/v4/user']);
    expect(r.stats()).toEqual({ hits: 2, misses: 1 });
  });

  it('concurrent first calls of one token share one GitLab request', async () => {
    const r = resolver();
    await Promise.all(Array.from({ length: 5 }, () => r.resolve(`Bearer ${ALICE}`)));
    expect(gl.calls).toEqual(['/api/v4/user']);
  });

  it('a token GitLab does not know (revoked, expired) is refused with 401, and asked again next time', async () => {
    gl.tokens.delete(ALICE);
    const r = resolver();
    for (let i = 0; i < 2; i++) expect((await refusal(`Bearer ${ALICE}`, r)).code).toBe('JIT_ERR_AUTH_TOKEN_REFUSED');
    expect(gl.calls).toEqual(['/api/v4/user', '/api/v4/user']);
  });

  it('with no cache (TTL 0) a revoked token is refused at once', async () => {
    const r = resolver({ ttl: 0 });
    await r.resolve(`Bearer ${ALICE}`);
    gl.tokens.delete(ALICE);
    expect((await refusal(`Bearer ${ALICE}`, r)).statusCode).toBe(401);
  });

  it('a blocked user is refused', async () => {
    gl.tokens.set(ALICE, { id: 3, username: 'alice', state: 'blocked' });
    expect((await refusal(`Bearer ${ALICE}`)).code).toBe('JIT_ERR_AUTH_TOKEN_REFUSED');
  });

  it.each([['down' as const], [500], [502]])('GitLab %s: 503, retriable, never anonymous', async (mode) => {
    gl.mode = mode;
    const e = await refusal(`Bearer ${ALICE}`);
    expect([e.code, e.statusCode, e.retriable]).toEqual(['JIT_ERR_AUTH_UNAVAILABLE', 503, true]);
  });

  it('a bot user is marked as such', async () => {
    gl.tokens.set('glpat-bot-0123456789', { id: 9, username: 'project_1_bot', bot: true });
    expect((await resolver().resolve('Bearer glpat-bot-0123456789')).bot).toBe(true);
  });
});

describe('GitLab CI ID tokens', () => {
  it('a token GitLab signed for this audience names the user who runs the job, and its project and ref', async () => {
    const caller = await resolver().resolve(`Bearer ${await gl.idToken()}`);
    expect(caller).toEqual({
      username: 'deploy-agent',
      userId: 5,
      bot: false,
      via: 'ci-id-token',
      ci: { projectPath: 'apps/agent', projectId: '42', ref: 'main', refType: 'branch', refProtected: true, pipelineId: '1001', jobId: '2002', namespacePath: 'apps' },
    });
    // the keys were fetched from GitLab; the token itself went nowhere
    expect(gl.calls).toEqual(['/.well-known/openid-configuration', '/oauth/discovery/keys']);
  });

  it.each([
    ['expired', () => gl.idToken({}, { expiresIn: Math.floor(Date.now() / 1000) - 60 }), /expired/],
    ['not yet valid', () => gl.idToken({}, { notBefore: Math.floor(Date.now() / 1000) + 600 }), /not valid yet/],
    ['for another audience', () => gl.idToken({ aud: 'https://other.example' }), /audience/],
    ['from another issuer', () => gl.idToken({ iss: 'https://gitlab.evil' }), /another GitLab/],
    ['signed by a key GitLab does not publish (known kid)', () => gl.idToken({}, { key: gl.strangerKey }), /signature/],
    ['signed by a key GitLab does not publish (unknown kid)', () => gl.idToken({}, { key: gl.strangerKey, kid: 'not-published' }), /key this GitLab does not publish/],
    ['without user_login', () => gl.idToken({ user_login: undefined }), /user_login/],
  ])('%s: refused with 401', async (_what, make, why) => {
    const e = await refusal(`Bearer ${await make()}`);
    expect([e.code, e.statusCode]).toEqual(['JIT_ERR_AUTH_ID_TOKEN_INVALID', 401]);
    expect(e.message).toMatch(why);
  });

  it('alg none is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = forge({ alg: 'none', typ: 'JWT' }, { iss: gl.url, aud: gl.audience, user_login: 'alice', project_path: 'a/b', iat: now, exp: now + 300 });
    const e = await refusal(`Bearer ${token}`);
    expect([e.code, e.message]).toEqual(['JIT_ERR_AUTH_ID_TOKEN_INVALID', expect.stringMatching(/algorithm/)]);
  });

  it("an HS256 token using GitLab's public key as the HMAC secret is refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = forge({ alg: 'HS256', typ: 'JWT', kid: 'gitlab-key-1' }, { iss: gl.url, aud: gl.audience, user_login: 'alice', project_path: 'a/b', iat: now, exp: now + 300 }).slice(0, -1);
    const secret = JSON.stringify(gl.publicJwk);
    const token = `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
    expect((await refusal(`Bearer ${token}`)).message).toMatch(/algorithm/);
  });

  it('a JWT-shaped string that fails verification is never sent to GitLab as a token', async () => {
    await refusal('Bearer aaaa.bbbb.cccc');
    expect(gl.calls).not.toContain('/api/v4/user');
  });

  it("GitLab's keys unreachable: 503, retriable; discovery is tried again on the next token", async () => {
    gl.mode = 'down';
    const token = await gl.idToken();
    const r = resolver();
    expect((await refusal(`Bearer ${token}`, r)).code).toBe('JIT_ERR_AUTH_UNAVAILABLE');
    gl.mode = 'up';
    expect((await r.resolve(`Bearer ${token}`)).username).toBe('deploy-agent');
  });

  it.each([
    ['another project on the instance', { project_path: 'someone/fork-of-agent' }, [{ project: 'apps/*' }]],
    ['a nested project a single * does not reach', { project_path: 'apps/team/agent' }, [{ project: 'apps/*' }]],
    ['an allowed project on a ref the rule does not name', { ref: 'feature/x' }, [{ project: 'apps/agent', ref: 'main' }]],
    ['an unprotected branch named to match a ref glob', { ref: 'release/evil', ref_protected: 'false' }, [{ project: 'apps/agent', ref: 'release/*' }]],
    ['a ref glob and no ref_protected claim at all', { ref: 'release/1', ref_protected: undefined }, [{ project: 'apps/agent', ref: 'release/*' }]],
    ['any project when the list is empty', {}, []],
  ])('a job of %s: refused with 401 naming JIT_OIDC_ALLOWED_PROJECTS, before GitLab is asked about the user', async (_what, claims, allowedProjects) => {
    const e = await refusal(`Bearer ${await gl.idToken(claims)}`, resolver({ allowedProjects }));
    expect([e.code, e.statusCode]).toEqual(['JIT_ERR_AUTH_ID_TOKEN_PROJECT', 401]);
    expect(e.message).toMatch(/JIT_OIDC_ALLOWED_PROJECTS/);
    expect(userLookups).toBe(0);
  });

  it('allowed projects are globs over project_path (case-insensitive, ** across groups) and optionally the ref', async () => {
    const ok = async (claims: Record<string, unknown>, allowedProjects: Array<{ project: string; ref?: string }>) =>
      (await resolver({ allowedProjects }).resolve(`Bearer ${await gl.idToken(claims)}`)).username;
    expect(await ok({ project_path: 'Apps/Agent' }, [{ project: 'apps/agent' }])).toBe('deploy-agent');
    expect(await ok({ project_path: 'apps/team/agent' }, [{ project: 'apps/**' }])).toBe('deploy-agent');
    expect(await ok({ ref: 'release/1.2' }, [{ project: 'other/*' }, { project: 'apps/agent', ref: 'release/*' }])).toBe('deploy-agent');
  });

  it.each([
    ['blocked', 'blocked'],
    ['deactivated', 'deactivated'],
    ['banned', 'banned'],
  ])('a %s user’s still-unexpired token is refused with 401', async (_what, state) => {
    users.set(5, { username: 'deploy-agent', state });
    const e = await refusal(`Bearer ${await gl.idToken()}`);
    expect([e.code, e.statusCode]).toEqual(['JIT_ERR_AUTH_ID_TOKEN_INVALID', 401]);
    expect(e.message).toContain(`its user is ${state}`);
  });

  it('a user blocked after the first call is refused once JIT_AUTH_CACHE_TTL_MS has passed (0: at once); GitLab is asked by user id', async () => {
    const token = await gl.idToken();
    const cached = resolver();
    const uncached = resolver({ ttl: 0 });
    await cached.resolve(`Bearer ${token}`);
    await cached.resolve(`Bearer ${token}`);
    expect(userLookups).toBe(1);
    await uncached.resolve(`Bearer ${token}`);
    users.set(5, { username: 'deploy-agent', state: 'blocked' });
    expect((await refusal(`Bearer ${token}`, uncached)).message).toMatch(/blocked/);
  });

  it('a deleted user, a user renamed since (another holds the name now), a token without user_id: refused; GitLab down: 503', async () => {
    users.set(5, { username: 'deploy-agent-old' });
    expect((await refusal(`Bearer ${await gl.idToken()}`)).message).toMatch(/no longer the name/);
    users.delete(5);
    expect((await refusal(`Bearer ${await gl.idToken()}`)).message).toMatch(/no longer exists/);
    expect((await refusal(`Bearer ${await gl.idToken({ user_id: undefined })}`)).message).toMatch(/no user_id/);
    users.set(5, { username: 'deploy-agent' });
    const token = await gl.idToken();
    const r = resolver();
    await r.resolve(`Bearer ${token}`); // the keys are fetched; then GitLab goes down
    gl.mode = 503;
    const e = await refusal(`Bearer ${await gl.idToken({ user_id: '6' })}`, r);
    expect([e.code, e.retriable]).toEqual(['JIT_ERR_AUTH_UNAVAILABLE', true]);
  });

  it('without an audience configured, ID tokens are refused and GitLab tokens still work', async () => {
    const r = resolver({ audience: null });
    expect((await refusal(`Bearer ${await gl.idToken()}`, r)).code).toBe('JIT_ERR_AUTH_ID_TOKENS_DISABLED');
    expect((await r.resolve(`Bearer ${ALICE}`)).username).toBe('alice');
  });
});
