// GitLab's OIDC surface and CI ID tokens: a relying party that knows only the sandbox's URL finds
// the keys through discovery and verifies a token with `jose` exactly as it would one of GitLab's;
// the claims are GitLab's documented set; the key survives a restart; the mint route is as strict
// as GitLab is about who may run a job.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { CI_ID_TOKEN_ROUTE } from './routes/oidc';
import { startSandbox, type Sandbox } from './sandbox';
import { DEMO_SEED, issueCiIdToken } from './testing';

const P = 'ops/elevations';
const AUD = 'https://jit.example.com';
const open: Sandbox[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function start(opts: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  const s = await startSandbox({ seed: DEMO_SEED, ...opts });
  open.push(s);
  return s;
}

/** What a relying party does: discovery from the issuer URL, then the JWKS it names. */
async function verify(issuerUrl: string, token: string, audience = AUD): Promise<JWTPayload> {
  const discovery = (await (await fetch(`${issuerUrl}/.well-known/openid-configuration`)).json()) as { issuer: string; jwks_uri: string };
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  const { payload } = await jwtVerify(token, jwks, { issuer: discovery.issuer, audience, algorithms: ['RS256'] });
  return payload;
}

// GitLab's documented claims (doc/ci/secrets/id_token_authentication.md) and what jwt.rb / jwt_v2.rb
// write besides them (user_access_level, the job_* project claims).
const ALWAYS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'namespace_id',
  'namespace_path',
  'project_id',
  'project_path',
  'user_id',
  'user_login',
  'user_email',
  'user_access_level',
  'job_namespace_id',
  'job_namespace_path',
  'job_project_id',
  'job_project_path',
  'pipeline_id',
  'pipeline_source',
  'job_id',
  'ref',
  'ref_type',
  'ref_path',
  'ref_protected',
  'runner_id',
  'runner_environment',
  'sha',
  'ci_config_ref_uri',
  'ci_config_sha',
  'project_visibility',
];
const ENVIRONMENT = ['environment', 'environment_protected', 'deployment_tier', 'environment_action'];

