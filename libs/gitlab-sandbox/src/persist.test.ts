// Sandbox persistence: a full round trip through the state file, hostile files refused with a
// clear error (and left untouched), atomic 0600 writes, and debouncing counted in writes.
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gitlab } from '@gitbeaker/rest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { JitError } from '@jit/errors';
import { createStateSaver, readStateFile, restoreState, snapshotState, writeStateFile } from './persist';
import { STATE_FORMAT_VERSION } from './persist-format';
import { startSandbox, type Sandbox } from './sandbox';
import { DEMO_SEED, startHookReceiver, type HookReceiver } from './testing';

const P = 'ops/elevations';
const HOOK_TOKEN = 'hook-secret-token-persisted';
const SIGNING = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
let dir: string;
let file: string;
const open: Sandbox[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sandbox-persist-'));
  file = join(dir, 'sandbox', 'state.json');
});
afterEach(async () => {
  vi.useRealTimers();
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function start(extra: Partial<Parameters<typeof startSandbox>[0]> = {}): Promise<Sandbox> {
  const s = await startSandbox({ seed: DEMO_SEED, persist: { file }, ...extra });
  open.push(s);
  return s;
}
const client = (s: Sandbox, token: string) => new Gitlab({ host: s.url, token });
/** The state as data (users, groups, projects, git objects, counters), for deep comparison. */
const everything = (s: Sandbox) => JSON.parse(snapshotState(s.state)) as Record<string, unknown>;
const withoutSavedAt = (doc: Record<string, unknown>) => ({ ...doc, savedAt: undefined });

async function errorOf(p: Promise<unknown>): Promise<JitError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(JitError);
    return err as JitError;
  }
  throw new Error('expected a failure');
}

