// Webhooks: every emitted payload checked key by key and type by type against GitLab's
// documented examples (fixtures/), Standard Webhooks signatures, resend, the delivery log,
// ordering, timeouts and failures.
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { Gitlab } from '@gitbeaker/rest';
import { Writable } from 'node:stream';
import { createLogger } from '@jit/observability';
import { Webhook } from 'standardwebhooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEMO_SEED, startHookReceiver, type HookReceiver } from './testing';
import { startSandbox, type Sandbox } from './sandbox';

const P = 'ops/elevations';
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const MR_HOOK = fixture('merge-request-hook.json');
const NOTE_MR_HOOK = fixture('note-hook-merge-request.json');
const NOTE_ISSUE_HOOK = fixture('note-hook-issue.json');
const ISSUE_HOOK = fixture('issue-hook.json');
const PUSH_HOOK = fixture('push-hook.json');

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

interface ShapeRules {
  /** Paths whose value the example shows non-null but GitLab sends null when unset (no milestone, never edited, ...). */
  nullable: Set<string>;
  /** Paths the sandbox sends beyond the example (documented elsewhere in GitLab's docs). */
  extras: Set<string>;
  /** Paths of the example GitLab documents as conditional (e.g. incident-only fields). */
  optional?: Set<string>;
}

/** Every problem found comparing `actual` with the documented example's keys and types. */
function shapeProblems(expected: unknown, actual: unknown, rules: ShapeRules, path = ''): string[] {
  const te = typeOf(expected);
  const ta = typeOf(actual);
  if (te === 'null') return [];
  if (ta === 'null') return rules.nullable.has(path) ? [] : [`${path}: null where the example has ${te}`];
  if (te !== ta) return [`${path}: ${ta} where the example has ${te}`];
  if (te === 'array') {
    const [first] = expected as unknown[];
    if (first === undefined) return [];
    return (actual as unknown[]).flatMap((item) => shapeProblems(first, item, rules, `${path}[]`));
  }
  if (te !== 'object') return [];
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  const problems: string[] = [];
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (path === 'changes') {
    // A map of attribute -> {previous, current}; labels changes carry label objects.
    for (const [k, v] of Object.entries(a)) {
      if (
        typeOf(v) !== 'object' ||
        Object.keys(v as object)
          .sort()
          .join() !== 'current,previous'
      )
        problems.push(`${at(k)}: not {previous, current}`);
      if (k === 'labels') problems.push(...shapeProblems(e['labels'], v, rules, at(k)));
    }
    return problems;
  }
  for (const k of Object.keys(e)) {
    if (!(k in a)) {
      if (!rules.optional?.has(at(k))) problems.push(`${at(k)}: missing`);
    } else problems.push(...shapeProblems(e[k], a[k], rules, at(k)));
  }
  for (const k of Object.keys(a)) if (!(k in e) && !rules.extras.has(at(k))) problems.push(`${at(k)}: not in the documented example`);
  return problems;
}

/** Fields GitLab's hook builders send beyond the documented examples (issue 13). */
const MR_BUILDER_EXTRAS = ['merge_commit_sha', 'head_pipeline_id', 'merge_error', 'merge_params', 'merge_user_id', 'merge_when_pipeline_succeeds', 'time_estimate', 'updated_by_id'];
const NOTE_BUILDER_EXTRAS = ['type', 'discussion_id', 'internal', 'position', 'original_position', 'change_position', 'resolved_at', 'resolved_by_id', 'resolved_by_push', 'updated_by_id'];

const MR_RULES: ShapeRules = {
  nullable: new Set([
    'object_attributes.last_edited_at',
    'object_attributes.last_edited_by_id',
    'object_attributes.assignee_id',
    'object_attributes.human_total_time_spent',
    'object_attributes.human_time_change',
    'object_attributes.human_time_estimate',
    'object_attributes.labels[].group_id',
    'object_attributes.labels[].description',
    'labels[].group_id',
    'labels[].description',
    'changes.labels.previous[].group_id',
    'changes.labels.previous[].description',
    'changes.labels.current[].group_id',
    'changes.labels.current[].description',
  ]),
  // GitLab's MergeRequestBuilder sends these too (the documented example leaves them out)
  extras: new Set(['oldrev', ...MR_BUILDER_EXTRAS].map((k) => `object_attributes.${k}`)),
  // Gitlab::DataBuilder::Issuable adds assignees (and reviewers) only when there are any.
  optional: new Set(['assignees', 'reviewers']),
};

