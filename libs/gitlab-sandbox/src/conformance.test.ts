// Conformance with GitLab's own response schemas: every REST endpoint the sandbox serves is either
// validated here against the JSON schema GitLab's request specs hold the real API to (vendored in
// fixtures/gitlab-schemas/, sources and commits in its README), or listed with why it is not.
// `$ref`s resolve as GitLab's matcher resolves them: relative to the referring file.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_SEED } from './testing';
import { startSandbox, type Sandbox } from './sandbox';

const SCHEMA_DIR = join(import.meta.dirname, 'fixtures', 'gitlab-schemas');
const BASE = 'https://gitlab.schemas.test/';

/**
 * Type names GitLab's schema files use that are not JSON Schema types (GitLab's matcher never
 * rejects them): read as the string they describe. Listed in fixtures/gitlab-schemas/README.md.
 */
const NONSTANDARD_TYPES: Record<string, string> = { date: 'string', uri: 'string', tring: 'string', 'string ': 'string' };

/**
 * Fields today's GitLab sends that a vendored schema (with additionalProperties: false) predates;
 * each is explained in fixtures/gitlab-schemas/README.md ("Older than today's API").
 */
const NEWER_THAN_SCHEMA: Record<string, string[]> = {
  'public_api/v4/notes.json': ['project_id', 'imported', 'imported_from'],
  'public_api/v4/issue.json': ['locked'],
  'public_api/v4/project_hook.json': ['token_present', 'signing_token_present'],
  'ee/public_api/v4/project_approval_rule.json': ['applies_to_all_protected_branches'],
  'ee/public_api/v4/merge_request_approval_rule.json': ['section'],
};

function normalise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(normalise);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'type' && typeof v === 'string') out[k] = NONSTANDARD_TYPES[v] ?? v;
    else if (k === 'type' && Array.isArray(v)) out[k] = [...new Set(v.map((t) => (typeof t === 'string' ? (NONSTANDARD_TYPES[t] ?? t) : t)))];
    else out[k] = normalise(v);
  }
  return out;
}

function schemaFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return schemaFiles(p);
    return p.endsWith('.json') ? [relative(SCHEMA_DIR, p)] : [];
  });
}

