import { describe, expect, expectTypeOf, it } from 'vitest';
import fc from 'fast-check';
import { z } from 'zod';
import {
  GITLAB_EVENT_HEADERS,
  GitlabWebhookDataSchema,
  GitlabWebhookEventSchema,
  parseGitlabWebhook,
  type GitlabWebhookData,
  type GitlabWebhookEvent,
  type GitlabWebhookParseResult,
} from './gitlab-webhook';

// Trimmed from GitLab's documented Push Hook example (webhook_events.md).
function pushHook(): Record<string, any> {
  return {
    object_kind: 'push',
    event_name: 'push',
    before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
    after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    ref: 'refs/heads/master',
    ref_protected: true,
    checkout_sha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    user_id: 4,
    user_name: 'John Smith',
    user_username: 'jsmith',
    user_email: 'john@example.com',
    project_id: 15,
    project: { id: 15, name: 'Diaspora', path_with_namespace: 'mike/diaspora', default_branch: 'master' },
    commits: [
      {
        id: 'b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327',
        message: 'Update Catalan translation to e38cb41.',
        timestamp: '2011-12-12T14:27:31+02:00',
        author: { name: 'Jordi Mallach', email: 'jordi@softcatala.org' },
        added: ['CHANGELOG'],
        modified: ['app/controller/application.rb'],
        removed: [],
      },
    ],
    total_commits_count: 4,
  };
}