const NOTE_RULES: ShapeRules = {
  nullable: new Set([
    'merge_request.assignee_id',
    'merge_request.assignee',
    'merge_request.milestone_id',
    'merge_request.labels[].group_id',
    'merge_request.labels[].description',
    'issue.labels[].group_id',
    'issue.labels[].description',
    'issue.assignee_id',
  ]),
  // GitLab's NoteBuilder sends these too (the documented example leaves them out)
  extras: new Set(NOTE_BUILDER_EXTRAS.map((k) => `object_attributes.${k}`)),
};

const ISSUE_RULES: ShapeRules = {
  nullable: new Set([
    'object_attributes.assignee_id',
    'object_attributes.updated_by_id',
    'object_attributes.discussion_locked',
    'object_attributes.health_status',
    'object_attributes.labels[].group_id',
    'object_attributes.labels[].description',
    'labels[].group_id',
    'labels[].description',
    'changes.labels.previous[].group_id',
    'changes.labels.previous[].description',
    'changes.labels.current[].group_id',
    'changes.labels.current[].description',
  ]),
  extras: new Set(),
  // "escalation_status and escalation_policy are only available for issue types which support
  // escalations, such as incidents"; `assignee` holds the first assignee, when there is one.
  optional: new Set(['object_attributes.escalation_status', 'object_attributes.escalation_policy', 'assignee', 'assignees']),
};

let sandbox: Sandbox;
let receiver: HookReceiver;
const SIGNING = `whsec_${Buffer.from('a-32-byte-long-signing-key-here!').toString('base64')}`;
const client = (token: string) => new Gitlab({ host: sandbox.url, token });

beforeEach(async () => {
  receiver = await startHookReceiver();
  sandbox = await startSandbox({ seed: DEMO_SEED });
});

afterEach(async () => {
  await sandbox.close();
  await receiver.close();
});

async function openMr(): Promise<number> {
  const dave = client('dave-token-0001');
  await dave.Branches.create(P, 'req', 'main');
  await dave.Commits.create(P, 'req', 'request', [{ action: 'create', filePath: 'elevations/r.yaml', content: 'a: 1\n' }]);
  const alice = await sandbox.user('alice');
  const bob = await sandbox.user('bob');
  const mr = await dave.MergeRequests.create(P, 'req', 'main', 'Elevate', { labels: 'elevation', assigneeIds: [alice.id], reviewerIds: [bob.id] });
  return mr.iid as number;
}