// validateSchema off: GitLab's matcher does not hold its files to the meta-schema (milestone.json lists `state` twice in required)
const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
addFormatsPlugin.default(ajv);
for (const file of schemaFiles(SCHEMA_DIR)) {
  const schema = normalise(JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8'))) as Record<string, unknown>;
  ajv.addSchema({ ...schema, $id: `${BASE}${file}` });
}

const validators = new Map<string, ValidateFunction>();
function validator(file: string): ValidateFunction {
  let v = validators.get(file);
  if (!v) {
    v = ajv.getSchema(`${BASE}${file}`);
    if (!v) throw new Error(`no vendored schema ${file}`);
    validators.set(file, v);
  }
  return v;
}

function at(data: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((d, seg) => (d as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')], data);
}

/**
 * What GitLab's schema says is wrong with one answer (the object, not a list). Tolerated, and only
 * these: a field named in NEWER_THAN_SCHEMA; null where a property `$ref`s a user (GitLab sends
 * null for an unset merged_by / closed_by / assignee, which its schema files describe only set).
 */
function problems(file: string, body: unknown): string[] {
  const v = validator(file);
  if (v(body)) return [];
  const newer = new Set(NEWER_THAN_SCHEMA[file.split('#')[0]!] ?? []);
  return (v.errors ?? [])
    .filter((e: ErrorObject) => !(e.keyword === 'additionalProperties' && newer.has(String(e.params['additionalProperty']))))
    .filter((e: ErrorObject) => !(e.keyword === 'type' && at(body, e.instancePath) === null && /(^|\/)user\/basic\.json(#)?\/type$/.test(e.schemaPath)))
    .filter((e: ErrorObject) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf' && e.keyword !== 'allOf')
    .map((e: ErrorObject) => `${e.instancePath || '/'} ${e.message}${e.keyword === 'additionalProperties' ? ` (${String(e.params['additionalProperty'])})` : ''}`);
}

/** Every route the sandbox registers, read from its route modules: `METHOD /api/v4/...`. */
function servedRoutes(): string[] {
  const dir = join(import.meta.dirname, 'routes');
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/app\.(get|post|put|delete|patch)(?:<[^(]*?>)?\(\s*'([^']+)'/g)) out.push(`${m[1]!.toUpperCase()} ${m[2]}`);
  }
  return out.sort();
}

/** Routes GitLab publishes no schema for among the vendored ones (see the README), and why. */
const NOT_VALIDATED: Record<string, string> = {
  'GET /api/v4/version': 'no schema in spec/fixtures/api/schemas',
  'POST /api/v4/users/:id/personal_access_tokens': 'personal access token schemas are not vendored (admin-only; the token is shown once)',
  'GET /api/v4/groups/:id': 'no group schema under public_api/v4',
  'GET /api/v4/groups/:id/subgroups': 'no group schema under public_api/v4',
  'GET /api/v4/projects': 'GitLab’s projects.json describes the `simple=true` list only (closed to other fields); the full Project entity has no schema',
  'GET /api/v4/projects/:id': 'no schema for the full Project entity (as above)',
  'GET /api/v4/projects/:id/merge_requests/:iid/diffs': 'no schema for MR diffs',
  'GET /api/v4/projects/:id/merge_requests/:iid/changes': 'no schema for MR changes',
  'GET /api/v4/projects/:id/merge_requests/:iid/versions': 'no schema for MR diff versions',
  'GET /api/v4/projects/:id/merge_requests/:iid/approvals': 'no schema for MR approvals in ee/spec/fixtures/api/schemas',
  'POST /api/v4/projects/:id/merge_requests/:iid/approve': 'answers the MR approvals entity (no schema, as above)',
  'POST /api/v4/projects/:id/merge_requests/:iid/unapprove': 'answers the MR approvals entity (no schema, as above)',
  'GET /api/v4/projects/:id/merge_requests/:iid/approval_state': 'no schema for approval_state',
  'DELETE /api/v4/projects/:id/merge_requests/:iid/approval_rules/:ruleId': '204, no body',
  'DELETE /api/v4/projects/:id/merge_requests/:iid/notes/:noteId': '204, no body',
  'GET /api/v4/projects/:id/approvals': 'the project approval settings schema is not vendored',
  'POST /api/v4/projects/:id/approvals': 'the project approval settings schema is not vendored',
  'GET /api/v4/projects/:id/hooks/:hookId/events': 'the delivery log has no schema',
  'GET /api/v4/projects/:id/events': "GitLab's fixtures hold no events schema (its events API specs check fields); API::Entities::Event + PushEventPayload's fields are checked in sandbox.test.ts",
  'POST /api/v4/projects/:id/hooks/:hookId/events/:eventId/resend': 'answers {}',
  'DELETE /api/v4/projects/:id/hooks/:hookId': '204, no body',
  'DELETE /api/v4/projects/:id/repository/branches/:branch': '204, no body',
  'GET /api/v4/projects/:id/protected_branches': 'protected branch schemas are not vendored',
  'GET /api/v4/projects/:id/protected_branches/:name': 'protected branch schemas are not vendored',
  'GET /api/v4/projects/:id/repository/commits/:sha/diff': 'no schema for commit diffs',
  'GET /api/v4/projects/:id/repository/tree': 'no schema for the tree',
  'GET /api/v4/projects/:id/repository/files/*': 'no schema for repository files',
  'POST /api/v4/projects/:id/statuses/:sha': 'commit status schemas are not vendored',
  'GET /api/v4/projects/:id/repository/commits/:sha/statuses': 'commit status schemas are not vendored',
  'GET /.well-known/openid-configuration': "not REST v4: doorkeeper-openid_connect's discovery document, checked key by key in ci-id-token.test.ts",
  'GET /oauth/discovery/keys': "not REST v4: GitLab's JwksController, checked in ci-id-token.test.ts",
  'GET /oauth/authorize': "not REST v4: GitLab's sign-in and authorize pages (HTML), checked in oauth.test.ts",
  'POST /oauth/authorize': "not REST v4: the authorize form's redirect back to the client, checked in oauth.test.ts",
  'POST /oauth/token': "not REST v4: doorkeeper's token answer (RFC 6749 §5.1/5.2), checked field by field in oauth.test.ts",
  'POST /oauth/revoke': 'not REST v4: RFC 7009, answers {}',
  'POST /api/v4/applications': 'the applications schema is not vendored (admin-only; the secret is shown once); fields checked in oauth.test.ts',
};

const P = encodeURIComponent('ops/elevations');
let sandbox: Sandbox;
/** route -> the answers seen for it in this run, with the schema each must match. */
const checks: Array<{ route: string; schema: string; body: unknown }> = [];

async function call(route: string, path: string, schema: string | null, init: { method?: string; token?: string; body?: unknown } = {}): Promise<any> {
  const res = await fetch(`${sandbox.apiUrl}${path}`, {
    method: init.method ?? route.split(' ')[0],
    headers: { 'PRIVATE-TOKEN': init.token ?? 'alice-token-0001', ...(init.body ? { 'content-type': 'application/json' } : {}) },
    body: init.body ? JSON.stringify(init.body) : undefined,
  });
  expect(res.status, `${route} (${path}) answered ${res.status}`).toBeLessThan(300);
  const body = res.status === 204 ? undefined : await res.json();
  if (schema) {
    for (const item of Array.isArray(body) ? body : [body]) checks.push({ route, schema, body: item });
    if (Array.isArray(body)) expect(body.length, `${route} answered an empty list: nothing to check`).toBeGreaterThan(0);
  }
  return body;
}

const USER_PUBLIC = 'public_api/v4/user/public.json';
const USER_BASIC = 'public_api/v4/user/basic.json';
const MEMBER = 'public_api/v4/members.json#/items';
const MR = 'public_api/v4/merge_request.json';
const NOTE = 'public_api/v4/notes.json#/items';
const MR_RULE = 'ee/public_api/v4/merge_request_approval_rule.json';
const PROJECT_RULE = 'ee/public_api/v4/project_approval_rule.json';
const LABEL = 'public_api/v4/labels/project_label.json';
const HOOK = 'public_api/v4/project_hook.json';
const BRANCH = 'public_api/v4/branch.json';
const COMMIT = 'public_api/v4/commit/basic.json';
const COMMIT_DETAIL = 'public_api/v4/commit/detail.json';
const ISSUE = 'public_api/v4/issue.json';

beforeAll(async () => {
  sandbox = await startSandbox({ seed: DEMO_SEED });
  const alice = sandbox.user('alice');
  const bob = sandbox.user('bob');
  const dave = { token: 'dave-token-0001' };

  await call('GET /api/v4/user', '/user', USER_PUBLIC);
  await call('GET /api/v4/users', '/users?username=alice', USER_BASIC);
  await call('GET /api/v4/users/:id', `/users/${alice.id}`, USER_BASIC);
  await call('POST /api/v4/users', '/users', USER_BASIC, { token: 'root-token-0001', body: { username: 'erin', name: 'Erin', email: 'erin@example.test', password: 'x'.repeat(16) } });
  await call('POST /api/v4/groups/:id/members', `/groups/platform/members`, MEMBER, { token: 'root-token-0001', body: { user_id: sandbox.user('erin').id, access_level: 30 } });
  await call('POST /api/v4/projects/:id/members', `/projects/${P}/members`, MEMBER, { token: 'root-token-0001', body: { user_id: sandbox.user('erin').id, access_level: 30 } });
  await call('GET /api/v4/groups/:id/members', '/groups/platform/members', MEMBER);
  await call('GET /api/v4/groups/:id/members/all', '/groups/platform/members/all', MEMBER);
  await call('GET /api/v4/projects/:id/members', `/projects/${P}/members`, MEMBER);
  await call('GET /api/v4/projects/:id/members/all', `/projects/${P}/members/all`, MEMBER);

  // a request as GitLab's specs make one: an MR with an assignee, a reviewer and a label
  await call('POST /api/v4/projects/:id/labels', `/projects/${P}/labels`, LABEL, { body: { name: 'elevation', color: '#ff0000' } });
  await call('GET /api/v4/projects/:id/labels', `/projects/${P}/labels`, LABEL);
  await call('POST /api/v4/projects/:id/repository/branches', `/projects/${P}/repository/branches`, BRANCH, { ...dave, body: { branch: 'req', ref: 'main' } });
  const commit = await call('POST /api/v4/projects/:id/repository/commits', `/projects/${P}/repository/commits`, COMMIT_DETAIL, {
    ...dave,
    body: { branch: 'req', commit_message: 'request', actions: [{ action: 'create', file_path: 'elevations/r.yaml', content: 'a: 1\n' }] },
  });
  await call('GET /api/v4/projects/:id/repository/commits', `/projects/${P}/repository/commits?ref_name=req`, COMMIT);
  await call('GET /api/v4/projects/:id/repository/commits/:sha', `/projects/${P}/repository/commits/${commit.id}`, COMMIT_DETAIL);
  await call('GET /api/v4/projects/:id/repository/branches', `/projects/${P}/repository/branches`, BRANCH);
  await call('GET /api/v4/projects/:id/repository/branches/:branch', `/projects/${P}/repository/branches/req`, BRANCH);
  const mr = await call('POST /api/v4/projects/:id/merge_requests', `/projects/${P}/merge_requests`, MR, {
    ...dave,
    body: { source_branch: 'req', target_branch: 'main', title: 'Elevate', labels: 'elevation', assignee_ids: [alice.id], reviewer_ids: [bob.id] },
  });
  const mrPath = `/projects/${P}/merge_requests/${mr.iid}`;
  await call('GET /api/v4/projects/:id/merge_requests', `/projects/${P}/merge_requests`, MR);
  await call('GET /api/v4/projects/:id/merge_requests/:iid', mrPath, MR);
  await call('PUT /api/v4/projects/:id/merge_requests/:iid', mrPath, MR, { ...dave, body: { description: 'why: INC-4411' } });
  await call('GET /api/v4/projects/:id/merge_requests/:iid/commits', `${mrPath}/commits`, COMMIT);
  const note = await call('POST /api/v4/projects/:id/merge_requests/:iid/notes', `${mrPath}/notes`, NOTE, { body: { body: 'looks fine' } });
  await call('PUT /api/v4/projects/:id/merge_requests/:iid/notes/:noteId', `${mrPath}/notes/${note.id}`, NOTE, { body: { body: 'looks fine (R-17)' } });
  await call('GET /api/v4/projects/:id/merge_requests/:iid/notes/:noteId', `${mrPath}/notes/${note.id}`, NOTE);
  await call('GET /api/v4/projects/:id/merge_requests/:iid/notes', `${mrPath}/notes`, NOTE);
  const rule = await call('POST /api/v4/projects/:id/merge_requests/:iid/approval_rules', `${mrPath}/approval_rules`, MR_RULE, {
    body: { name: 'jit:reversible-write', approvals_required: 1, usernames: ['alice'] },
  });
  await call('PUT /api/v4/projects/:id/merge_requests/:iid/approval_rules/:ruleId', `${mrPath}/approval_rules/${rule.id}`, MR_RULE, { body: { approvals_required: 1, user_ids: [alice.id, bob.id] } });
  await call('GET /api/v4/projects/:id/merge_requests/:iid/approval_rules', `${mrPath}/approval_rules`, MR_RULE);
  await call('POST /api/v4/projects/:id/approval_rules', `/projects/${P}/approval_rules`, PROJECT_RULE, { body: { name: 'security', approvals_required: 1, user_ids: [alice.id] } });
  await call('GET /api/v4/projects/:id/approval_rules', `/projects/${P}/approval_rules`, PROJECT_RULE);
  const hook = await call('POST /api/v4/projects/:id/hooks', `/projects/${P}/hooks`, HOOK, { body: { url: 'http://127.0.0.1:9/hook', merge_requests_events: true, token: 'hook-secret-0001' } });
  await call('PUT /api/v4/projects/:id/hooks/:hookId', `/projects/${P}/hooks/${hook.id}`, HOOK, { body: { url: 'http://127.0.0.1:9/hook2', note_events: true } });
  await call('GET /api/v4/projects/:id/hooks/:hookId', `/projects/${P}/hooks/${hook.id}`, HOOK);
  await call('GET /api/v4/projects/:id/hooks', `/projects/${P}/hooks`, HOOK);
  await call('POST /api/v4/projects/:id/merge_requests/:iid/approve', `${mrPath}/approve`, null, { token: 'bob-token-00001' });
  await call('PUT /api/v4/projects/:id/merge_requests/:iid/merge', `${mrPath}/merge`, MR);
  await call('GET /api/v4/projects/:id/merge_requests/:iid', mrPath, MR); // merged: merged_by, merge_user set
  const issue = await call('POST /api/v4/projects/:id/issues', `/projects/${P}/issues`, ISSUE, { body: { title: 'Review break-glass', labels: 'elevation', assignee_ids: [alice.id] } });
  await call('PUT /api/v4/projects/:id/issues/:iid', `/projects/${P}/issues/${issue.iid}`, ISSUE, { body: { description: 'merged with approvals: 0' } });
  await call('GET /api/v4/projects/:id/issues/:iid', `/projects/${P}/issues/${issue.iid}`, ISSUE);
  await call('GET /api/v4/projects/:id/issues', `/projects/${P}/issues`, ISSUE);
  await call('POST /api/v4/projects/:id/issues/:iid/notes', `/projects/${P}/issues/${issue.iid}/notes`, NOTE, { body: { body: 'reviewed' } });
  await call('GET /api/v4/projects/:id/issues/:iid/notes', `/projects/${P}/issues/${issue.iid}/notes`, NOTE);
});

afterAll(() => sandbox?.close());

describe('the sandbox against GitLab’s response schemas', () => {
  it('lists every route it serves: validated below, or named with why not', () => {
    const validated = new Set(checks.map((c) => c.route));
    const unaccounted = servedRoutes().filter((r) => !validated.has(r) && !(r in NOT_VALIDATED));
    expect(unaccounted).toEqual([]);
    const stale = Object.keys(NOT_VALIDATED).filter((r) => !servedRoutes().includes(r));
    expect(stale).toEqual([]);
  });

  it('every answer matches GitLab’s schema for it', () => {
    expect(checks.length).toBeGreaterThan(40);
    const failures = checks.map((c) => ({ route: c.route, schema: c.schema, problems: problems(c.schema, c.body) })).filter((f) => f.problems.length > 0);
    expect(failures).toEqual([]);
  });

  it('leaves out what GitLab sends only in other cases: fork fields on MRs not from a fork, MR-rule fields on project rules', () => {
    for (const c of checks.filter((x) => x.schema === MR)) {
      expect(c.body, c.route).not.toHaveProperty('allow_collaboration');
      expect(c.body, c.route).not.toHaveProperty('allow_maintainer_to_push');
    }
    for (const c of checks.filter((x) => x.schema === PROJECT_RULE)) {
      expect(c.body).toMatchObject({ protected_branches: [], applies_to_all_protected_branches: false });
      for (const k of ['section', 'source_rule', 'overridden']) expect(c.body, `${c.route} ${k}`).not.toHaveProperty(k);
    }
    for (const c of checks.filter((x) => x.schema === MR_RULE)) expect(c.body).toHaveProperty('source_rule');
  });

  it('the schemas have teeth: a renamed, a missing and an extra field each fail', () => {
    const mr = checks.find((c) => c.schema === MR)!.body as Record<string, unknown>;
    const { iid, ...noIid } = mr;
    expect(problems(MR, { ...noIid, internal_id: iid })).toEqual(expect.arrayContaining([expect.stringMatching(/must have required property 'iid'/)]));
    const hook = checks.find((c) => c.schema === HOOK)!.body as Record<string, unknown>;
    expect(problems(HOOK, { ...hook, section: null })).toEqual([expect.stringMatching(/must NOT have additional properties \(section\)/)]);
    const user = checks.find((c) => c.schema === USER_PUBLIC)!.body as Record<string, unknown>;
    const { projects_limit: _omit, ...noLimit } = user;
    expect(problems(USER_PUBLIC, noLimit)).toEqual([expect.stringMatching(/projects_limit/)]);
  });
});