// Trimmed from GitLab's documented payloads (webhook_events.md); the full ones are exercised by libs/ingest.
function mrHook(): Record<string, any> {
  return {
    object_kind: 'merge_request',
    user: { id: 1, name: 'Administrator', username: 'root', email: 'admin@example.com' },
    project: { id: 1, path_with_namespace: 'gitlabhq/gitlab-test' },
    object_attributes: {
      id: 99,
      iid: 1,
      title: 'MS-Viewport',
      target_branch: 'master',
      source_branch: 'ms-viewport',
      author_id: 51,
      state: 'opened',
      action: 'update',
      oldrev: 'aaaa1111',
      created_at: '2013-12-03T17:23:34Z',
      updated_at: '2013-12-03T17:23:35Z',
      last_commit: { id: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' },
      labels: [{ title: 'API' }],
    },
    labels: [{ title: 'ignored-because-object-attributes-win' }],
  };
}

function noteHook(): Record<string, any> {
  return {
    object_kind: 'note',
    user: { id: 7, name: 'Alice', username: 'alice' },
    project: { id: 5, path_with_namespace: 'gitlab-org/gitlab-test' },
    object_attributes: {
      id: 1244,
      note: '/approve please',
      noteable_type: 'MergeRequest',
      action: 'create',
      system: false,
      created_at: '2015-05-17 18:21:36 UTC',
      updated_at: '2015-05-17 18:21:37 UTC',
    },
    merge_request: {
      id: 7,
      iid: 3,
      state: 'merged',
      source_branch: 'feature',
      target_branch: 'main',
      author_id: 8,
      merge_commit_sha: 'ffff0000',
      created_at: '2015-03-01 20:12:53 UTC',
      updated_at: '2015-03-21 18:27:27 UTC',
      last_commit: { id: '562e173be03b8ff2efb05345d12df18815438a4b' },
      labels: [{ title: 'Afterpod' }, { title: 'Element' }],
    },
  };
}

describe('parseGitlabWebhook', () => {
  it('normalizes a Merge Request Hook', () => {
    const result = parseGitlabWebhook(GITLAB_EVENT_HEADERS.mergeRequest, mrHook());
    expect(result).toEqual({
      status: 'ok',
      event: {
        kind: 'merge_request',
        action: 'update',
        projectId: 1,
        projectPath: 'gitlabhq/gitlab-test',
        mrIid: 1,
        mrId: 99,
        mrTitle: 'MS-Viewport',
        mrState: 'opened',
        sourceBranch: 'ms-viewport',
        targetBranch: 'master',
        headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        oldrev: 'aaaa1111',
        mergeCommitSha: null,
        authorId: 51,
        actor: { id: 1, username: 'root', name: 'Administrator' },
        labels: ['API'],
        mrCreatedAt: '2013-12-03T17:23:34Z',
        mrUpdatedAt: '2013-12-03T17:23:35Z',
      },
    });
    if (result.status === 'ok') expect(GitlabWebhookEventSchema.parse(result.event)).toEqual(result.event);
  });

  it('normalizes a Note Hook on a merge request, with the note body and merge sha', () => {
    const result = parseGitlabWebhook(GITLAB_EVENT_HEADERS.note, noteHook());
    expect(result.status).toBe('ok');
    if (result.status !== 'ok') return;
    expect(result.event).toMatchObject({
      kind: 'note',
      action: 'create',
      projectId: 5,
      mrIid: 3,
      mrState: 'merged',
      mergeCommitSha: 'ffff0000',
      headSha: '562e173be03b8ff2efb05345d12df18815438a4b',
      actor: { id: 7, username: 'alice', name: 'Alice' },
      note: { id: 1244, body: '/approve please', system: false },
      labels: ['Afterpod', 'Element'],
    });
    expect(result.event.oldrev).toBeUndefined();
    expect(GitlabWebhookEventSchema.safeParse(result.event).success).toBe(true);
  });

  it('ignores notes on anything but merge requests, and other event types', () => {
    const onIssue = noteHook();
    onIssue['object_attributes'].noteable_type = 'Issue';
    delete onIssue['merge_request'];
    expect(parseGitlabWebhook('Note Hook', onIssue)).toEqual({ status: 'ignored', reason: 'note on Issue' });
    expect(parseGitlabWebhook('Tag Push Hook', { object_kind: 'tag_push' }).status).toBe('ignored');
    expect(parseGitlabWebhook('Push Hook', { ...pushHook(), ref: 'refs/tags/v1' })).toEqual({ status: 'ignored', reason: 'push to refs/tags/v1' });
    expect(parseGitlabWebhook(undefined, mrHook()).status).toBe('ignored');
  });

  it("a Push Hook says who pushed (user_username, GitLab's word) and which commits, with the author line each claims", () => {
    expect(parseGitlabWebhook('Push Hook', pushHook())).toEqual({
      status: 'push',
      event: {
        kind: 'push',
        projectId: 15,
        projectPath: 'mike/diaspora',
        branch: 'master',
        before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
        after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        actor: { id: 4, username: 'jsmith', name: 'John Smith' },
        commits: [{ id: 'b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327', authorName: 'Jordi Mallach', authorEmail: 'jordi@softcatala.org' }],
        totalCommits: 4,
      },
    });
    expect(parseGitlabWebhook('Push Hook', { object_kind: 'push' }).status).toBe('invalid');
  });

  it('names every missing or mistyped field', () => {
    const body = mrHook();
    delete body['project'].id;
    body['object_attributes'].iid = '1';
    delete body['user'];
    const result = parseGitlabWebhook('Merge Request Hook', body);
    expect(result.status).toBe('invalid');
    if (result.status !== 'invalid') return;
    const paths = result.problems.map((p) => p.path).sort();
    expect(paths).toEqual(['object_attributes.iid', 'project.id', 'user']);
  });

  it('rejects a body whose object_kind contradicts the header, and non-objects', () => {
    const result = parseGitlabWebhook('Merge Request Hook', noteHook());
    expect(result.status).toBe('invalid');
    if (result.status === 'invalid') expect(result.problems.map((p) => p.path)).toContain('object_kind');
    for (const junk of [null, 42, 'x', [], [mrHook()]]) {
      expect(parseGitlabWebhook('Merge Request Hook', junk).status).toBe('invalid');
      expect(parseGitlabWebhook('Note Hook', junk).status).toBe('invalid');
    }
  });

  it('does not let hostile keys leak into the normalized event', () => {
    const body = JSON.parse(JSON.stringify(mrHook()).replace('"object_kind"', '"__proto__":{"polluted":true},"constructor":{"x":1},"object_kind"'));
    const result = parseGitlabWebhook('Merge Request Hook', body);
    expect(result.status).toBe('ok');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    if (result.status === 'ok') expect(Object.keys(result.event)).not.toContain('__proto__');
  });
});

describe('GitlabWebhookData types (checked by tsc)', () => {
  it('exposes the fields consumers rely on', () => {
    expectTypeOf<GitlabWebhookEvent['kind']>().toEqualTypeOf<'merge_request' | 'note'>();
    expectTypeOf<GitlabWebhookEvent['headSha']>().toEqualTypeOf<string | null>();
    expectTypeOf<GitlabWebhookEvent['mergeCommitSha']>().toEqualTypeOf<string | null>();
    expectTypeOf<GitlabWebhookData['delivery']['id']>().toEqualTypeOf<string>();
    expectTypeOf<GitlabWebhookData['payload']>().toEqualTypeOf<unknown>();
    expectTypeOf(parseGitlabWebhook).returns.toEqualTypeOf<GitlabWebhookParseResult>();
  });
});

describe('GitlabWebhookDataSchema as JSON Schema', () => {
  it('renders (for publication next to the elevation event schemas)', () => {
    const schema = z.toJSONSchema(GitlabWebhookDataSchema, { io: 'input', target: 'draft-2020-12' }) as { required: string[] };
    expect(schema.required).toEqual(expect.arrayContaining(['kind', 'projectId', 'mrIid', 'delivery', 'actor', 'labels']));
  });
});

describe('parseGitlabWebhook on arbitrary input (property)', () => {
  it('never throws; every ok result satisfies the schema; every invalid result names a path', () => {
    const header = fc.constantFrom('Merge Request Hook', 'Note Hook', 'Push Hook', undefined);
    // arbitrary JSON, and the real shapes with one field replaced by arbitrary JSON
    const mutated = fc
      .tuple(fc.constantFrom(mrHook, noteHook), fc.constantFrom('user', 'project', 'object_attributes', 'merge_request', 'labels', 'object_kind'), fc.jsonValue())
      .map(([make, key, value]) => ({ ...make(), [key]: value }));
    fc.assert(
      fc.property(header, fc.oneof(fc.jsonValue(), mutated), (h, body) => {
        const result = parseGitlabWebhook(h, body);
        if (result.status === 'ok') expect(GitlabWebhookEventSchema.safeParse(result.event).success).toBe(true);
        if (result.status === 'invalid') {
          expect(result.problems.length).toBeGreaterThan(0);
          for (const p of result.problems) expect(p.path.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