describe('payload fidelity against the documented examples', () => {
  it('every Merge Request Hook action matches the example key by key and type by type', async () => {
    sandbox.addHook(P, { url: receiver.url });
    const iid = await openMr();
    const alice = client('alice-token-0001');
    const bob = client('bob-token-00001');
    const dave = client('dave-token-0001');
    await dave.MergeRequests.edit(P, iid, { addLabels: 'db', title: 'Elevate orders-db' });
    sandbox.pushCommit({ project: P, branch: 'req', author: 'dave', files: { 'elevations/r.yaml': 'a: 2\n' } });
    await alice.MergeRequestApprovals.createApprovalRule(P, 'two', 2, { mergerequestIId: iid, usernames: ['alice', 'bob'] });
    await alice.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.unapprove(P, iid);
    await alice.MergeRequestApprovals.unapprove(P, iid);
    await dave.MergeRequests.edit(P, iid, { stateEvent: 'close' });
    await dave.MergeRequests.edit(P, iid, { stateEvent: 'reopen' });
    await alice.MergeRequestApprovals.approve(P, iid);
    await bob.MergeRequestApprovals.approve(P, iid);
    await alice.MergeRequests.merge(P, iid);
    await sandbox.idle();
    const bodies = receiver.received.map((r) => r.json);
    expect(bodies.map((b) => b.object_attributes.action)).toEqual(['open', 'update', 'update', 'approval', 'approved', 'unapproved', 'unapproval', 'close', 'reopen', 'approval', 'approved', 'merge']);
    for (const body of bodies) expect({ action: body.object_attributes.action, problems: shapeProblems(MR_HOOK, body, MR_RULES) }).toEqual({ action: body.object_attributes.action, problems: [] });
    // The checks above must see non-empty arrays and a filled `changes`, or they check nothing.
    const edit = bodies[1];
    expect(edit.labels.length).toBeGreaterThan(0);
    expect(edit.assignees.length).toBe(1);
    expect(edit.reviewers.length).toBe(1);
    expect(Object.keys(edit.changes)).toEqual(expect.arrayContaining(['title', 'labels', 'updated_at', 'updated_by_id', 'last_edited_at', 'last_edited_by_id']));
    expect(bodies[2].object_attributes.oldrev).toMatch(/^[0-9a-f]{40}$/);
    expect(bodies.filter((b) => 'oldrev' in b.object_attributes)).toHaveLength(1);
    expect(bodies[11].object_attributes).toMatchObject({ state: 'merged', state_id: 3 });
    expect(bodies[11].object_attributes.merge_commit_sha).toMatch(/^[0-9a-f]{40}$/);
    expect(bodies[0].object_attributes.merge_commit_sha).toBeNull();
    expect(bodies[0].user.username).toBe('dave');
    expect(bodies[3].user.username).toBe('alice');
    // the builder's extras, with the values GitLab has for an MR without pipelines or auto-merge
    const [aliceId, daveId] = [sandbox.user('alice').id, sandbox.user('dave').id];
    for (const b of bodies) for (const k of MR_BUILDER_EXTRAS) expect(b.object_attributes, `${b.object_attributes.action} ${k}`).toHaveProperty(k);
    expect(bodies[0].object_attributes).toMatchObject({
      head_pipeline_id: null,
      merge_error: null,
      merge_params: {},
      merge_user_id: null,
      merge_when_pipeline_succeeds: false,
      time_estimate: 0,
      updated_by_id: null,
    });
    expect(bodies[1].object_attributes.updated_by_id).toBe(daveId);
    expect(bodies[11].object_attributes.merge_user_id).toBe(aliceId);
  });

  it('Note Hooks on merge requests and issues match the examples', async () => {
    sandbox.addHook(P, { url: receiver.url });
    const iid = await openMr();
    const alice = client('alice-token-0001');
    const note = await alice.MergeRequestNotes.create(P, iid, 'please add a rollback plan');
    await alice.MergeRequestNotes.edit(P, iid, note.id, { body: 'please add a rollback plan (R-17)' });
    const issue = await alice.Issues.create(P, 'Review break-glass', { labels: 'break-glass' });
    await alice.IssueNotes.create(P, issue.iid, 'reviewed');
    await sandbox.idle();
    const notes = receiver.received.filter((r) => r.headers['x-gitlab-event'] === 'Note Hook').map((r) => r.json);
    expect(notes.map((n) => `${n.object_attributes.noteable_type}:${n.object_attributes.action}`)).toEqual(['MergeRequest:create', 'MergeRequest:update', 'Issue:create']);
    expect(shapeProblems(NOTE_MR_HOOK, notes[0], NOTE_RULES)).toEqual([]);
    expect(shapeProblems(NOTE_MR_HOOK, notes[1], NOTE_RULES)).toEqual([]);
    expect(shapeProblems(NOTE_ISSUE_HOOK, notes[2], NOTE_RULES)).toEqual([]);
    expect(notes[0].merge_request.iid).toBe(iid);
    expect(notes[1].object_attributes.note).toBe('please add a rollback plan (R-17)');
    // the builder's extras: a plain comment, not internal, outside any diff thread, never resolved
    for (const n of notes) for (const k of NOTE_BUILDER_EXTRAS) expect(n.object_attributes, k).toHaveProperty(k);
    expect(notes[0].object_attributes).toMatchObject({
      type: null,
      internal: false,
      position: null,
      resolved_at: null,
      resolved_by_id: null,
      resolved_by_push: null,
      updated_by_id: null,
    });
    expect(notes[0].object_attributes.discussion_id).toMatch(/^[0-9a-f]{40}$/);
    expect(notes[1].object_attributes.discussion_id).toBe(notes[0].object_attributes.discussion_id); // the same note
    expect(notes[2].object_attributes.discussion_id).not.toBe(notes[0].object_attributes.discussion_id);
    expect(notes[1].object_attributes.updated_by_id).toBe(sandbox.user('alice').id); // edited
  });

  it('Issue Hooks (break-glass review issues) match the example', async () => {
    sandbox.addHook(P, { url: receiver.url, issues_events: true, merge_requests_events: false, note_events: false });
    const alice = client('alice-token-0001');
    const bob = await sandbox.user('bob');
    const issue = await alice.Issues.create(P, 'Review break-glass !1', { labels: 'break-glass', assigneeIds: [bob.id] });
    await alice.Issues.edit(P, issue.iid, { labels: 'break-glass,reviewed', title: 'Reviewed break-glass !1' });
    await alice.Issues.edit(P, issue.iid, { stateEvent: 'close' });
    const plain = await alice.Issues.create(P, 'no assignee');
    await alice.Issues.edit(P, plain.iid, { stateEvent: 'close' });
    await alice.Issues.edit(P, plain.iid, { stateEvent: 'reopen' });
    await sandbox.idle();
    const bodies = receiver.received.map((r) => r.json);
    expect(receiver.received.every((r) => r.headers['x-gitlab-event'] === 'Issue Hook')).toBe(true);
    expect(bodies.map((b) => b.object_attributes.action)).toEqual(['open', 'update', 'close', 'open', 'close', 'reopen']);
    for (const b of bodies) expect(shapeProblems(ISSUE_HOOK, b, ISSUE_RULES)).toEqual([]);
    expect(bodies[1].changes.labels.current.map((l: { title: string }) => l.title)).toEqual(['break-glass', 'reviewed']);
    expect(bodies[0].assignee.username).toBe('bob');
    expect(bodies[3]).not.toHaveProperty('assignee');
    expect(bodies[3]).not.toHaveProperty('assignees');
  });

  it('Push Hooks (branch create, commits, merge, delete) match the example', async () => {
    sandbox.addHook(P, { url: receiver.url, push_events: true, merge_requests_events: false, note_events: false });
    const dave = client('dave-token-0001');
    const alice = client('alice-token-0001');
    const created = await dave.Branches.create(P, 'req', 'main');
    const c1 = await dave.Commits.create(P, 'req', 'first', [{ action: 'create', filePath: 'elevations/r.yaml', content: 'a\n' }]);
    let last = c1.id;
    for (let i = 0; i < 21; i++) last = sandbox.pushCommit({ project: P, branch: 'req', author: 'dave', files: { 'elevations/r.yaml': `a${i}\n`, [`n${i}.txt`]: 'x' } });
    const mr = await dave.MergeRequests.create(P, 'req', 'main', 'many commits');
    await alice.MergeRequestApprovals.approve(P, mr.iid);
    const mainBefore = (await alice.Branches.show(P, 'main')).commit.id;
    const merged = await alice.MergeRequests.merge(P, mr.iid, { shouldRemoveSourceBranch: true });
    await sandbox.idle();
    const bodies = receiver.received.map((r) => r.json);
    expect(receiver.received.every((r) => r.headers['x-gitlab-event'] === 'Push Hook')).toBe(true);
    const rules: ShapeRules = { nullable: new Set(['checkout_sha']), extras: new Set() };
    for (const b of bodies) expect(shapeProblems(PUSH_HOOK, b, rules)).toEqual([]);
    const [create, firstPush] = bodies;
    expect(create).toMatchObject({ before: '0'.repeat(40), after: created.commit.id, ref: 'refs/heads/req', ref_protected: false, commits: [], total_commits_count: 0 });
    expect(firstPush).toMatchObject({ before: created.commit.id, after: c1.id, total_commits_count: 1, user_username: 'dave' });
    expect(firstPush.commits[0]).toMatchObject({ id: c1.id, added: ['elevations/r.yaml'], modified: [], removed: [] });
    const toMain = bodies.find((b) => b.ref === 'refs/heads/main');
    expect(toMain).toMatchObject({ before: mainBefore, after: merged.merge_commit_sha, ref_protected: true, total_commits_count: 23, user_username: 'alice' });
    expect(toMain.commits).toHaveLength(20);
    expect(toMain.commits[19].id).toBe(merged.merge_commit_sha); // oldest first, newest last
    const deleted = bodies[bodies.length - 1];
    expect(deleted).toMatchObject({ ref: 'refs/heads/req', before: last, after: '0'.repeat(40), checkout_sha: null, commits: [] });
  });

  it('the comparator itself catches a missing key, a wrong type and an undocumented key', () => {
    const body = structuredClone(MR_HOOK);
    delete body.object_attributes.iid;
    body.object_attributes.state_id = '1';
    body.object_attributes.surprise = true;
    expect(shapeProblems(MR_HOOK, body, MR_RULES)).toEqual([
      'object_attributes.iid: missing',
      'object_attributes.state_id: string where the example has number',
      'object_attributes.surprise: not in the documented example',
    ]);
  });
});

