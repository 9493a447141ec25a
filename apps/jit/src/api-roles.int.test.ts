// Issue 12 "Done when": every route jit serves on its public port, against the role table, in the
// all-in-one (sandbox mode) with real GitLab tokens of the sandbox and real CI ID tokens it mints.
// One elevation (deploy-agent, reversible-write: platform approves) is granted; the policy gains
// `auditors: { groups: [security] }` the normal way (a policy MR approved by its policyApprovers).
// Roles: requester deploy-agent, eligible approver carol (platform), ineligible dave, auditor bob.
// A CI ID token is its user's own view only, the auditor's too. Nothing the run prints holds a token.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_ROUTES } from '@jit/dashboard';
import { createGitlabClient } from '@jit/gitlab';
import { issueCiIdToken } from '@jit/gitlab-sandbox';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { freePort, waitFor } from '@jit/testing';
import { runCli } from './cli/program';
import { parseConfig } from './config';
import { buildJit, type JitProcess } from './server';

const PAT = { alice: 'alice-token-0001', bob: 'bob-token-00001', carol: 'carol-token-0001', dave: 'dave-token-00001', agent: 'deploy-agent-token', reviewBot: 'review-bot-token' };

type Caller =
  | 'no token'
  | 'malformed header'
  | 'malformed JWT'
  | 'unknown GitLab token'
  | 'requester (GitLab token)'
  | 'eligible approver'
  | 'ineligible user'
  | 'auditor'
  | 'auditor (CI ID token)'
  | 'requester (CI ID token)'
  | 'expired ID token'
  | 'ID token, other audience';
const CALLERS: Caller[] = [
  'no token',
  'malformed header',
  'malformed JWT',
  'unknown GitLab token',
  'requester (GitLab token)',
  'eligible approver',
  'ineligible user',
  'auditor',
  'auditor (CI ID token)',
  'requester (CI ID token)',
  'expired ID token',
  'ID token, other audience',
];
const REFUSED: Caller[] = ['no token', 'malformed header', 'malformed JWT', 'unknown GitLab token', 'expired ID token', 'ID token, other audience'];
const AUTHENTICATED = CALLERS.filter((c) => !REFUSED.includes(c));
/** Who sees the elevation: its requester (either token), an eligible approver, an auditor by GitLab token. */
const SEES = new Set<Caller>(['requester (GitLab token)', 'requester (CI ID token)', 'eligible approver', 'auditor']);
const REQUESTER = new Set<Caller>(['requester (GitLab token)', 'requester (CI ID token)']);

interface Answer {
  status: number;
  text: string;
  json: unknown;
  wwwAuthenticate: string | null;
}

const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch(() => undefined);
});