describe('round trip', () => {
  let receiver: HookReceiver;
  beforeEach(async () => {
    receiver = await startHookReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('keeps everything across a restart: ids and iids continue, hooks keep their secrets', async () => {
    const a = await start();
    expect(a.persistence).toMatchObject({ restored: false, file });
    expect(a.persistence!.writes).toBe(1); // the seeded state, written at once
    a.addUser({ username: 'erin', token: 'erin-token-0001' });
    a.addGroupMember('platform', 'erin', 40);
    a.setApprovalSettings(P, { merge_requests_author_approval: true });
    const hook = a.addHook(P, { url: receiver.url, token: HOOK_TOKEN, signing_token: SIGNING, issues_events: true });

    const dave = client(a, 'dave-token-0001');
    const alice = client(a, 'alice-token-0001');
    const pid = a.project(P).id;
    // MR !1: approved, commented, status set, merged
    await dave.Branches.create(P, 'req-1', 'main');
    await dave.Commits.create(P, 'req-1', 'request', [{ action: 'create', filePath: 'elevations/one.yaml', content: 'spec: {}\n' }]);
    const mr1 = await dave.MergeRequests.create(P, 'req-1', 'main', 'first', { labels: 'jit' });
    await alice.MergeRequestApprovals.approve(P, mr1.iid);
    await alice.MergeRequestNotes.create(P, mr1.iid, 'looks fine');
    await alice.Commits.editStatus(P, mr1.sha as string, 'success', { name: 'jit/policy', description: 'ok' });
    await alice.MergeRequests.merge(P, mr1.iid);
    // MR !2: open, with an MR-level approval rule
    await dave.Branches.create(P, 'req-2', 'main');
    await dave.Commits.create(P, 'req-2', 'second', [{ action: 'create', filePath: 'elevations/two.yaml', content: 'spec: { two: true }\n' }]);
    const mr2 = await dave.MergeRequests.create(P, 'req-2', 'main', 'second');
    await alice.MergeRequestApprovals.createApprovalRule(P, 'jit:reversible-write', 1, { mergerequestIId: mr2.iid, groupIds: [a.state.groupByPath('platform')!.id] });
    const issue = await alice.Issues.create(P, 'review', { labels: 'break-glass' });
    await alice.IssueNotes.create(P, issue.iid, 'reviewed');
    await receiver.waitFor(1);
    await a.idle();

    const before = everything(a);
    await a.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'sandbox'))).mode & 0o077).toBe(0);

    // A different seed is ignored: the file wins.
    const b = await start({ seed: { users: [{ username: 'nobody', token: 'nobody-token-01' }] } });
    expect(b.persistence!.restored).toBe(true);
    expect(withoutSavedAt(everything(b))).toEqual(withoutSavedAt(before));
    const user = b.user('erin');
    expect([...user.tokens]).toEqual(['erin-token-0001']);
    expect(user.createdAt).toBeInstanceOf(Date);
    expect(b.state.groupByPath('platform')!.members.get(user.id)).toBe(40);

    const alice2 = client(b, 'alice-token-0001');
    const old = await alice2.MergeRequests.show(P, mr1.iid);
    expect(old).toMatchObject({ state: 'merged', title: 'first', labels: ['jit'], merge_commit_sha: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect((await alice2.MergeRequestApprovals.showApprovalState(P, mr2.iid)).rules).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'jit:reversible-write', approvals_required: 1 })]),
    );
    expect((await alice2.MergeRequestApprovals.showConfiguration(P, { mergerequestIId: mr1.iid })).approved_by).toEqual([
      expect.objectContaining({ user: expect.objectContaining({ username: 'alice' }) }),
    ]);
    expect((await alice2.MergeRequestNotes.all(P, mr1.iid)).map((n) => n.body)).toContain('looks fine');
    expect((await alice2.Commits.allStatuses(P, mr1.sha as string)).map((s) => s.name)).toEqual(['jit/policy']);
    expect((await alice2.IssueNotes.all(P, issue.iid)).map((n) => n.body)).toContain('reviewed');
    expect((await alice2.Repositories.allRepositoryTrees(P, { ref: 'main', path: 'elevations' })).map((e: { name: string }) => e.name)).toEqual(['one.yaml']);
    expect(await alice2.RepositoryFiles.showRaw(P, 'elevations/one.yaml', 'main')).toBe('spec: {}\n');

    // ids continue: the next MR is !3, its id and its notes' ids are new
    const seen = receiver.received.length;
    const dave2 = client(b, 'dave-token-0001');
    await dave2.Branches.create(P, 'req-3', 'main');
    await dave2.Commits.create(P, 'req-3', 'third', [{ action: 'create', filePath: 'elevations/three.yaml', content: 'x: 3\n' }]);
    const mr3 = await dave2.MergeRequests.create(P, 'req-3', 'main', 'third');
    expect(mr3.iid).toBe(mr2.iid + 1);
    expect(mr3.iid).toBe(3);
    expect(mr3.id).toBeGreaterThan(mr2.id);
    const note = await alice2.MergeRequestNotes.create(P, mr3.iid, 'new');
    expect(note.id).toBeGreaterThan(Math.max(...b.project(P).mergeRequests.flatMap((m) => m.notes.filter((n) => n.body !== 'new').map((n) => n.id))));
    expect((await alice2.Issues.create(P, 'next')).iid).toBe(issue.iid + 1);
    const [oldStatus] = await alice2.Commits.allStatuses(P, mr1.sha as string);
    const newStatus = await alice2.Commits.editStatus(P, mr3.sha as string, 'pending', { name: 'jit/policy' });
    expect(newStatus.id).toBeGreaterThan(oldStatus!.id as number);

    // the hook was restored with its secrets: the receiver gets the same token and a valid signature
    const delivered = await receiver.waitFor(seen + 1);
    const last = delivered[seen]!;
    expect(last.headers['x-gitlab-token']).toBe(HOOK_TOKEN);
    expect(last.headers['webhook-signature']).toMatch(/^v1,/);
    expect(b.project(P).hooks.map((h) => h.id)).toEqual([hook.id]);
    expect(pid).toBe(b.project(P).id);
  });

  it('never puts a token or hook secret in an error message, and the file is the only place they live', async () => {
    const a = await start();
    a.addHook(P, { url: receiver.url, token: HOOK_TOKEN });
    await a.close();
    const content = await readFile(file, 'utf8');
    expect(content).toContain(HOOK_TOKEN); // it is the state: hence mode 0600
    const doc = JSON.parse(content);
    doc.users[0].tokens = 'alice-token-0001';
    doc.projects[0].hooks[0].token = 12345;
    await writeFile(file, JSON.stringify(doc));
    const err = await errorOf(start());
    expect(err.code).toBe('JIT_ERR_SANDBOX_STATE_CORRUPT');
    expect(err.message).not.toContain('alice-token-0001');
    expect(err.message).not.toContain(HOOK_TOKEN);
    expect(err.message).toContain('users.0.tokens');
  });
});

