// The gate against redelivery: a webhook handled twice (the start-up reconciler and the real webhook,
// a redelivery after a crash) must answer GitLab's replies to repeated side effects, and a crash
// between a GitLab write and the emit of the decision must never lose the decision.
import { EVENT_TYPES, GITLAB_PUSH_EVENT_TYPE, type GitlabPushData } from '@jit/contracts';
import type { CloudEventJson } from '@jit/bus';
import { GitlabRejected, type GitlabClient } from '@jit/gitlab';
import { describe, expect, it } from 'vitest';
import { PROJECT, createFakeWorld, requestYaml, type FakeWorld } from './fixtures/fake-world';

const REQ = 'elevations/backfill.yaml';

/** What a kill -9 looks like to the handler: the process is gone right after GitLab took the write. */
class Crash extends Error {}

type Write = 'create.commitStatus' | 'create.approvalRule' | 'write.note' | 'create.issue' | 'before.note';

/**
 * The fake GitLab's client, which kills the gate once, right after GitLab accepted the given write
 * (the write happened; the handler never returns), or, for `before.note`, just before the comment.
 */
function crashingAfter(base: GitlabClient, write: Write): { client: GitlabClient; crashed: () => boolean } {
  let armed = true;
  let crashed = false;
  const after = async <T>(p: Promise<T>): Promise<T> => {
    const v = await p;
    if (armed) {
      armed = false;
      crashed = true;
      throw new Crash(`killed after ${write}`);
    }
    return v;
  };
  const client: GitlabClient = {
    ...base,
    commitStatuses: write === 'create.commitStatus' ? { create: (...a) => after(base.commitStatuses.create(...a)) } : base.commitStatuses,
    approvalRules: write === 'create.approvalRule' ? { ...base.approvalRules, create: (...a) => after(base.approvalRules.create(...a)) } : base.approvalRules,
    notes:
      write === 'write.note'
        ? { ...base.notes, create: (...a) => after(base.notes.create(...a)), edit: (...a) => after(base.notes.edit(...a)) }
        : write === 'before.note' // killed before the comment is read, so before it is written
          ? { ...base.notes, all: (...a) => after(Promise.resolve()).then(() => base.notes.all(...a)) }
          : base.notes,
    issues: write === 'create.issue' ? { ...base.issues, create: (...a) => after(base.issues.create(...a)) } : base.issues,
  };
  return { client, crashed: () => crashed };
}

/**
 * GitLab answering a repeated status the way it does for a status it still holds open, and the way
 * the sandbox used to for every status: "Cannot transition status via :succeed from :success".
 */
function refusingRepeatedStatus(w: FakeWorld): GitlabClient {
  const base = w.gl.client();
  return {
    ...base,
    commitStatuses: {
      async create(projectId, sha, input) {
        const last = w.gl.projects
          .get(Number(projectId))!
          .statuses.filter((s) => s.sha === sha && s.name === input.name)
          .at(-1);
        if (last?.state === input.state) {
          const via = input.state === 'success' ? 'succeed' : 'drop';
          throw GitlabRejected(
            `POST /api/v4/projects/${projectId}/statuses/${sha}`,
            400,
            `Cannot transition status via :${via} from :${input.state} (Reason(s): Status cannot transition via "${via}")`,
          );
        }
        return base.commitStatuses.create(projectId, sha, input);
      },
    },
  };
}

async function dataOf(w: FakeWorld, type: string) {
  return (await w.events()).filter((e) => e.type === type).map((e) => e.data as Record<string, any>);
}