describe('OpenID Connect discovery and keys', () => {
  it('publishes the discovery document GitLab does, with the sandbox as issuer', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: s.url,
      jwks_uri: `${s.url}/oauth/discovery/keys`,
      authorization_endpoint: `${s.url}/oauth/authorize`,
      token_endpoint: `${s.url}/oauth/token`,
      userinfo_endpoint: `${s.url}/oauth/userinfo`,
      response_types_supported: ['code'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
    expect(Object.keys(doc).sort()).toEqual(
      [
        'issuer',
        'authorization_endpoint',
        'token_endpoint',
        'revocation_endpoint',
        'introspection_endpoint',
        'userinfo_endpoint',
        'jwks_uri',
        'scopes_supported',
        'response_types_supported',
        'response_modes_supported',
        'grant_types_supported',
        'token_endpoint_auth_methods_supported',
        'subject_types_supported',
        'id_token_signing_alg_values_supported',
        'claim_types_supported',
        'claims_supported',
        'code_challenge_methods_supported',
      ].sort(),
    );
    expect(doc['scopes_supported']).toEqual(expect.arrayContaining(['api', 'read_user', 'read_api', 'read_repository', 'write_repository', 'sudo', 'openid', 'profile', 'email']));
  });

  it('publishes the public RS256 key as GitLab does: kty, kid (thumbprint), e, n, use sig, alg; nothing private', async () => {
    const s = await start();
    const res = await fetch(`${s.url}/oauth/discovery/keys`);
    expect(res.headers.get('cache-control')).toBe('max-age=86400, public, must-revalidate, no-transform');
    const { keys } = (await res.json()) as { keys: Array<Record<string, string>> };
    expect(keys).toHaveLength(1);
    const key = keys[0]!;
    expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(key).toMatchObject({ kty: 'RSA', use: 'sig', alg: 'RS256', e: 'AQAB' });
    expect(key.kid).toBe(await calculateJwkThumbprint({ kty: 'RSA', e: key.e!, n: key.n! }, 'sha256'));
    expect(Buffer.from(key.n!, 'base64url').length * 8).toBe(2048);
  });

  it('the issuer is the instance URL when one is set (GitLab: its external URL)', async () => {
    const s = await start({ instanceUrl: 'https://gitlab.example.test' });
    const doc = (await (await fetch(`${s.url}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(doc.issuer).toBe('https://gitlab.example.test');
    expect(doc.jwks_uri).toBe('https://gitlab.example.test/oauth/discovery/keys');
  });
});

describe('CI ID tokens', () => {
  it("verify with jose against discovery + JWKS and carry GitLab CI's claims", async () => {
    const s = await start();
    s.pushCommit({ project: P, branch: 'agent-work', author: 'dave', files: { 'notes.txt': 'x\n' } });
    const token = await issueCiIdToken(s, { user: 'deploy-agent', project: P, aud: AUD, ref: 'agent-work' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: expect.any(String) });
    const claims = await verify(s.url, token);
    expect(Object.keys(claims).sort()).toEqual([...ALWAYS].sort());
    const project = s.project(P);
    const agent = s.user('deploy-agent');
    const sha = s.state.branchHead(project, 'agent-work');
    expect(claims).toMatchObject({
      iss: s.url,
      aud: AUD,
      sub: `project_path:${P}:ref_type:branch:ref:agent-work`,
      project_id: String(project.id),
      project_path: P,
      namespace_id: String(project.namespaceId),
      namespace_path: 'ops',
      job_project_path: P,
      user_id: String(agent.id),
      user_login: 'deploy-agent',
      user_email: agent.email,
      user_access_level: 'developer',
      pipeline_source: 'push',
      ref: 'agent-work',
      ref_type: 'branch',
      ref_path: 'refs/heads/agent-work',
      ref_protected: 'false',
      runner_environment: 'self-hosted',
      sha,
      ci_config_sha: sha,
      ci_config_ref_uri: `${new URL(s.url).host}/${P}//.gitlab-ci.yml@refs/heads/agent-work`,
      project_visibility: 'private',
    });
    // GitLab: ids are strings, nbf 5 s before iat, 5 minutes without a job timeout.
    expect(claims.nbf).toBe(claims.iat! - 5);
    expect(claims.exp).toBe(claims.iat! + 300);
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const next = await verify(s.url, await issueCiIdToken(s, { user: 'deploy-agent', project: P, aud: AUD, ref: 'agent-work' }));
    expect(Number(next.job_id)).toBe(Number(claims.job_id) + 1);
    expect(Number(next.pipeline_id)).toBe(Number(claims.pipeline_id) + 1);
    expect(next.jti).not.toBe(claims.jti);
  });

  it('adds the environment claims for a job with an environment; the job timeout sets exp', async () => {
    const s = await start();
    const claims = await verify(s.url, await issueCiIdToken(s, { user: 'alice', project: P, aud: [AUD, 'https://other.example.com'], environment: { name: 'production' }, ttlSeconds: 3600 }));
    expect(Object.keys(claims).sort()).toEqual([...ALWAYS, ...ENVIRONMENT].sort());
    expect(claims).toMatchObject({
      environment: 'production',
      environment_protected: 'false',
      deployment_tier: 'production',
      environment_action: 'start',
      ref: 'main',
      ref_protected: 'true',
      user_access_level: 'maintainer',
    });
    expect(claims.aud).toEqual([AUD, 'https://other.example.com']);
    expect(claims.exp).toBe(claims.iat! + 3600);
  });

  it('is refused where GitLab would run no job: a developer on a protected branch, a reporter, a non-member, a blocked user', async () => {
    const s = await start();
    await expect(issueCiIdToken(s, { user: 'dave', project: P, aud: AUD })).rejects.toThrow(/may not run a pipeline for "main"/);
    s.addUser({ username: 'rita', token: 'rita-token-00001' });
    s.addProjectMember(P, 'rita', 20);
    s.pushCommit({ project: P, branch: 'x', author: 'dave', files: { x: 'x' } });
    await expect(issueCiIdToken(s, { user: 'rita', project: P, aud: AUD, ref: 'x' })).rejects.toThrow(/may not run a pipeline/);
    s.addUser({ username: 'outsider' });
    await expect(issueCiIdToken(s, { user: 'outsider', project: P, aud: AUD, ref: 'x' })).rejects.toThrow(/may not run a pipeline/);
    s.user('dave').state = 'blocked';
    await expect(issueCiIdToken(s, { user: 'dave', project: P, aud: AUD, ref: 'x' })).rejects.toThrow(/blocked/);
    await expect(issueCiIdToken(s, { user: 'alice', project: P, aud: AUD, ref: 'no-such-branch' })).rejects.toThrow(expect.objectContaining({ code: 'JIT_ERR_SANDBOX_NOT_FOUND' }));
    await expect(issueCiIdToken(s, { user: 'alice', project: P, aud: '' })).rejects.toThrow(/aud/);
  });

  it('keeps its signing key across a restart: a token issued before still verifies after, ids continue', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-oidc-'));
    dirs.push(dir);
    const file = join(dir, 'state.json');
    const first = await start({ persist: { file } });
    const before = await issueCiIdToken(first, { user: 'alice', project: P, aud: AUD });
    const jobBefore = Number((await verify(first.url, before)).job_id);
    await first.close();
    expect(JSON.parse(await readFile(file, 'utf8')).ci.key.kid).toBe(decodeProtectedHeader(before).kid);
    const second = await start({ persist: { file }, port: first.port });
    expect(second.persistence?.restored).toBe(true);
    await verify(second.url, before);
    expect(Number((await verify(second.url, await issueCiIdToken(second, { user: 'alice', project: P, aud: AUD }))).job_id)).toBe(jobBefore + 1);
  });

  it('a state file written before CI ID tokens gains a key on first use and keeps it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-oidc-'));
    dirs.push(dir);
    const file = join(dir, 'state.json');
    await (await start({ persist: { file } })).close();
    const doc = JSON.parse(await readFile(file, 'utf8'));
    delete doc.ci;
    await writeFile(file, JSON.stringify(doc));
    const s = await start({ persist: { file } });
    const kid = ((await (await fetch(`${s.url}/oauth/discovery/keys`)).json()) as { keys: Array<{ kid: string }> }).keys[0]!.kid;
    await s.close();
    expect(JSON.parse(await readFile(file, 'utf8')).ci.key.kid).toBe(kid);
  });

  it('a state file with a broken key is refused at start, naming the field and not the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sandbox-oidc-'));
    dirs.push(dir);
    const file = join(dir, 'state.json');
    const first = await start({ persist: { file } });
    await issueCiIdToken(first, { user: 'alice', project: P, aud: AUD });
    await first.close();
    const doc = JSON.parse(await readFile(file, 'utf8'));
    const secret = doc.ci.key.d as string;
    doc.ci.key.d = `${secret}!`;
    await writeFile(file, JSON.stringify(doc));
    const err = await startSandbox({ persist: { file } }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'JIT_ERR_SANDBOX_STATE_CORRUPT' });
    expect((err as Error).message).toContain('ci.key.d');
    expect((err as Error).message).not.toContain(secret.slice(0, 16));
  });
});