describe('hostile and broken state files', () => {
  let valid: string;
  beforeEach(async () => {
    const a = await start();
    await client(a, 'dave-token-0001').Branches.create(P, 'req-1', 'main');
    await client(a, 'dave-token-0001')
      .MergeRequests.create(P, 'req-1', 'main', 'x')
      .catch(() => undefined);
    await a.close();
    open.length = 0;
    valid = await readFile(file, 'utf8');
  });

  /** Write `content`, start, expect the code; the file is left exactly as it was (no re-seed). */
  async function refused(content: string | Buffer, code: string, message?: RegExp): Promise<JitError> {
    await writeFile(file, content);
    const err = await errorOf(start());
    expect(err.code, err.message).toBe(code);
    expect(err.message).toContain(file);
    if (message) expect(err.message).toMatch(message);
    expect(await readFile(file)).toEqual(Buffer.isBuffer(content) ? content : Buffer.from(content));
    return err;
  }
  const edit = (fn: (doc: any) => void) => {
    const doc = JSON.parse(valid);
    fn(doc);
    return JSON.stringify(doc);
  };

  it('a truncated file is a start-up error that says to move the file away', async () => {
    const err = await refused(valid.slice(0, Math.floor(valid.length / 2)), 'JIT_ERR_SANDBOX_STATE_CORRUPT', /not valid JSON/);
    expect(err.message).toMatch(/move it away to start the sandbox afresh/);
    expect(err.retriable).toBe(false);
    await refused('', 'JIT_ERR_SANDBOX_STATE_CORRUPT', /not valid JSON/);
  });

  it('wrong types, missing fields and unknown fields are refused with the field path', async () => {
    await refused(
      edit((d) => (d.users[0].id = 'one')),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /users\.0\.id/,
    );
    await refused(
      edit((d) => delete d.projects[0].nextMrIid),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /projects\.0\.nextMrIid/,
    );
    await refused(
      edit((d) => (d.projects[0].mergeRequests[0].state = 'exploded')),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /mergeRequests\.0\.state/,
    );
    await refused(
      edit((d) => (d.projects[0].branches = { main: 'x' })),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /projects\.0\.branches/,
    );
    await refused(
      edit((d) => (d.users[0].isAdmin = true)),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /users\.0/,
    );
    await refused(
      edit((d) => (d.counters.mr = 0)),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /counters\.mr/,
    );
    await refused('[]', 'JIT_ERR_SANDBOX_STATE_CORRUPT', /not a sandbox state file/);
    await refused('{"format":"something-else","version":1}', 'JIT_ERR_SANDBOX_STATE_CORRUPT', /not a sandbox state file/);
    await refused(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'JIT_ERR_SANDBOX_STATE_CORRUPT', /not UTF-8/);
  });

  it('__proto__ keys are refused and pollute nothing', async () => {
    const hostile = valid.replace(/^\{/, '{"__proto__":{"polluted":true},').replace('"users":[{', '"users":[{"__proto__":{"admin":true},');
    expect(hostile).not.toBe(valid);
    await refused(hostile, 'JIT_ERR_SANDBOX_STATE_CORRUPT');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await refused(
      edit((d) => (d.counters = JSON.parse('{"__proto__":{"x":1}}'))),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /counters/,
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('cross-references that do not hold are refused (unknown user, missing commit, forged blob, counters behind ids)', async () => {
    await refused(
      edit((d) => (d.projects[0].mergeRequests[0].authorId = 999)),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /unknown user 999/,
    );
    await refused(
      edit((d) => (d.projects[0].mergeRequests[0].headSha = 'f'.repeat(40))),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /missing commit/,
    );
    await refused(
      edit((d) => (d.objects.blobs[0][1] = Buffer.from('forged').toString('base64'))),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /does not match its content/,
    );
    await refused(
      edit((d) => (d.objects.commits[0].message = 'rewritten history')),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /does not match its content/,
    );
    await refused(
      edit((d) => (d.projects[0].nextMrIid = 1)),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /nextMrIid/,
    );
    await refused(
      edit((d) => (d.counters.user = 2)),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /counter user/,
    );
    await refused(
      edit((d) => d.users[1].tokens.push(d.users[0].tokens[0])),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /belongs to another user/,
    );
  });

  it('an unknown or newer format version is its own error; a non-integer version is corruption', async () => {
    const err = await refused(
      edit((d) => (d.version = STATE_FORMAT_VERSION + 1)),
      'JIT_ERR_SANDBOX_STATE_VERSION',
      /format version 2/,
    );
    expect(err.message).toMatch(/Run the jit version that wrote it/);
    await refused(
      edit((d) => (d.version = '1')),
      'JIT_ERR_SANDBOX_STATE_CORRUPT',
      /version/,
    );
  });

  it('a 50 MB file is refused by the size limit before it is parsed', async () => {
    await writeFile(file, '');
    await truncate(file, 50 * 1024 * 1024);
    const err = await errorOf(start());
    expect(err.code).toBe('JIT_ERR_SANDBOX_STATE_TOO_LARGE');
    expect(err.message).toContain(file);
    expect(err.message).toContain(String(50 * 1024 * 1024));
    expect((await stat(file)).size).toBe(50 * 1024 * 1024);
    // a configured limit applies to reading and writing alike
    await writeFile(file, valid);
    expect((await errorOf(startSandbox({ persist: { file, maxBytes: 100 } }))).code).toBe('JIT_ERR_SANDBOX_STATE_TOO_LARGE');
    expect((await errorOf(writeStateFile(file, 'x'.repeat(101), 100))).code).toBe('JIT_ERR_SANDBOX_STATE_TOO_LARGE');
    expect(await readFile(file, 'utf8')).toBe(valid);
  });

  it('a directory where the file should be is a clear error, not a re-seed', async () => {
    await rm(file);
    await mkdir(file);
    const err = await errorOf(start());
    expect(err.code).toBe('JIT_ERR_SANDBOX_STATE_CORRUPT');
    expect(err.message).toMatch(/not a regular file|cannot be opened/);
  });

  it('restoreState names the file it was given and returns nothing partial', () => {
    const opts = { instanceUrl: 'http://127.0.0.1', now: () => new Date(), emit: () => undefined };
    expect(() => restoreState('{', opts, '/x/state.json')).toThrow(/\/x\/state\.json/);
    const state = restoreState(valid, opts, '/x/state.json');
    expect(state.projectByPath(P)!.mergeRequests).toHaveLength(1);
  });
});

describe('writing', () => {
  it('writes atomically: mode 0600, no temp file left, the previous file untouched when a write fails', async () => {
    await writeStateFile(file, '{"a":1}');
    await chmod(file, 0o644);
    await writeStateFile(file, '{"a":2}');
    expect(await readFile(file, 'utf8')).toBe('{"a":2}');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(join(dir, 'sandbox'))).toEqual(['state.json']);

    const blocked = join(dir, 'blocked');
    await mkdir(blocked); // rename over a directory fails
    const err = await errorOf(writeStateFile(blocked, '{"a":3}'));
    expect(err.code).toBe('JIT_ERR_SANDBOX_STATE_WRITE');
    expect(err.retriable).toBe(true);
    expect(err.message).not.toContain('"a":3');
    expect((await readdir(dir)).sort()).toEqual(['blocked', 'sandbox']);
    expect(await readStateFile(join(dir, 'absent.json'))).toBeUndefined();
  });

  it('a failed save is logged, keeps the change pending and succeeds on the next try', async () => {
    const target = join(dir, 'later', 'state.json');
    await mkdir(target, { recursive: true }); // the path is a directory for now
    const logged: string[] = [];
    let n = 0;
    const saver = createStateSaver({
      file: target,
      serialize: () => `{"n":${++n}}`,
      logger: { error: (o: { code?: string }) => logged.push(String(o.code)) } as never,
    });
    saver.changed();
    await expect(saver.flush()).rejects.toMatchObject({ code: 'JIT_ERR_SANDBOX_STATE_WRITE' });
    expect(saver.dirty).toBe(true);
    expect(saver.writes).toBe(0);
    await rm(target, { recursive: true });
    await saver.close();
    expect(saver.writes).toBe(1);
    expect(await readFile(target, 'utf8')).toBe('{"n":2}');
  });
});

describe('debounced writes (counted, not timed)', () => {
  it('N bursts of 100 changes make N writes; nothing after close', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let serialized = 0;
    const saver = createStateSaver({ file, serialize: () => `{"v":${++serialized}}`, debounceMs: 200, maxWaitMs: 1000 });
    const N = 5;
    for (let burst = 0; burst < N; burst++) {
      for (let i = 0; i < 100; i++) saver.changed();
      await vi.advanceTimersByTimeAsync(250);
      await saver.flush(); // waits for the write the timer started
    }
    expect(saver.writes).toBe(N);
    expect(serialized).toBe(N);
    expect(await readFile(file, 'utf8')).toBe(`{"v":${N}}`);
    await saver.close();
    saver.changed();
    await vi.advanceTimersByTimeAsync(2000);
    expect(saver.writes).toBe(N);
  });

  it('a never-ending stream of changes is still written, at most maxWait apart', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const saver = createStateSaver({ file, serialize: () => '{}', debounceMs: 200, maxWaitMs: 1000 });
    for (let t = 0; t < 30; t++) {
      saver.changed(); // every 100 ms: always inside the debounce window
      await vi.advanceTimersByTimeAsync(100);
    }
    await saver.close();
    // maxWait forces writes during the 3 s stream (at 1, 2 and 3 s; two of them may coalesce
    // when the disk is slower than the fake clock); a debounce alone would write once, at close
    expect(saver.writes).toBeGreaterThanOrEqual(2);
    expect(saver.writes).toBeLessThanOrEqual(3);
  });

  it('a sandbox under 5 bursts of 100 admin and API mutations writes its file at most 5 times', async () => {
    const s = await start();
    const alice = client(s, 'alice-token-0001');
    const writes0 = s.persistence!.writes;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    for (let burst = 0; burst < 5; burst++) {
      for (let i = 0; i < 100; i++) s.pushCommit({ project: P, branch: `b${burst}`, author: 'dave', files: { [`f${i}.txt`]: `${i}` } });
      await vi.advanceTimersByTimeAsync(250);
      await s.persistence!.flush();
    }
    expect(s.persistence!.writes - writes0).toBe(5);
    vi.useRealTimers();
    // a REST mutation (no admin call, no webhook) is saved too
    const before = s.persistence!.writes;
    await alice.ProjectLabels.create(P, 'persisted-label', '#00ff00');
    await vi.waitFor(() => expect(s.persistence!.writes).toBeGreaterThan(before), { timeout: 30_000, interval: 20 });
    expect(await readFile(file, 'utf8')).toContain('persisted-label');
    // reads do not write
    const after = s.persistence!.writes;
    for (let i = 0; i < 20; i++) await alice.Projects.show(P);
    await s.persistence!.flush();
    expect(s.persistence!.writes).toBe(after);
    // a change made on the records directly, without changed(), is still written at close
    s.state.users[0]!.name = 'Renamed At Close';
    await s.close();
    expect(await readFile(file, 'utf8')).toContain('Renamed At Close');
  });
});