describe('gate: a replayed open', () => {
  it('is handled again without error when GitLab refuses the repeated status, the rule exists and the comment is there: one request, one rule, one comment', async () => {
    const w = await createFakeWorld();
    await w.restart({ gitlab: refusingRepeatedStatus(w) });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    // The start-up reconciler's synthesized open (another event id) after the real webhook, and the real one again.
    await w.deliver(w.hook(iid, 'merge_request', 'open', 'dev'));
    await w.deliver(w.hook(iid, 'merge_request', 'open', 'dev'));
    expect(await w.types()).toEqual(['requested']);
    const mr = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    expect(mr.rules).toHaveLength(1);
    expect(w.comment(iid)).toContain('who may approve | `carol`, `dave`');
    expect(
      w.gl.projects
        .get(PROJECT)!
        .statuses.filter((s) => s.name === 'jit/policy')
        .map((s) => s.state),
    ).toEqual(['success']);
  });

  it('a rejected request replayed: GitLab refuses the repeated failed status; still one rejection, no error', async () => {
    const w = await createFakeWorld();
    await w.restart({ gitlab: refusingRepeatedStatus(w) });
    const iid = await w.open('dev', { [REQ]: requestYaml({ ttl: '9h' }) });
    await w.deliver(w.hook(iid, 'merge_request', 'open', 'dev'));
    expect(await w.types()).toEqual(['rejected']);
  });

  it('a rule another replica created between our read and our create (GitLab: name has already been taken) is taken over, not dead-lettered', async () => {
    const w = await createFakeWorld();
    const base = w.gl.client();
    let raced = false;
    await w.restart({
      gitlab: {
        ...base,
        approvalRules: {
          ...base.approvalRules,
          async create(projectId, iid, input) {
            if (!raced) {
              raced = true;
              await base.approvalRules.create(projectId, iid, input); // the other replica's
              throw GitlabRejected(`POST /api/v4/projects/${projectId}/merge_requests/${iid}/approval_rules`, 400, '{"name":["has already been taken"]}');
            }
            return base.approvalRules.create(projectId, iid, input);
          },
        },
      },
    });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    expect(raced).toBe(true);
    expect(await w.types()).toEqual(['requested']);
    expect(
      w.gl.projects
        .get(PROJECT)!
        .mrs.get(iid)!
        .rules.map((r) => r.name),
    ).toEqual(['jit:reversible-write']);
  });
});

describe('gate: a 404 at the merge commit', () => {
  it('a merge commit GitLab does not have yet is retried (no bypass reported); once there, the merge is verified and approved', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    const mergeSha = w.gl.merge(PROJECT, iid, 'maint');
    const p = w.gl.projects.get(PROJECT)!;
    const files = p.commits.get(mergeSha)!;
    p.commits.delete(mergeSha);
    const hook = w.hook(iid, 'merge_request', 'merge', 'maint');
    await expect(w.deliver(hook)).rejects.toMatchObject({ code: 'JIT_ERR_GITLAB_COMMIT_NOT_FOUND', retriable: true });
    expect(await w.types()).toEqual(['requested', 'approval.recorded']);
    p.commits.set(mergeSha, files);
    await w.deliver(hook);
    expect(await w.types()).toEqual(['requested', 'approval.recorded', 'approved']);
  });

  it('the request file missing from a merge commit GitLab has is final: reported as a bypass', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(iid, 'carol');
    const mergeSha = w.gl.merge(PROJECT, iid, 'maint');
    w.gl.projects.get(PROJECT)!.commits.get(mergeSha)!.delete(REQ);
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'maint'));
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toContain(`${REQ} does not exist at the merge commit`);
  });
});

