import { Writable } from 'node:stream';
import { JitError } from '@jit/errors';
import { createLogger } from '@jit/observability';
import { describe, expect, it } from 'vitest';
import { createGitlabClient } from './gitlab-client';
import { upsertMarkedNote, noteMarker } from './marked-note';
import { retryAfterMs, backoffMs } from './requester';
import { isApprovalRulesUnsupported } from './types';
import { createFakeGitlab } from './testing';

const TOKEN = 'glpat-SUPERSECRET-token-123';

interface Scripted {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  throws?: Error;
}

function scriptedFetch(script: Scripted[]) {
  const seen: Request[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    seen.push(req);
    const next = script.shift();
    if (!next) throw new Error('script exhausted');
    if (next.throws) throw next.throws;
    const isJson = typeof next.body !== 'string';
    return new Response(next.status === 204 ? null : isJson ? JSON.stringify(next.body ?? {}) : (next.body as string), {
      status: next.status,
      headers: { 'content-type': isJson ? 'application/json' : 'text/plain', ...(next.headers ?? {}) },
    });
  };
  return { fetch, seen };
}

function client(script: Scripted[], extra: { maxAttempts?: number; logLines?: string[] } = {}) {
  const { fetch, seen } = scriptedFetch(script);
  const waits: number[] = [];
  const lines = extra.logLines ?? [];
  const logger = createLogger({
    name: 't',
    level: 'debug',
    destination: new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    }),
  });
  const c = createGitlabClient({
    url: 'https://gitlab.test',
    token: TOKEN,
    fetch,
    retry: { maxAttempts: extra.maxAttempts ?? 4, baseDelayMs: 100, maxDelayMs: 5_000 },
    sleep: async (ms) => {
      waits.push(ms);
    },
    random: () => 0.5,
    logger,
  });
  return { c, seen, waits, lines };
}

const mrBody = {
  id: 99,
  iid: 7,
  project_id: 42,
  title: 't',
  description: 'd',
  state: 'opened',
  source_branch: 'req',
  target_branch: 'main',
  sha: 'abc',
  merge_commit_sha: null,
  author: { id: 3, username: 'dev' },
};