describe(`POST ${CI_ID_TOKEN_ROUTE} (the sandbox's stand-in for a job's id_tokens:)`, () => {
  const mint = (s: Sandbox, token: string | undefined, body: Record<string, unknown>) =>
    fetch(`${s.url}${CI_ID_TOKEN_ROUTE}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { 'private-token': token } : {}) },
      body: JSON.stringify(body),
    });

  it('a user gets a token for a job of their own; an admin for anyone; others are refused', async () => {
    const s = await start();
    s.pushCommit({ project: P, branch: 'agent-work', author: 'dave', files: { x: 'x' } });
    const own = await mint(s, 'agent-token-001', { project: P, aud: AUD, ref: 'agent-work' });
    expect(own.status).toBe(201);
    expect(await verify(s.url, ((await own.json()) as { token: string }).token)).toMatchObject({ user_login: 'deploy-agent', aud: AUD });
    const admin = await mint(s, 'root-token-0001', { user: 'alice', project: P, aud: AUD, environment: 'staging' });
    expect(admin.status).toBe(201);
    expect(await verify(s.url, ((await admin.json()) as { token: string }).token)).toMatchObject({ user_login: 'alice', deployment_tier: 'staging' });

    expect((await mint(s, undefined, { project: P, aud: AUD })).status).toBe(401);
    expect((await mint(s, 'not-a-token-at-all', { project: P, aud: AUD })).status).toBe(401);
    expect((await mint(s, 'dave-token-0001', { user: 'alice', project: P, aud: AUD })).status).toBe(403);
    expect((await mint(s, 'dave-token-0001', { project: P, aud: AUD })).status).toBe(400); // main is protected
    expect((await mint(s, 'dave-token-0001', { project: P })).status).toBe(400);
    s.addUser({ username: 'outsider', token: 'outsider-token-1' });
    const hidden = await mint(s, 'outsider-token-1', { project: P, aud: AUD, ref: 'agent-work' });
    expect(hidden.status).toBe(404); // a private project is not confirmed to exist
    expect(await hidden.json()).toEqual({ message: '404 Project Not Found' });
  });

  it('is not part of the GitLab API namespace', async () => {
    const s = await start();
    const res = await fetch(`${s.apiUrl}/sandbox/ci/id_tokens`, { method: 'POST', headers: { 'private-token': 'root-token-0001' } });
    expect(res.status).toBe(404);
  });
});