describe('delivery', () => {
  it('signs with Standard Webhooks when a signing token is set, verifiable with Webhook.verify', async () => {
    sandbox.addHook(P, { url: receiver.url, signing_token: SIGNING, token: 'plain-token-1' });
    await openMr();
    await sandbox.idle();
    const [req] = receiver.received;
    const headers = req?.headers as Record<string, string>;
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/=]+$/);
    expect(headers['webhook-id']).toBe(headers['idempotency-key']);
    const verified = new Webhook(SIGNING).verify(req?.body as string, headers) as { object_kind: string };
    expect(verified.object_kind).toBe('merge_request');
    expect(() => new Webhook(SIGNING).verify(`${req?.body} `, headers)).toThrow();
    const other = `whsec_${Buffer.from('another-key-another-key-another!').toString('base64')}`;
    expect(() => new Webhook(other).verify(req?.body as string, headers)).toThrow();
  });

  it('resend re-sends the same body with the same Idempotency-Key and webhook-id, freshly signed', async () => {
    const { id: hookId } = sandbox.addHook(P, { url: receiver.url, signing_token: SIGNING });
    await openMr();
    await sandbox.idle();
    const [original] = sandbox.deliveries(hookId);
    const again = sandbox.resend(original?.id as string);
    expect(again.resendOf).toBe(original?.id);
    await sandbox.idle();
    const [first, second] = receiver.received;
    expect(second?.body).toBe(first?.body);
    expect(second?.headers['idempotency-key']).toBe(first?.headers['idempotency-key']);
    expect(second?.headers['webhook-id']).toBe(first?.headers['webhook-id']);
    expect(second?.headers['x-gitlab-webhook-uuid']).not.toBe(first?.headers['x-gitlab-webhook-uuid']);
    new Webhook(SIGNING).verify(second?.body as string, second?.headers as Record<string, string>);
    expect(sandbox.deliveries(hookId)).toHaveLength(2);
    expect(() => sandbox.resend('no-such-delivery')).toThrow(/JIT_ERR_SANDBOX_NOT_FOUND|no delivery/);
  });

  it("serves the delivery log and resend through GitLab's webhook events API", async () => {
    const { id: hookId } = sandbox.addHook(P, { url: receiver.url, token: 'events-api-token' });
    await openMr();
    await sandbox.idle();
    const headers = { 'PRIVATE-TOKEN': 'alice-token-0001' };
    const base = `${sandbox.apiUrl}/projects/${encodeURIComponent(P)}/hooks/${hookId}/events`;
    const events = (await (await fetch(base, { headers })).json()) as Record<string, any>[];
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ url: receiver.url, trigger: 'merge_request_hooks', response_status: '200', response_body: 'ok' });
    expect(events[0]?.request_data.object_kind).toBe('merge_request');
    expect(events[0]?.request_headers['X-Gitlab-Token']).toBe('[REDACTED]');
    expect(JSON.stringify(events)).not.toContain('events-api-token');
    const res = await fetch(`${base}/${events[0]?.id}/resend`, { method: 'POST', headers });
    expect(res.status).toBe(201);
    await sandbox.idle();
    expect(receiver.received[1]?.headers['idempotency-key']).toBe(receiver.received[0]?.headers['idempotency-key']);
    expect((await fetch(`${base}/9999/resend`, { method: 'POST', headers })).status).toBe(404);
    expect((await fetch(base, { headers: { 'PRIVATE-TOKEN': 'dave-token-0001' } })).status).toBe(403);
  });

  it('keeps a delivery log per hook with status, duration and headers, never the secret token', async () => {
    const a = sandbox.addHook(P, { url: receiver.url, token: 'super-secret-hook-token' });
    const b = sandbox.addHook(P, { url: `http://127.0.0.1:${await closedPort()}/unreachable` });
    receiver.respondWith(500);
    await openMr();
    await sandbox.idle();
    const [da] = sandbox.deliveries(a.id);
    expect(da).toMatchObject({ hookId: a.id, event: 'Merge Request Hook', status: 500, error: 'HTTP 500' });
    expect(da?.durationMs).toBeGreaterThanOrEqual(0);
    expect(da?.requestHeaders['X-Gitlab-Token']).toBe('[REDACTED]');
    expect(JSON.stringify(sandbox.deliveries())).not.toContain('super-secret-hook-token');
    expect(receiver.received[0]?.headers['x-gitlab-token']).toBe('super-secret-hook-token');
    const [db] = sandbox.deliveries(b.id);
    expect(db).toMatchObject({ status: null, error: 'ECONNREFUSED' });
    expect(sandbox.deliveries()).toHaveLength(2);
  });

  it('delivers asynchronously (the API does not wait) and in order per hook', async () => {
    const { id } = sandbox.addHook(P, { url: receiver.url });
    receiver.hold();
    const iid = await openMr();
    const alice = client('alice-token-0001');
    for (let i = 0; i < 5; i++) await alice.MergeRequestNotes.create(P, iid, `note ${i}`);
    // Every API call answered while the receiver still holds the first delivery.
    expect(receiver.received).toHaveLength(0);
    expect(sandbox.deliveries(id).filter((d) => d.finishedAt === null)).toHaveLength(6);
    await expect.poll(() => receiver.held).toBe(1); // in order: the second waits for the first
    receiver.release();
    await sandbox.idle();
    expect(receiver.received.map((r) => r.json.object_attributes.note ?? r.json.object_attributes.action)).toEqual(['open', 'note 0', 'note 1', 'note 2', 'note 3', 'note 4']);
  });

  it('gives up on a slow receiver after the timeout and records it', async () => {
    await sandbox.close();
    sandbox = await startSandbox({ seed: DEMO_SEED, webhookTimeoutMs: 100 });
    const { id } = sandbox.addHook(P, { url: receiver.url });
    receiver.respondWith(200, 1000);
    await openMr();
    await sandbox.idle();
    expect(sandbox.deliveries(id)[0]).toMatchObject({ status: null, error: 'timeout after 100 ms' });
  });

  it('X-Gitlab-Event-UUID: one per hook per request, recycled from a request made by a webhook receiver', async () => {
    const other = await startHookReceiver();
    try {
      sandbox.addHook(P, { url: receiver.url });
      sandbox.addHook(P, { url: other.url });
      const iid = await openMr();
      await sandbox.idle();
      const [a] = receiver.received;
      const [b] = other.received;
      expect(a?.headers['x-gitlab-event-uuid']).toMatch(/^[0-9a-f-]{36}$/);
      expect(a?.headers['x-gitlab-event-uuid']).not.toBe(b?.headers['x-gitlab-event-uuid']);
      expect(a?.headers['idempotency-key']).not.toBe(b?.headers['idempotency-key']);
      expect(a?.body).toBe(b?.body);
      // A receiver calling the API back passes the UUID on; GitLab reuses it for every hook.
      const uuid = a?.headers['x-gitlab-event-uuid'] as string;
      const res = await fetch(`${sandbox.apiUrl}/projects/${encodeURIComponent(P)}/merge_requests/${iid}/notes`, {
        method: 'POST',
        headers: { 'PRIVATE-TOKEN': 'alice-token-0001', 'Content-Type': 'application/json', 'X-Gitlab-Event-UUID': uuid },
        body: JSON.stringify({ body: 'from a bot reacting to a hook' }),
      });
      expect(res.status).toBe(201);
      await sandbox.idle();
      expect(receiver.received[1]?.headers['x-gitlab-event-uuid']).toBe(uuid);
      expect(other.received[1]?.headers['x-gitlab-event-uuid']).toBe(uuid);
    } finally {
      await other.close();
    }
  });

  it('never writes a token or signing key to the log, even at debug level', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    await sandbox.close();
    sandbox = await startSandbox({ seed: DEMO_SEED, logger: createLogger({ name: 'sandbox-test', level: 'debug', destination }) });
    sandbox.addHook(P, { url: receiver.url, token: 'log-me-not-token', signing_token: SIGNING });
    sandbox.addHook(P, { url: `http://127.0.0.1:${await closedPort()}/x?token=log-me-not-token` });
    await openMr();
    await sandbox.idle();
    const out = lines.join('');
    expect(out).toContain('webhook delivered');
    for (const secret of ['log-me-not-token', SIGNING, 'dave-token-0001']) expect(out).not.toContain(secret);
  });

  it('only sends the events a hook subscribed to', async () => {
    sandbox.addHook(P, { url: receiver.url, merge_requests_events: false, note_events: true });
    const iid = await openMr();
    await client('alice-token-0001').MergeRequestNotes.create(P, iid, 'hi');
    await sandbox.idle();
    expect(receiver.received.map((r) => r.headers['x-gitlab-event'])).toEqual(['Note Hook']);
  });
});
