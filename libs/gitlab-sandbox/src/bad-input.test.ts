// Malformed, oversized, hostile and out-of-order requests end in GitLab-shaped errors and
// change nothing.
import { Gitlab } from '@gitbeaker/rest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SEED } from './testing';
import { startSandbox, type Sandbox } from './sandbox';

const P = 'ops/elevations';
const EP = encodeURIComponent(P);
let sandbox: Sandbox;

const api = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(`${sandbox.apiUrl}${path}`, {
    ...init,
    headers: { 'PRIVATE-TOKEN': init.token ?? 'alice-token-0001', ...(init.body ? { 'Content-Type': 'application/json' } : {}), ...(init.headers ?? {}) },
  });

/** What a client could observe: branch heads, MRs with their approvals and notes. */
function snapshot(): string {
  const p = sandbox.project(P);
  return JSON.stringify({
    branches: [...p.branches],
    mrs: p.mergeRequests.map((m) => [m.iid, m.state, m.headSha, m.approvals.length, m.notes.length, m.title, m.rules.length]),
    hooks: p.hooks.length,
    labels: p.labels.length,
  });
}

beforeEach(async () => {
  sandbox = await startSandbox({ seed: DEMO_SEED });
  const dave = new Gitlab({ host: sandbox.url, token: 'dave-token-0001' });
  await dave.Branches.create(P, 'req', 'main');
  await dave.Commits.create(P, 'req', 'r', [{ action: 'create', filePath: 'elevations/r.yaml', content: 'a: 1\n' }]);
  await dave.MergeRequests.create(P, 'req', 'main', 'Elevate');
});

afterEach(async () => {
  await sandbox.close();
});

/** A response's JSON body, for assertions. */
const body = async (res: Response): Promise<any> => res.json();