describe('API role table (all-in-one, sandbox mode, real GitLab and CI ID tokens)', () => {
  let jit: JitProcess;
  let url: string;
  let id: string;
  let unknownId: string;
  const auth = {} as Record<Caller, string | undefined>;
  const output: string[] = [];
  const idTokens: string[] = [];

  const call = async (method: string, path: string, caller: Caller, init: { body?: string; headers?: Record<string, string> } = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...init.headers };
    if (auth[caller] !== undefined) headers['authorization'] = auth[caller]!;
    const res = await fetch(`${url}${path}`, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json, wwwAuthenticate: res.headers.get('www-authenticate') };
  };
  const elevationIds = (a: Answer) => ((a.json as { elevations?: Array<{ id: string }> }).elevations ?? []).map((e) => e.id);

  beforeAll(async () => {
    // the whole run's output: jit's log (debug, the most it says) and anything written to stdout/stderr
    const original = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
    const tee = (write: typeof original.out) =>
      ((chunk: string | Uint8Array, ...rest: never[]) => {
        output.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
        return write(chunk, ...rest);
      }) as typeof process.stdout.write;
    process.stdout.write = tee(original.out);
    process.stderr.write = tee(original.err);
    cleanup.push(async () => {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    });

    const dir = await mkdtemp(join(tmpdir(), 'jit-api-roles-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const config = parseConfig({ JIT_DATA_DIR: dir, JIT_PORT: String(port), JIT_OPS_PORT: '0', JIT_SANDBOX_PORT: String(await freePort()), JIT_SWEEP_INTERVAL_MS: '0', JIT_AUTH_CACHE_TTL_MS: '1000' });
    jit = await buildJit(config, { env: {}, logger: createLogger({ name: 'jit', level: 'debug', destination: { write: (s: string) => void output.push(s) } }) });
    cleanup.push(() => jit.close());
    url = await jit.listen();
    const sandbox = jit.sandbox!;
    const projectId = jit.gitlab.projectId;
    const as = (token: string) => createGitlabClient({ url: sandbox.url, token });
    const catalogVersion = async () => ((await call('GET', '/v1/catalog', 'eligible approver')).json as { version?: string }).version;
    const gateSaid = async (iid: number, text: string) => (await as(PAT.alice).notes.all(projectId, iid)).some((n) => n.body.includes(text));
    auth['eligible approver'] = `Bearer ${PAT.carol}`;

    // 1. The seed policy names no auditors: carol proposes `auditors: { groups: [security] }`, both
    // policyApprovers (security: alice, bob) approve, alice merges; jit ratifies it.
    const seeded = new TextDecoder().decode((await as(PAT.carol).files.show(projectId, 'policy.yaml', 'main')).content);
    expect(seeded).not.toMatch(/^auditors:/m);
    const withAuditors = `${seeded.trimEnd()}\nauditors: { groups: [security] }\n`;
    await as(PAT.carol).branches.create(projectId, 'name-auditors', 'main');
    await as(PAT.carol).commits.create(projectId, 'name-auditors', 'name the security group as auditors', [{ action: 'update', filePath: 'policy.yaml', content: withAuditors }]);
    const policyMr = (await as(PAT.carol).mergeRequests.create(projectId, { sourceBranch: 'name-auditors', targetBranch: 'main', title: 'policy: auditors' })).iid;
    await waitFor(() => gateSaid(policyMr, 'policy change'), { timeoutMs: 90_000, what: "the gate's policy-change comment" });
    for (const t of [PAT.alice, PAT.bob]) await as(t).mergeRequests.approve(projectId, policyMr);
    await as(PAT.alice).mergeRequests.merge(projectId, policyMr);
    await waitFor(async () => (await catalogVersion()) === policyBlobSha(withAuditors), { timeoutMs: 90_000, what: 'the policy with auditors to be in force' });

    // 2. deploy-agent requests write on the demo database (reversible-write: two of platform), as `jit request` does
    const lines: string[] = [];
    const code = await runCli(
      [
        '--json',
        '--url',
        url,
        'request',
        '--target',
        'demo-db',
        '--scope',
        'write',
        '--ttl',
        '30m',
        '--tier',
        'reversible-write',
        '--identity',
        jit.sandboxIdentities['deploy-agent']!,
        '--justification',
        'backfill order totals after INC-4411 (role table)',
      ],
      { out: (l) => lines.push(l), err: (l) => lines.push(l), env: { HOME: dir, GITLAB_URL: sandbox.url, GITLAB_TOKEN: PAT.agent, JIT_ELEVATIONS_PROJECT: jit.gitlab.project } },
    );
    expect(code, lines.join('\n')).toBe(0);
    const requested = JSON.parse(lines.join('\n')) as { elevationId: string; mrIid: number };
    id = requested.elevationId;
    unknownId = `gl-${projectId}-${requested.mrIid + 1000}`;
    const state = async () => ((await call('GET', `/v1/elevations/${id}`, 'eligible approver')).json as { state?: string }).state;
    await waitFor(async () => (await state()) === 'pending', { timeoutMs: 90_000, what: 'the elevation to be pending' });
    for (const t of [PAT.alice, PAT.bob]) await as(t).mergeRequests.approve(projectId, requested.mrIid);
    await as(PAT.alice).mergeRequests.merge(projectId, requested.mrIid);
    await waitFor(async () => (await state()) === 'granted', { timeoutMs: 60_000, what: 'the elevation to be granted' });

    // 3. the callers
    const branch = (await as(PAT.agent).mergeRequests.show(projectId, requested.mrIid)).sourceBranch;
    const agentIdToken = await issueCiIdToken(sandbox, { user: 'deploy-agent', project: jit.gitlab.project, ref: branch, aud: config.publicUrl, ttlSeconds: 600 });
    const bobIdToken = await issueCiIdToken(sandbox, { user: 'bob', project: jit.gitlab.project, aud: config.publicUrl, ttlSeconds: 600 });
    const otherAud = await issueCiIdToken(sandbox, { user: 'deploy-agent', project: jit.gitlab.project, ref: branch, aud: 'https://jit.elsewhere.example', ttlSeconds: 600 });
    // GitLab's shortest job timeout; past it and jit's 5 s clock tolerance, the token is expired
    const expired = await issueCiIdToken(sandbox, { user: 'deploy-agent', project: jit.gitlab.project, ref: branch, aud: config.publicUrl, ttlSeconds: 1 });
    const expiredAt = (JSON.parse(Buffer.from(expired.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp;
    idTokens.push(agentIdToken, bobIdToken, otherAud, expired);
    Object.assign(auth, {
      'no token': undefined,
      'malformed header': `Basic ${Buffer.from(`deploy-agent:${PAT.agent}`).toString('base64')}`,
      'malformed JWT': `Bearer ${agentIdToken.split('.').slice(0, 2).join('.')}.not-a-signature`,
      'unknown GitLab token': 'Bearer glpat-this-token-gitlab-never-issued',
      'requester (GitLab token)': `Bearer ${PAT.agent}`,
      'ineligible user': `Bearer ${PAT.dave}`,
      auditor: `Bearer ${PAT.bob}`,
      'auditor (CI ID token)': `Bearer ${bobIdToken}`,
      'requester (CI ID token)': `Bearer ${agentIdToken}`,
      'expired ID token': `Bearer ${expired}`,
      'ID token, other audience': `Bearer ${otherAud}`,
    } satisfies Partial<Record<Caller, string | undefined>>);
    await waitFor(() => Date.now() / 1000 > expiredAt + 6, { timeoutMs: 20_000, what: 'the short-lived ID token to expire' });
  }, 420_000);

  it('the table covers every route the public port serves', () => {
    // printRoutes draws a tree (4 columns a level): each line is a path segment under the one above
    const stack: string[] = [];
    const routes: string[] = [];
    for (const line of jit.app.printRoutes({ commonPrefix: false }).split('\n')) {
      // a segment need not start with a slash (`/ui` › `/` › `auth/login`)
      const m = /^([│├└─ ]*)(\S+)(?: \(([^)]+)\))?$/.exec(line);
      if (!m) continue;
      const depth = Math.floor(m[1]!.length / 4);
      stack.length = depth;
      stack[depth] = m[2]!;
      for (const method of (m[3] ?? '').split(', ').filter((v) => v && v !== 'HEAD')) routes.push(`${method} ${stack.join('')}`);
    }
    // the dashboard's pages (/ui) authenticate by their session cookie and read through these same
    // routes with the user's token: dashboard.int.test.ts covers them. Outside /ui only the favicon,
    // which browsers fetch without credentials and which answers 204 with no body (dashboard tests).
    expect(DASHBOARD_ROUTES.filter((r) => !(r.url === '/ui' || r.url.startsWith('/ui/')))).toEqual([{ method: 'GET', url: '/favicon.ico' }]);
    expect(routes.sort()).toEqual(
      [
        'GET /docs/openapi.json',
        'GET /v1/catalog',
        'GET /v1/elevations',
        'GET /v1/elevations/:id',
        'GET /v1/elevations/:id/credential',
        'GET /v1/events',
        'GET /v1/keys',
        'POST /webhooks/gitlab',
        ...DASHBOARD_ROUTES.map((r) => `${r.method} ${r.url}`),
      ].sort(),
    );
  });

  const API_ROUTES = ['/v1/elevations', '/v1/elevations/:id', '/v1/elevations/:id/credential', '/v1/catalog', '/v1/events', '/v1/keys', '/docs/openapi.json', '/metrics', '/healthz', '/readyz'];
  const path = (route: string) => route.replace(':id', id);

  describe.each(REFUSED)('%s', (caller) => {
    it.each(API_ROUTES)(`GET %s → 401 with WWW-Authenticate, and no body beyond the error`, async (route) => {
      const a = await call('GET', path(route), caller);
      expect(a.status).toBe(401);
      expect(a.wwwAuthenticate).toMatch(/^Bearer realm="jit"/);
      expect(Object.keys(a.json as object).sort()).toEqual(['code', 'message']);
      expect(a.text).not.toContain(id);
    });
  });

  describe.each(AUTHENTICATED)('%s', (caller) => {
    it('GET /v1/elevations → 200, only what the caller may see', async () => {
      const a = await call('GET', '/v1/elevations', caller);
      expect(a.status).toBe(200);
      expect(elevationIds(a)).toEqual(SEES.has(caller) ? [id] : []);
    });

    it('GET /v1/elevations/:id → 200 to who may see it; otherwise 404, the same answer as an unknown id', async () => {
      const a = await call('GET', `/v1/elevations/${id}`, caller);
      const unknown = await call('GET', `/v1/elevations/${unknownId}`, caller);
      expect(unknown.status).toBe(404);
      if (SEES.has(caller)) {
        expect(a.status).toBe(200);
        expect(a.json).toMatchObject({ id, requester: 'deploy-agent', state: 'granted', tier: 'reversible-write' });
        expect(a.text).not.toMatch(/sealedCredential/);
      } else {
        expect(a.status).toBe(404);
        expect(a.text.replaceAll(id, '<id>')).toBe(unknown.text.replaceAll(unknownId, '<id>'));
      }
    });

    it('GET /v1/elevations/:id/credential → 200 with the sealed credential to the requester only; 404 as for an unknown id to anyone else', async () => {
      const a = await call('GET', `/v1/elevations/${id}/credential`, caller);
      const unknown = await call('GET', `/v1/elevations/${unknownId}/credential`, caller);
      expect(unknown.status).toBe(404);
      if (REQUESTER.has(caller)) {
        expect(a.status).toBe(200);
        expect(a.json).toMatchObject({ elevationId: id, substrate: 'postgres', sealedCredential: expect.stringMatching(/^-----BEGIN AGE ENCRYPTED FILE-----/) });
      } else {
        expect(a.status).toBe(404);
        expect(a.text.replaceAll(id, '<id>')).toBe(unknown.text.replaceAll(unknownId, '<id>'));
      }
    });

    it('GET /v1/catalog → 200; approver identities only for the auditor by GitLab token', async () => {
      const a = await call('GET', '/v1/catalog', caller);
      expect(a.status).toBe(200);
      const c = a.json as {
        entries: Array<{ approvers: { groups: string[]; users: string[] }; eligibleApprovers?: unknown }>;
        ratified?: { by: string[]; mergedBy?: string };
        recipientUsers: string[];
      };
      const write = c.entries.find((e) => e.approvers.groups.includes('platform'));
      expect(write).toBeDefined();
      if (caller === 'auditor') {
        expect(c.ratified).toMatchObject({ by: expect.arrayContaining(['alice', 'bob']), mergedBy: 'alice' });
        expect(JSON.stringify(write!.eligibleApprovers)).toMatch(/carol/);
      } else {
        expect(c.ratified?.by).toEqual([]);
        expect(c.ratified?.mergedBy).toBeUndefined();
        expect(c.entries.every((e) => e.eligibleApprovers === undefined && e.approvers.users.length === 0)).toBe(true);
        // of who holds a registered key, at most the caller; no approver named anywhere else
        expect(c.recipientUsers.length).toBeLessThanOrEqual(1);
        const rest = JSON.stringify({ ...c, recipientUsers: undefined });
        for (const who of ['alice', 'bob', 'carol']) expect(rest).not.toContain(`"${who}"`);
      }
    });

    it('GET /v1/events → the whole log to the auditor by GitLab token; 403 to anyone else', async () => {
      const a = await call('GET', '/v1/events', caller);
      if (caller === 'auditor') {
        expect(a.status).toBe(200);
        const events = a.text
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { type: string; subject?: string });
        expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['dev.jit.elevation.requested.v1', 'dev.jit.elevation.granted.v1']));
        expect(a.text).toContain(id);
      } else {
        expect(a.status).toBe(403);
        expect(a.json).toMatchObject({ code: 'JIT_ERR_AUDIT_NOT_AUDITOR' });
        expect(a.text).not.toContain(id);
      }
    });

    it('GET /v1/keys → 200, the public signing keys', async () => {
      const a = await call('GET', '/v1/keys', caller);
      expect(a.status).toBe(200);
      expect((a.json as { keys: Array<{ roles?: string[] }> }).keys.some((k) => k.roles?.includes('issuer'))).toBe(true);
    });

    it('GET /docs/openapi.json → 200', async () => {
      const a = await call('GET', '/docs/openapi.json', caller);
      expect(a.status).toBe(200);
      expect((a.json as { openapi?: string }).openapi).toMatch(/^3\./);
    });

    it.each(['/metrics', '/healthz', '/readyz'])('GET %s on the public port → 404 (ops listener only)', async (route) => {
      expect((await call('GET', route, caller)).status).toBe(404);
    });
  });

  it.each(CALLERS)('POST /webhooks/gitlab with %s and no webhook token → 401 (the webhook takes no API token)', async (caller) => {
    const a = await call('POST', '/webhooks/gitlab', caller, { body: '{"object_kind":"merge_request"}', headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Merge Request Hook' } });
    expect(a.status).toBe(401);
  });

  it('the ops listener serves /metrics without a token, on loopback', async () => {
    expect(jit.opsUrl).toMatch(/^http:\/\/127\.0\.0\.1:/);
    const res = await fetch(`${jit.opsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/jit_api_auth_total\{outcome="refused",via="none"\}/);
  });

  it('every credential fetch is on the log, with the token kind', async () => {
    const a = await call('GET', `/v1/events?elevation=${id}`, 'auditor');
    const fetched = a.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; data: Record<string, unknown> })
      .filter((e) => e.type === 'dev.jit.elevation.credential.fetched.v1');
    expect(fetched.length).toBeGreaterThanOrEqual(2);
    expect(JSON.stringify(fetched)).toMatch(/ci-id-token/);
    expect(JSON.stringify(fetched)).toMatch(/gitlab-token/);
  });

  it('a member removed from the auditors group loses the auditor view within JIT_AUTH_CACHE_TTL_MS (1 s here), not a fixed minute', async () => {
    expect((await call('GET', '/v1/events', 'auditor')).status).toBe(200);
    jit.sandbox!.removeGroupMember('security', 'bob');
    await waitFor(async () => (await call('GET', '/v1/events', 'auditor')).status === 403, { timeoutMs: 15_000, what: "bob's auditor view to end" });
  });

  it('a CI ID token of a user blocked in GitLab meanwhile is refused within JIT_AUTH_CACHE_TTL_MS, though it has not expired', async () => {
    expect((await call('GET', '/v1/elevations', 'requester (CI ID token)')).status).toBe(200);
    jit.sandbox!.user('deploy-agent').state = 'blocked';
    await waitFor(async () => (await call('GET', '/v1/elevations', 'requester (CI ID token)')).status === 401, { timeoutMs: 15_000, what: "the blocked user's ID token to be refused" });
    const a = await call('GET', `/v1/elevations/${id}/credential`, 'requester (CI ID token)');
    expect([a.status, (a.json as { code?: string }).code]).toEqual([401, 'JIT_ERR_AUTH_ID_TOKEN_INVALID']);
    expect((a.json as { message: string }).message).toMatch(/its user is blocked/);
  });

  it('no token of any kind appears in the run’s output', async () => {
    const everything = output.join('');
    // the log was captured while the table ran: the refusals are in it (by code, never by token)
    expect(everything).toMatch(/api caller refused/);
    const secrets = [
      ...Object.values(PAT),
      'glpat-this-token-gitlab-never-issued',
      ...[...jit.sandbox!.state.userByUsername('jit-bot')!.tokens],
      ...idTokens,
      ...idTokens.map((t) => t.split('.')[2]!),
    ];
    for (const s of secrets) expect(everything.includes(s), `a token (${s.slice(0, 6)}…) in the output`).toBe(false);
    expect(everything).not.toMatch(/Bearer (?!realm=)\S/);
    expect(everything).not.toMatch(/authorization/i);
  });
});