describe('createGitlabClient transport', () => {
  it('sends the token only as the PRIVATE-TOKEN header and maps the MR', async () => {
    const { c, seen } = client([{ status: 200, body: mrBody }]);
    const mr = await c.mergeRequests.show(42, 7);
    expect(mr).toMatchObject({ iid: 7, projectId: 42, sourceBranch: 'req', author: { username: 'dev' }, mergeCommitSha: null });
    expect(seen[0]!.url).toBe('https://gitlab.test/api/v4/projects/42/merge_requests/7');
    expect(seen[0]!.headers.get('private-token')).toBe(TOKEN);
    expect(seen[0]!.url).not.toContain(TOKEN);
  });

  it('asks a token function at every request, so a rotated token is used by the next call', async () => {
    const { fetch, seen } = scriptedFetch([
      { status: 200, body: mrBody },
      { status: 200, body: mrBody },
    ]);
    let token = TOKEN;
    const c = createGitlabClient({ url: 'https://gitlab.test', token: () => token, fetch });
    await c.mergeRequests.show(42, 7);
    token = 'glpat-ROTATED-token-456789';
    await c.mergeRequests.show(42, 7);
    expect(seen.map((r) => r.headers.get('private-token'))).toEqual([TOKEN, 'glpat-ROTATED-token-456789']);
    expect(() => createGitlabClient({ url: 'https://gitlab.test', token: () => '' })).toThrow(/token/);
  });

  it('retries 503 and 429 with backoff, honouring Retry-After, then succeeds', async () => {
    const { c, waits, seen } = client([
      { status: 503, body: { message: 'down' } },
      { status: 429, body: { message: 'slow down' }, headers: { 'retry-after': '2' } },
      { status: 200, body: mrBody },
    ]);
    await c.mergeRequests.show(42, 7);
    expect(seen).toHaveLength(3);
    expect(waits).toEqual([backoffMs(1, 100, 5_000, () => 0.5), 2_000]);
  });

  it('retries network failures and gives up with a retriable JIT_ERR_GITLAB_UNAVAILABLE without the token', async () => {
    const lines: string[] = [];
    const { c, seen } = client(
      [
        { status: 0, throws: new TypeError('fetch failed') },
        { status: 502, body: 'bad gateway' },
        { status: 500, body: { message: 'boom' } },
      ],
      { maxAttempts: 3, logLines: lines },
    );
    const err = await c.mergeRequests.show(42, 7).catch((e: unknown) => e);
    expect(seen).toHaveLength(3);
    expect(err).toBeInstanceOf(JitError);
    expect((err as JitError).code).toBe('JIT_ERR_GITLAB_UNAVAILABLE');
    expect((err as JitError).retriable).toBe(true);
    expect(JSON.stringify(err)).not.toContain(TOKEN);
    expect((err as Error).message).not.toContain(TOKEN);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('')).not.toContain(TOKEN);
  });

  it('stops at once when Retry-After exceeds the bound, still retriable', async () => {
    const { c, seen } = client([{ status: 429, body: {}, headers: { 'retry-after': '3600' } }]);
    const err = (await c.mergeRequests.show(42, 7).catch((e: unknown) => e)) as JitError;
    expect(seen).toHaveLength(1);
    expect(err.code).toBe('JIT_ERR_GITLAB_UNAVAILABLE');
    expect(err.retriable).toBe(true);
  });

  it('maps 404, 403 and 422 to non-retriable errors without retrying', async () => {
    const { c, seen } = client([
      { status: 404, body: { message: '404 Not found' } },
      { status: 403, body: { message: '403 Forbidden' } },
      { status: 422, body: { message: { base: ['sha mismatch'] } } },
    ]);
    const e1 = (await c.mergeRequests.show(42, 7).catch((e: unknown) => e)) as JitError;
    const e2 = (await c.mergeRequests.show(42, 7).catch((e: unknown) => e)) as JitError;
    const e3 = (await c.mergeRequests.merge(42, 7).catch((e: unknown) => e)) as JitError;
    expect(seen).toHaveLength(3);
    expect([e1.code, e2.code, e3.code]).toEqual(['JIT_ERR_GITLAB_NOT_FOUND', 'JIT_ERR_GITLAB_FORBIDDEN', 'JIT_ERR_GITLAB_REJECTED']);
    expect([e1.retriable, e2.retriable, e3.retriable]).toEqual([false, false, false]);
    expect(e3.message).toContain('sha mismatch');
  });

  it('rejects an unparsable JSON body and an oversized body', async () => {
    const bad = scriptedFetch([]);
    const c = createGitlabClient({
      url: 'https://gitlab.test',
      token: TOKEN,
      fetch: async () => new Response('{not json', { status: 200, headers: { 'content-type': 'application/json' } }),
    });
    expect(bad.seen).toHaveLength(0);
    await expect(c.mergeRequests.show(1, 1)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_BAD_RESPONSE' });
    const big = createGitlabClient({
      url: 'https://gitlab.test',
      token: TOKEN,
      fetch: async () => new Response('x'.repeat(17 * 1024 * 1024), { status: 200, headers: { 'content-type': 'text/plain' } }),
    });
    await expect(big.mergeRequests.show(1, 1)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_BAD_RESPONSE' });
  });

  it('refuses a config without a URL scheme or token', () => {
    expect(() => createGitlabClient({ url: 'gitlab.test', token: TOKEN })).toThrow(/url/);
    expect(() => createGitlabClient({ url: 'https://gitlab.test', token: '' })).toThrow(/token/);
  });
});

describe('createGitlabClient resources', () => {
  it('decodes file content to exact bytes and keeps the blob sha', async () => {
    const bytes = Buffer.from('spec:\n  ttl: 30m\n\u00e9\n', 'utf8');
    const { c, seen } = client([
      {
        status: 200,
        body: {
          file_path: 'elevations/a.yaml',
          ref: 'abc',
          blob_id: 'blob1',
          commit_id: 'c1',
          last_commit_id: 'c0',
          size: bytes.length,
          encoding: 'base64',
          content: bytes.toString('base64'),
        },
      },
    ]);
    const f = await c.files.show(42, 'elevations/a.yaml', 'abc');
    expect(Buffer.from(f.content).equals(bytes)).toBe(true);
    expect(f.blobId).toBe('blob1');
    expect(seen[0]!.url).toBe('https://gitlab.test/api/v4/projects/42/repository/files/elevations%2Fa.yaml?ref=abc');
  });

  it('reports Free-tier 403/404 on approval rules and settings as ApprovalRulesUnsupported', async () => {
    const { c } = client([
      { status: 403, body: { message: '403 Forbidden' } },
      { status: 404, body: { message: '404 Not Found' } },
      { status: 404, body: { message: '404 Not Found' } },
    ]);
    const rules = await c.approvalRules.create(42, 7, { name: 'jit:cosmetic', approvalsRequired: 1, userIds: [5] });
    const all = await c.approvalRules.all(42, 7);
    const settings = await c.approvalSettings.show(42);
    expect(isApprovalRulesUnsupported(rules)).toBe(true);
    expect(isApprovalRulesUnsupported(all)).toBe(true);
    expect(isApprovalRulesUnsupported(settings)).toBe(true);
  });

  it('still throws a retriable error for 5xx on approval rules (not mistaken for Free)', async () => {
    const { c } = client([{ status: 503 }, { status: 503 }, { status: 503 }, { status: 503 }]);
    await expect(c.approvalRules.all(42, 7)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_UNAVAILABLE', retriable: true });
  });

  it('creates an MR approval rule with user ids and reads approvals with approved_at', async () => {
    const { c, seen } = client([
      { status: 201, body: { id: 11, name: 'jit:destructive', approvals_required: 2, users: [{ id: 5, username: 'alice' }] } },
      {
        status: 200,
        body: {
          approvals_required: 2,
          approvals_left: 1,
          approved_by: [{ user: { id: 5, username: 'alice' }, approved_at: '2026-01-01T00:00:00Z' }, { user: { id: 6, username: 'bob' } }],
        },
      },
    ]);
    const rule = await c.approvalRules.create(42, 7, { name: 'jit:destructive', approvalsRequired: 2, userIds: [5] });
    expect(rule).toEqual({ id: 11, name: 'jit:destructive', approvalsRequired: 2, userIds: [5], usernames: ['alice'] });
    const sent = JSON.parse(await seen[0]!.text());
    expect(sent).toMatchObject({ name: 'jit:destructive', approvals_required: 2, user_ids: [5] });
    const approvals = await c.mergeRequests.approvals(42, 7);
    expect(approvals.approvedBy).toEqual([
      { userId: 5, username: 'alice', approvedAt: '2026-01-01T00:00:00Z' },
      { userId: 6, username: 'bob' },
    ]);
  });

  it('resolves a user by username with the bot flag from the single-user endpoint', async () => {
    const { c } = client([
      { status: 200, body: [{ id: 9, username: 'deploy-bot' }] },
      { status: 200, body: { id: 9, username: 'deploy-bot', bot: true } },
      { status: 200, body: [] },
    ]);
    expect(await c.users.byUsername('deploy-bot')).toMatchObject({ id: 9, bot: true });
    expect(await c.users.byUsername('nobody')).toBeUndefined();
  });

  it('lists MRs with GitLab filters and follows the link header, but no further than maxPages', async () => {
    const next = (page: number) => ({
      link: `<https://gitlab.test/api/v4/projects/42/merge_requests?state=merged&updated_after=2026-01-01T00%3A00%3A00.000Z&page=${page}&per_page=2>; rel="next"`,
    });
    const { c, seen } = client([
      {
        status: 200,
        body: [
          { ...mrBody, iid: 1, updated_at: '2026-01-02T00:00:00Z', created_at: '2026-01-01T00:00:00Z', closed_by: { id: 8, username: 'erin' } },
          { ...mrBody, iid: 2 },
        ],
        headers: next(2),
      },
      {
        status: 200,
        body: [
          { ...mrBody, iid: 3 },
          { ...mrBody, iid: 4 },
        ],
        headers: next(3),
      },
      { status: 200, body: [{ ...mrBody, iid: 5 }] },
    ]);
    const list = await c.mergeRequests.all(42, { state: 'merged', updatedAfter: '2026-01-01T00:00:00.000Z', orderBy: 'updated_at', sort: 'desc', perPage: 2, maxPages: 2 });
    expect(list.map((m) => m.iid)).toEqual([1, 2, 3, 4]);
    expect(list[0]).toMatchObject({ updatedAt: '2026-01-02T00:00:00Z', createdAt: '2026-01-01T00:00:00Z', sha: 'abc', closedBy: { id: 8, username: 'erin' } });
    expect(list[1]!.closedBy).toBeNull();
    expect(seen).toHaveLength(2);
    const first = new URL(seen[0]!.url);
    expect(first.pathname).toBe('/api/v4/projects/42/merge_requests');
    expect(Object.fromEntries(first.searchParams)).toMatchObject({
      state: 'merged',
      updated_after: '2026-01-01T00:00:00.000Z',
      order_by: 'updated_at',
      sort: 'desc',
      per_page: '2',
    });
    expect(new URL(seen[1]!.url).searchParams.get('page')).toBe('2');
  });

  it('refuses an MR list that is not an array', async () => {
    const { c } = client([{ status: 200, body: { message: 'not a list' } }]);
    await expect(c.mergeRequests.all(42)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_BAD_RESPONSE' });
  });
});

describe('retry helpers', () => {
  it('parses Retry-After seconds and dates', () => {
    expect(retryAfterMs('3')).toBe(3000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6_000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(null)).toBeUndefined();
  });
  it('grows backoff exponentially up to the cap', () => {
    const r = () => 1;
    expect(backoffMs(1, 100, 1_000, r)).toBe(100);
    expect(backoffMs(3, 100, 1_000, r)).toBe(400);
    expect(backoffMs(10, 100, 1_000, r)).toBe(1_000);
  });
});

describe('upsertMarkedNote', () => {
  it('creates once, edits in place, and leaves an unchanged body alone', async () => {
    const fake = createFakeGitlab({ botUsername: 'jit-bot' });
    fake.addUser('dev');
    fake.addProject({ id: 1 });
    fake.push(1, 'req', { 'elevations/a.yaml': 'x' }, 'dev');
    fake.openMergeRequest(1, { sourceBranch: 'req', author: 'dev' });
    const bot = fake.client();
    await fake.client('dev').notes.create(1, 1, `${noteMarker('gate')}\nforged by the author`);
    const m = noteMarker('gate');
    expect((await upsertMarkedNote(bot, 1, 1, m, 'v1', 'jit-bot')).action).toBe('created');
    expect((await upsertMarkedNote(bot, 1, 1, m, 'v2', 'jit-bot')).action).toBe('edited');
    expect((await upsertMarkedNote(bot, 1, 1, m, 'v2', 'jit-bot')).action).toBe('unchanged');
    const notes = fake.projects.get(1)!.mrs.get(1)!.notes;
    expect(notes).toHaveLength(2);
    expect(notes[0]!.body).toContain('forged by the author');
    expect(notes[1]!.body).toBe(`${m}\nv2`);
  });
});