describe('malformed and oversized requests', () => {
  it('answers malformed JSON with 400 {error} and unknown routes with 404 {error}', async () => {
    const before = snapshot();
    const res = await api(`/projects/${EP}/merge_requests/1/notes`, { method: 'POST', body: '{"body": "unterminated' });
    expect(res.status).toBe(400);
    expect(Object.keys(await body(res))).toEqual(['error']);
    const missing = await api('/no/such/route');
    expect(missing.status).toBe(404);
    expect(await body(missing)).toEqual({ error: '404 Not Found' });
    expect(snapshot()).toBe(before);
  });

  it('refuses bodies over the limit with 413 and unknown content types with 415', async () => {
    const before = snapshot();
    const huge = JSON.stringify({ body: 'x'.repeat(17 * 1024 * 1024) });
    const res = await api(`/projects/${EP}/merge_requests/1/notes`, { method: 'POST', body: huge });
    expect(res.status).toBe(413);
    expect(await body(res)).toEqual({ message: '413 Request Entity Too Large' });
    const xml = await api(`/projects/${EP}/merge_requests/1/notes`, { method: 'POST', body: '<note/>', headers: { 'Content-Type': 'application/xml' } });
    expect(xml.status).toBe(415);
    expect(snapshot()).toBe(before);
  });

  it('accepts form-encoded bodies as GitLab does', async () => {
    const res = await api(`/projects/${EP}/merge_requests/1/notes`, {
      method: 'POST',
      body: 'body=from+a+form',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(201);
    expect((await body(res)).body).toBe('from a form');
  });

  it('takes an empty JSON body as no parameters, as GitLab does (a bare curl -X POST …/approve, PUT …/merge)', async () => {
    const json = { 'Content-Type': 'application/json' };
    const approve = await api(`/projects/${EP}/merge_requests/1/approve`, { method: 'POST', headers: json, token: 'alice-token-0001' });
    expect(approve.status).toBe(201);
    expect(sandbox.project(P).mergeRequests[0]!.approvals.length).toBe(1);
    const merge = await api(`/projects/${EP}/merge_requests/1/merge`, { method: 'PUT', headers: { ...json, 'Content-Length': '0' }, token: 'bob-token-00001' });
    expect(merge.status).toBe(200);
    expect((await body(merge)).state).toBe('merged');
    // an empty body where the endpoint needs parameters is Grape's "missing", not a JSON error
    const note = await api(`/projects/${EP}/merge_requests/1/notes`, { method: 'POST', headers: json, body: ' ' });
    expect({ status: note.status, body: await body(note) }).toEqual({ status: 400, body: { error: 'body is missing' } });
  });

  it('validates parameters like Grape: missing, wrong type, bad enum, bad pagination', async () => {
    const before = snapshot();
    const cases: [string, RequestInit, number, Record<string, string>][] = [
      [`/projects/${EP}/merge_requests`, { method: 'POST', body: JSON.stringify({ source_branch: 'req' }) }, 400, { error: 'target_branch is missing' }],
      [`/projects/${EP}/merge_requests/1/approval_rules`, { method: 'POST', body: JSON.stringify({ name: 'r', approvals_required: 'many' }) }, 400, { error: 'approvals_required is invalid' }],
      [`/projects/${EP}/merge_requests/1`, { method: 'PUT', body: JSON.stringify({ state_event: 'explode' }) }, 400, { error: 'state_event does not have a valid value' }],
      [`/projects/${EP}/merge_requests?page=abc`, {}, 400, { error: 'page is invalid' }],
      [`/projects/${EP}/repository/commits`, { method: 'POST', body: JSON.stringify({ branch: 'req', commit_message: 'x', actions: 'rm -rf' }) }, 400, { error: 'actions is invalid' }],
      [`/projects/${EP}/repository/files/README.md`, {}, 400, { error: 'ref is missing' }],
    ];
    for (const [path, init, status, expected] of cases) {
      const res = await api(path, init);
      expect({ path, status: res.status, body: await body(res) }).toEqual({ path, status, body: expected });
    }
    expect(snapshot()).toBe(before);
  });

  it('caps per_page at 100', async () => {
    const res = await api(`/projects/${EP}/repository/branches?per_page=100000`);
    expect(res.headers.get('x-per-page')).toBe('100');
  });
});

describe('hostile requests', () => {
  it('does not let paths escape the repository or reach other projects', async () => {
    const before = snapshot();
    for (const path of ['..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'a%2F..%2F..%2Fb']) {
      const res = await api(`/projects/${EP}/repository/files/${path}?ref=main`);
      expect([400, 404]).toContain(res.status);
    }
    const traversal = await api(`/projects/${EP}/repository/commits`, {
      method: 'POST',
      body: JSON.stringify({ branch: 'req', commit_message: 'x', actions: [{ action: 'create', file_path: 'a/../../b', content: 'x' }] }),
    });
    expect(traversal.status).toBe(400);
    expect((await api('/projects/..%2F..%2Fops%2Felevations')).status).toBe(404);
    expect((await api(`/projects/${EP}%00/merge_requests`)).status).toBe(404);
    expect(snapshot()).toBe(before);
  });

  it('rejects invalid, blocked and wrong tokens with 401 and lets non-members see nothing', async () => {
    const before = snapshot();
    expect((await api(`/projects/${EP}`, { token: 'alice-token-0001x' })).status).toBe(401);
    expect((await api(`/projects/${EP}`, { headers: { Authorization: 'Bearer nope-nope-nope' }, token: '' })).status).toBe(401);
    sandbox.addUser({ username: 'outsider', token: 'outsider-token-1' });
    for (const [method, path] of [
      ['GET', `/projects/${EP}/merge_requests/1`],
      ['POST', `/projects/${EP}/merge_requests/1/approve`],
      ['PUT', `/projects/${EP}/merge_requests/1/merge`],
      ['POST', `/projects/${EP}/merge_requests/1/notes`],
    ] as const) {
      const res = await api(path, { method, token: 'outsider-token-1', body: method === 'GET' ? undefined : JSON.stringify({ body: 'x' }) });
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
    }
    expect(snapshot()).toBe(before);
  });

  it('refuses prototype-pollution bodies and huge tokens without side effects', async () => {
    const before = snapshot();
    const polluted = await api(`/projects/${EP}/merge_requests/1/notes`, { method: 'POST', body: '{"body": "x", "__proto__": {"admin": true}}' });
    expect(polluted.status).toBe(400);
    const ctor = await api(`/projects/${EP}/merge_requests/1/notes`, { method: 'POST', body: '{"body": "x", "constructor": {"prototype": {"admin": true}}}' });
    expect(ctor.status).toBe(400);
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
    expect((await api('/user', { token: 'x'.repeat(8000) })).status).toBe(401);
    expect(snapshot()).toBe(before);
  });

  it('stores binary content and reports it as binary in diffs', async () => {
    const res = await api(`/projects/${EP}/repository/commits`, {
      method: 'POST',
      body: JSON.stringify({
        branch: 'req',
        commit_message: 'bin',
        actions: [{ action: 'create', file_path: 'blob.bin', content: Buffer.from([0, 1, 2, 255]).toString('base64'), encoding: 'base64' }],
      }),
    });
    expect(res.status).toBe(201);
    const raw = await api(`/projects/${EP}/repository/files/blob.bin?ref=req`);
    expect(Buffer.from((await body(raw)).content, 'base64')).toEqual(Buffer.from([0, 1, 2, 255]));
    const diffs = await body(await api(`/projects/${EP}/merge_requests/1/diffs`));
    expect(diffs.find((d: { new_path: string }) => d.new_path === 'blob.bin').diff).toBe('Binary files /dev/null and b/blob.bin differ\n');
  });
});

describe('out-of-order requests', () => {
  it('refuses actions that make no sense in the MR state, losing nothing', async () => {
    const alice = new Gitlab({ host: sandbox.url, token: 'alice-token-0001' });
    await alice.MergeRequestApprovals.approve(P, 1);
    await alice.MergeRequests.merge(P, 1);
    const before = snapshot();
    expect((await api(`/projects/${EP}/merge_requests/1/merge`, { method: 'PUT' })).status).toBe(405);
    expect((await api(`/projects/${EP}/merge_requests/1/approve`, { method: 'POST', token: 'bob-token-00001' })).status).toBe(401);
    expect((await api(`/projects/${EP}/merge_requests/1/unapprove`, { method: 'POST' })).status).toBe(404);
    const reopen = await api(`/projects/${EP}/merge_requests/1`, { method: 'PUT', body: JSON.stringify({ state_event: 'reopen' }) });
    expect((await body(reopen)).state).toBe('merged');
    expect((await api(`/projects/${EP}/merge_requests/1/approval_rules`, { method: 'POST', body: JSON.stringify({ name: 'late', approvals_required: 1 }) })).status).toBe(403);
    expect((await api(`/projects/${EP}/merge_requests/abc`)).status).toBe(404);
    expect((await api(`/projects/${EP}/merge_requests/99/notes`, { method: 'POST', body: JSON.stringify({ body: 'x' }) })).status).toBe(404);
    expect(snapshot()).toBe(before);
  });

  it('closed MRs cannot merge; an approval with a stale sha is refused with the current head', async () => {
    const alice = new Gitlab({ host: sandbox.url, token: 'alice-token-0001' });
    const head = (await alice.MergeRequests.show(P, 1)).sha as string;
    sandbox.pushCommit({ project: P, branch: 'req', author: 'dave', files: { 'elevations/r.yaml': 'a: 2\n' } });
    const stale = await api(`/projects/${EP}/merge_requests/1/approve`, { method: 'POST', body: JSON.stringify({ sha: head }) });
    expect(stale.status).toBe(409);
    expect((await body(stale)).message).toMatch(/^SHA does not match HEAD of source branch: [0-9a-f]{40}$/);
    await alice.MergeRequests.edit(P, 1, { stateEvent: 'close' });
    expect((await api(`/projects/${EP}/merge_requests/1/merge`, { method: 'PUT' })).status).toBe(405);
  });
});