describe('gate: a crash between a GitLab write and the emit, then redelivery', () => {
  /**
   * Opens an MR on a gate that dies right after `write` reached GitLab; while it is down the MR is
   * approved by `approvers` and merged (GitLab enforces whatever jit had set by then); a new gate
   * process then gets every webhook redelivered, in order, the open first.
   */
  async function crashThenRedeliver(write: Write, spec: Record<string, string | boolean | undefined>, approvers: string[], author = 'dev', merger = 'maint') {
    const w = await createFakeWorld();
    const crash = crashingAfter(w.gl.client(), write);
    await w.restart({ gitlab: crash.client });
    const hooks: CloudEventJson[] = [];
    const deliver = async (ev: CloudEventJson) => {
      hooks.push(ev);
      await w.deliver(ev).catch((err: unknown) => {
        if (!(err instanceof Crash)) throw err;
      });
    };
    const pushed = w.gl.push(PROJECT, 'req-x', { [REQ]: requestYaml(spec) }, author);
    const m = w.gl.openMergeRequest(PROJECT, { sourceBranch: 'req-x', author });
    await w.deliver(pushHook(w, 'req-x', pushed, author));
    await deliver(w.hook(m.iid, 'merge_request', 'open', author));
    const down = crash.crashed();
    // While the gate is down: approvals and the merge happen in GitLab; their webhooks wait on the bus.
    for (const a of approvers) {
      w.gl.approve(PROJECT, m.iid, a);
      hooks.push(w.hook(m.iid, 'merge_request', 'approval', a));
    }
    w.gl.merge(PROJECT, m.iid, merger);
    hooks.push(w.hook(m.iid, 'merge_request', 'merge', merger));
    await w.restart({ gitlab: w.gl.client() });
    for (const ev of down ? hooks : hooks.slice(1)) await w.deliver(ev);
    return { w, iid: m.iid, crashed: down };
  }

  it.each<Write>(['create.approvalRule', 'create.commitStatus', 'write.note'])(
    'crash after %s: the properly approved MR is approved at merge (to be granted), never reported as a bypass',
    async (write) => {
      const { w, iid, crashed } = await crashThenRedeliver(write, {}, ['carol']);
      expect(crashed).toBe(true);
      expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toEqual([]);
      const [approved] = await dataOf(w, EVENT_TYPES.approved);
      expect(approved).toMatchObject({ elevationId: `gl-${PROJECT}-${iid}`, approvers: ['carol'] });
      expect(await w.types()).toEqual(['requested', 'approval.recorded', 'approved']);
      expect(w.comment(iid)).toContain('Verified at merge');
    },
  );

  it.each<[string, Record<string, string | boolean | undefined>, string[], string]>([
    ['a request over its tier ceiling, approved', { ttl: '9h' }, ['carol'], 'dev'],
    ['a valid request approved by its own author only', {}, ['dev'], 'dev'],
    ['a valid request nobody approved', {}, [], 'dev'],
  ])('crash after the status of %s: never approved, reported as a bypass', async (_name, spec, approvers, author) => {
    const { w, crashed } = await crashThenRedeliver('create.commitStatus', spec, approvers, author);
    expect(crashed).toBe(true);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toHaveLength(1);
  });

  it('crash after an approval is recorded, before the comment: the redelivered approval finishes the comment', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.restart({ gitlab: crashingAfter(w.gl.client(), 'before.note').client });
    w.gl.approve(PROJECT, iid, 'carol');
    const hook = w.hook(iid, 'merge_request', 'approval', 'carol');
    await expect(w.deliver(hook)).rejects.toBeInstanceOf(Crash);
    await w.restart({ gitlab: w.gl.client() });
    await w.deliver(hook);
    expect(await w.types()).toEqual(['requested', 'approval.recorded']);
    expect(w.comment(iid)).toContain('`carol`: counted');
  });

  it.each<Write>(['create.issue', 'before.note'])('break-glass merged, killed at %s: one review issue, the grant approved once and the verdict on the MR', async (write) => {
    const w = await createFakeWorld();
    const iid = await w.open('olga', { [REQ]: requestYaml({ breakGlass: true, ttl: '1h' }) });
    const crash = crashingAfter(w.gl.client(), write);
    await w.restart({ gitlab: crash.client });
    w.gl.merge(PROJECT, iid, 'dev');
    const hook = w.hook(iid, 'merge_request', 'merge', 'dev');
    await expect(w.deliver(hook)).rejects.toBeInstanceOf(Crash);
    await w.restart({ gitlab: w.gl.client() });
    await w.deliver(hook);
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'dev')); // and the reconciler's copy
    expect(await dataOf(w, EVENT_TYPES.approved)).toHaveLength(1);
    expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toEqual([]);
    expect(w.gl.projects.get(PROJECT)!.issues).toHaveLength(1);
    expect(w.comment(iid)).toMatch(/Verified at merge[\s\S]*Post-incident review/);
  });
});

function pushHook(w: FakeWorld, branch: string, after: string, who: string): CloudEventJson {
  const user = [...w.gl.users.values()].find((u) => u.username === who)!;
  const id = `push-${after}`;
  const data: GitlabPushData = {
    kind: 'push',
    projectId: PROJECT,
    projectPath: w.gl.projects.get(PROJECT)!.path,
    branch,
    before: '0'.repeat(40),
    after,
    actor: { id: user.id, username: who, name: who },
    commits: [{ id: after, authorName: who, authorEmail: `${who}@example.com` }],
    totalCommits: 1,
    delivery: { id, receivedAt: new Date().toISOString() },
    payload: {},
  };
  return { specversion: '1.0', id, source: '/jit/webhook-ingest', type: GITLAB_PUSH_EVENT_TYPE, data };
}
