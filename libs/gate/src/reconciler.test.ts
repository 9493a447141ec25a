// Reconciliation with GitLab: what happened while no webhook reached the gate (the gate stopped, or
// webhook-ingest down) is found from GitLab's state after a restart or at the next interval.
import { Writable } from 'node:stream';
import { EVENT_TYPES, GitlabWebhookDataSchema, TOPIC_GITLAB } from '@jit/contracts';
import type { CloudEventJson } from '@jit/bus';
import { GitlabNotFound, GitlabUnavailable, type GitlabClient, type MergeRequestListOptions } from '@jit/gitlab';
import { createLogger, createRegistry } from '@jit/observability';
import { describe, expect, it, vi } from 'vitest';
import { PROJECT, createFakeWorld, requestYaml, type FakeWorld } from './fixtures/fake-world';
import { GATE_TYPES } from './gate-context';
import { RECONCILE_OVERLAP_MS, RECONCILE_SOURCE, synthesizeWebhook } from './reconciler';

const REQ = 'elevations/backfill.yaml';
const ON = { reconcile: true, reconcileIntervalMs: 0 } as const;
const WAIT = { timeout: 15_000, interval: 10 };

async function dataOf(w: FakeWorld, type: string) {
  return (await w.events()).filter((e) => e.type === type).map((e) => e.data as Record<string, any>);
}

async function webhooksOnBus(w: FakeWorld): Promise<CloudEventJson[]> {
  const out: CloudEventJson[] = [];
  await w.bus.replay(TOPIC_GITLAB, (m) => {
    out.push(m.event);
  });
  return out;
}

/** Opens an MR on GitLab only: no webhook reaches the gate. */
function openSilently(w: FakeWorld, author: string, files: Record<string, string>, branch: string): number {
  w.gl.push(PROJECT, branch, files, author);
  return w.gl.openMergeRequest(PROJECT, { sourceBranch: branch, author }).iid;
}

function capture() {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'gate-test',
    level: 'info',
    destination: new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    }),
  });
  return { logger, lines };
}

async function metric(registry: ReturnType<typeof createRegistry>, name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return v ? Number(v.value) : 0;
}

describe('reconciliation: an MR opened or changed while no webhook arrived', () => {
  it('gets its approval rule, comment, status and elevation.requested after the gate starts', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    const iid = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'down-1');
    const registry = createRegistry();
    await w.restart({ ...ON, registry });
    await vi.waitFor(async () => expect(await w.types()).toEqual(['requested']), WAIT);
    const mr = w.gl.projects.get(PROJECT)!.mrs.get(iid)!;
    expect(mr.rules).toEqual([expect.objectContaining({ name: 'jit:reversible-write', approvalsRequired: 1 })]);
    await vi.waitFor(() => expect(w.comment(iid)).toContain('reversible-write'), WAIT);
    expect(w.gl.projects.get(PROJECT)!.statuses.at(-1)).toMatchObject({ name: 'jit/policy', state: 'success' });
    const [req] = await dataOf(w, EVENT_TYPES.requested);
    expect(req).toMatchObject({ requester: 'dev', mrIid: iid, headSha: w.gl.projects.get(PROJECT)!.branches.get('down-1')!.sha });
    // What went on the bus is what webhook-ingest would have published, marked as synthesized.
    const [synth] = await webhooksOnBus(w);
    expect(synth).toMatchObject({ id: expect.stringMatching(/^reconcile:7:1:[0-9a-f]{40}:open$/), source: RECONCILE_SOURCE, subject: `${PROJECT}!${iid}` });
    const data = GitlabWebhookDataSchema.parse(synth!.data);
    expect(data).toMatchObject({ kind: 'merge_request', action: 'open', actor: { username: 'dev' }, payload: {}, delivery: { id: synth!.id } });
    await vi.waitFor(async () => expect(await metric(registry, 'jit_gate_reconciled_total', { action: 'opened' })).toBe(1), WAIT);
  });

  it('a push while down is validated again (a new requested at the new head)', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.gate.stop();
    w.gl.push(PROJECT, w.gl.projects.get(PROJECT)!.mrs.get(iid)!.sourceBranch, { [REQ]: requestYaml({ ttl: '2h' }) }, 'dev');
    await w.restart(ON);
    await vi.waitFor(async () => expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.ttlSeconds)).toEqual([1800, 7200]), WAIT);
  });

  it('an MR closed and reopened while down is requested again', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.close(iid, 'dev');
    expect(await w.types()).toEqual(['requested', 'withdrawn']);
    await w.gate.stop();
    w.gl.projects.get(PROJECT)!.mrs.get(iid)!.state = 'opened';
    await w.restart(ON);
    await vi.waitFor(async () => expect(await w.types()).toEqual(['requested', 'withdrawn', 'requested']), WAIT);
    expect(w.gate.ledger.get(`gl-${PROJECT}-${iid}`)!.state).toBe('pending');
  });

  it('closed while down: withdrawn (by whoever closed it), once; a rejected one too; an unknown one is left alone', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const bad = await w.open('dev', { 'README.md': 'not a request' });
    await w.gate.stop();
    w.gl.close(PROJECT, iid, 'carol');
    w.gl.close(PROJECT, bad, 'dev');
    const never = openSilently(w, 'dev', { [REQ.replace('backfill', 'never')]: requestYaml({}) }, 'never');
    w.gl.close(PROJECT, never, 'dev');
    await w.restart(ON);
    await vi.waitFor(async () => expect(await w.types()).toEqual(['requested', 'rejected', 'withdrawn', 'withdrawn']), WAIT);
    const withdrawn = await dataOf(w, EVENT_TYPES.withdrawn);
    expect(withdrawn.map((d) => [d.mrIid, d.by])).toEqual([
      [iid, 'carol'],
      [bad, 'dev'],
    ]);
    expect(await w.gate.reconcile()).toMatchObject({ closed: 0, skipped: 3 });
  });

  it('approvals given while down need no event, but the comment shows them, judged as at merge', async () => {
    const w = await createFakeWorld({ tier: 'free' });
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.gate.stop();
    w.gl.approve(PROJECT, iid, 'carol');
    w.gl.approve(PROJECT, iid, 'mallory');
    w.gl.approve(PROJECT, iid, 'dave', new Date(Date.now() - 3600_000)); // dated before the request was validated
    await w.restart(ON);
    const summary = await w.gate.reconcile();
    expect(summary).toMatchObject({ opened: 0, merged: 0, complete: true });
    await vi.waitFor(() => {
      const body = w.comment(iid);
      expect(body).toMatch(/`carol`: counted/);
      expect(body).toMatch(/`mallory`: not counted/);
      expect(body).toMatch(/`dave`: not counted — given before the last change/);
    }, WAIT);
    expect(await w.types()).toEqual(['requested']);
    // Once shown, the same approvals do not edit the comment again.
    const edits = w.gl.calls.filter((c) => c === 'edit.note').length;
    expect(await w.gate.reconcile()).toMatchObject({ approvals: 0, skipped: 1 });
    expect(w.gl.calls.filter((c) => c === 'edit.note').length).toBe(edits);
  });
});

describe('reconciliation: an MR merged while no webhook arrived', () => {
  async function mergedWhileDown(approvers: string[]) {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({ scope: 'ddl', ttl: '1h', riskTier: 'semi-destructive', rollbackPlan: 'drop the index again' }) });
    await w.gate.stop();
    for (const a of approvers) w.gl.approve(PROJECT, iid, a);
    const mergeSha = w.gl.merge(PROJECT, iid);
    return { w, iid, mergeSha };
  }

  it('with two eligible approvals: elevation.approved exactly once, whatever runs twice or arrives late', async () => {
    const { w, iid, mergeSha } = await mergedWhileDown(['erin', 'frank']);
    await w.restart(ON);
    await vi.waitFor(async () => expect(await w.types()).toEqual(['requested', 'approved']), WAIT);
    const [approved] = await dataOf(w, EVENT_TYPES.approved);
    expect(approved).toMatchObject({ grantId: `gl-${PROJECT}-${iid}-${mergeSha}`, approvers: ['erin', 'frank'], mergeSha });
    await vi.waitFor(() => expect(w.comment(iid)).toContain('Verified at merge'), WAIT);
    // A second run in the same process, a run after another restart, then the real webhook, late.
    expect(await w.gate.reconcile()).toMatchObject({ merged: 0, opened: 0 });
    await w.restart(ON);
    expect(await w.gate.reconcile()).toMatchObject({ merged: 0, opened: 0 });
    await w.deliver(w.hook(iid, 'merge_request', 'merge', 'dev'));
    expect(await w.types()).toEqual(['requested', 'approved']);
    expect((await webhooksOnBus(w)).filter((e) => e.id.endsWith(':merge'))).toHaveLength(1);
  });

  it('without approvals: the synthesized merge is re-verified from GitLab and refused (bypass, nothing issued)', async () => {
    const { w, iid } = await mergedWhileDown([]);
    await w.restart(ON);
    await vi.waitFor(async () => expect(await w.types()).toEqual(['requested', 'bypass.detected']), WAIT);
    const [bypass] = await dataOf(w, EVENT_TYPES.bypassDetected);
    expect(bypass!.reasons.join(' ')).toMatch(/0 of 2 required/);
    await vi.waitFor(() => expect(w.comment(iid)).toContain('nothing will be issued'), WAIT);
  });

  it('with one eligible approval of two: refused too', async () => {
    const { w } = await mergedWhileDown(['erin']);
    await w.restart(ON);
    await vi.waitFor(async () => expect(await w.types()).toEqual(['requested', 'bypass.detected']), WAIT);
    expect((await dataOf(w, EVENT_TYPES.bypassDetected))[0]!.reasons.join(' ')).toMatch(/1 of 2 required/);
  });

  it('opened and merged while down: reported as a bypass (never validated), never approved', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    const iid = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'down-2');
    w.gl.approve(PROJECT, iid, 'carol');
    w.gl.merge(PROJECT, iid);
    await w.restart(ON);
    await vi.waitFor(async () => expect(await w.types()).toEqual(['bypass.detected']), WAIT);
    expect((await dataOf(w, EVENT_TYPES.bypassDetected))[0]!.reasons.join(' ')).toMatch(/no validated request on record/);
  });

  it('a synthesized merge for an MR GitLab says is open is ignored (never trusted)', async () => {
    const w = await createFakeWorld();
    const iid = await w.open('dev', { [REQ]: requestYaml({}) });
    const project = await w.gl.client().projects.show(PROJECT);
    const mr = await w.gl.client().mergeRequests.show(PROJECT, iid);
    await w.deliver(synthesizeWebhook(project, { ...mr, state: 'merged', mergeCommitSha: 'f'.repeat(40) }, 'merge', new Date().toISOString()));
    expect(await w.types()).toEqual(['requested']);
  });
});

describe('reconciliation: idempotency and failures', () => {
  it('an MR already handled is not touched: no event, no comment, no GitLab write', async () => {
    const w = await createFakeWorld();
    const ok = await w.open('dev', { [REQ]: requestYaml({}) });
    await w.approve(ok, 'carol');
    const bad = await w.open('dev', { 'README.md': 'not a request' });
    const done = await w.open('dev', { [REQ.replace('backfill', 'other')]: requestYaml({ breakGlass: true, ttl: '1h' }) });
    await w.merge(done);
    const before = { types: await w.types(), notes: [ok, bad, done].map((i) => w.comment(i)), calls: w.gl.calls.length };
    await w.restart(ON);
    const summary = await w.gate.reconcile();
    expect(summary).toMatchObject({ opened: 0, merged: 0, approvals: 0, skipped: 3, failed: 0, complete: true });
    expect(await w.types()).toEqual(before.types);
    expect([ok, bad, done].map((i) => w.comment(i))).toEqual(before.notes);
    const writes = w.gl.calls.slice(before.calls).filter((c) => /^(create|edit|merge|approve)\./.test(c));
    expect(writes).toEqual([]);
    expect(await webhooksOnBus(w)).toEqual([]);
  });

  it('a GitLab 5xx while listing is logged, never crashes the gate or blocks webhooks, and is retried at the next interval', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    const missed = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'down-3');
    const client = w.gl.client();
    let failures = 2;
    const flaky: GitlabClient = {
      ...client,
      mergeRequests: {
        ...client.mergeRequests,
        all: async (p, o) => {
          if (failures > 0) {
            failures -= 1;
            throw GitlabUnavailable('GET /projects/7/merge_requests', 'HTTP 503', { details: { status: 503 } });
          }
          return client.mergeRequests.all(p, o);
        },
      },
    };
    const { logger, lines } = capture();
    const registry = createRegistry();
    await w.restart({ reconcile: true, reconcileIntervalMs: 60_000, gitlab: flaky, logger, registry });
    await vi.waitFor(() => expect(lines.join('')).toContain('reconciliation with GitLab failed; retried at the next interval'), WAIT);
    expect(lines.join('')).toContain('JIT_ERR_GATE_RECONCILE_FAILED');
    expect(lines.join('')).toContain('JIT_ERR_GITLAB_UNAVAILABLE');
    // Webhooks are handled meanwhile.
    const live = await w.open('dev', { [REQ.replace('backfill', 'live')]: requestYaml({}) });
    expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.mrIid)).toEqual([live]);
    // Asked by hand, it fails with a retriable error; then GitLab is back.
    await expect(w.gate.reconcile()).rejects.toMatchObject({ code: 'JIT_ERR_GATE_RECONCILE_FAILED', retriable: true });
    expect(await w.gate.reconcile()).toMatchObject({ opened: 1, complete: true });
    await vi.waitFor(async () => expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.mrIid)).toEqual([live, missed]), WAIT);
    expect(await metric(registry, 'jit_gate_reconcile_runs_total', { outcome: 'failed' })).toBe(2);
    expect(await metric(registry, 'jit_gate_reconcile_runs_total', { outcome: 'ok' })).toBe(1);
  });

  it('a bus that refuses the publish fails the run; nothing is taken as published, the next run publishes', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    const missed = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'down-6');
    let refuse = true;
    const bus = new Proxy(w.bus, {
      get(target, prop, receiver) {
        if (prop === 'publish') {
          return async (topic: string, key: string, event: CloudEventJson) => {
            if (refuse && topic === TOPIC_GITLAB) throw Object.assign(new Error('bus down'), { retriable: true });
            return target.publish(topic, key, event);
          };
        }
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    await w.restart({ bus });
    await expect(w.gate.reconcile()).rejects.toMatchObject({ code: 'JIT_ERR_GATE_RECONCILE_FAILED', message: expect.stringContaining('(Error)') });
    expect(await webhooksOnBus(w)).toEqual([]);
    refuse = false;
    expect(await w.gate.reconcile()).toMatchObject({ opened: 1 });
    await vi.waitFor(async () => expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.mrIid)).toEqual([missed]), WAIT);
  });

  it('retries on its own at the next interval after GitLab was down', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    const missed = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'down-4');
    const client = w.gl.client();
    let failures = 1;
    const flaky: GitlabClient = {
      ...client,
      projects: {
        show: async (p) => {
          if (failures-- > 0) throw GitlabUnavailable('GET /projects/7', 'HTTP 502', { details: { status: 502 } });
          return client.projects.show(p);
        },
      },
    };
    await w.restart({ reconcile: true, reconcileIntervalMs: 30, gitlab: flaky });
    await vi.waitFor(async () => expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.mrIid)).toEqual([missed]), WAIT);
    await w.gate.stop();
  });

  it('one MR GitLab refuses does not hold the others back; the run is partial and keeps its window', async () => {
    const w = await createFakeWorld();
    const first = await w.open('dev', { [REQ]: requestYaml({}) });
    const client = w.gl.client();
    const seen: MergeRequestListOptions[] = [];
    let refuse = false;
    const gitlab: GitlabClient = {
      ...client,
      mergeRequests: {
        ...client.mergeRequests,
        all: async (p, o) => {
          seen.push(o ?? {});
          return client.mergeRequests.all(p, o);
        },
        approvals: async (p, i) => {
          if (refuse && i === first) throw GitlabNotFound(`merge request ${p}!${i}`, { details: { status: 404 } });
          return client.mergeRequests.approvals(p, i);
        },
      },
    };
    await w.restart({ gitlab });
    expect(await w.gate.reconcile()).toMatchObject({ skipped: 1, complete: true });
    await w.gate.stop();
    const missed = openSilently(w, 'dev', { [REQ.replace('backfill', 'later')]: requestYaml({}) }, 'down-5');
    await w.restart({ gitlab });
    expect(await w.gate.reconcile()).toMatchObject({ opened: 1, complete: true });
    refuse = true;
    expect(await w.gate.reconcile()).toMatchObject({ failed: 1, complete: false });
    await vi.waitFor(async () => expect((await dataOf(w, EVENT_TYPES.requested)).map((r) => r.mrIid)).toEqual([first, missed]), WAIT);
    // A partial run does not move "since" on: the next one lists merges from the last good run.
    await w.gate.reconcile();
    const merged = seen.filter((o) => o.state === 'merged').map((o) => o.updatedAfter);
    expect(merged.at(-1)).toBe(merged.at(-2));
    expect(merged.at(-2)).not.toBe(merged.at(-3));
  });

  it('merges are listed since the newest gate event (minus the overlap), then since the last good run, never beyond the lookback', async () => {
    const w = await createFakeWorld();
    const client = w.gl.client();
    const seen: MergeRequestListOptions[] = [];
    const gitlab: GitlabClient = {
      ...client,
      mergeRequests: { ...client.mergeRequests, all: async (p, o) => (seen.push(o ?? {}), client.mergeRequests.all(p, o)) },
    };
    const lookback = 3 * 24 * 3600_000;
    const sinceOf = () => Date.parse(seen.filter((o) => o.state === 'merged').at(-1)!.updatedAfter!);
    // Empty book (a new install): only the overlap, so history is neither granted nor flagged.
    await w.restart({ gitlab, reconcileLookbackMs: lookback });
    let t0 = Date.now();
    await w.gate.reconcile();
    expect(sinceOf()).toBeGreaterThanOrEqual(t0 - RECONCILE_OVERLAP_MS - 1000);
    expect(sinceOf()).toBeLessThanOrEqual(Date.now() - RECONCILE_OVERLAP_MS);
    // After a good run: its start, minus the overlap.
    t0 = Date.now();
    await w.gate.reconcile();
    expect(Math.abs(sinceOf() - (t0 - RECONCILE_OVERLAP_MS))).toBeLessThan(5_000);
    // A restart with gate events in the book: the newest one, minus the overlap.
    await w.open('dev', { [REQ]: requestYaml({}) });
    const newest = Date.parse(w.gate.ledger.newestAt(GATE_TYPES)!);
    await w.restart({ gitlab, reconcileLookbackMs: lookback });
    await w.gate.reconcile();
    expect(sinceOf()).toBe(newest - RECONCILE_OVERLAP_MS);
    // Every open MR, whatever its age; merged and closed ones since the window's start.
    expect(seen.every((o) => o.orderBy === 'updated_at' && (o.state === 'opened') === (o.updatedAfter === undefined))).toBe(true);
    expect(new Set(seen.map((o) => o.state))).toEqual(new Set(['opened', 'merged', 'closed']));
  });

  it('a merge older than the listing window is left alone (the lookback bounds the work)', async () => {
    let clock = Date.now() - 10 * 24 * 3600_000;
    const w = await createFakeWorld({ now: () => new Date(clock) });
    await w.gate.stop();
    const old = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'old');
    w.gl.merge(PROJECT, old);
    clock = Date.now();
    const recent = openSilently(w, 'dev', { [REQ.replace('backfill', 'recent')]: requestYaml({}) }, 'recent');
    w.gl.merge(PROJECT, recent);
    await w.restart({ reconcile: false });
    expect(await w.gate.reconcile()).toMatchObject({ merged: 1 });
    await vi.waitFor(async () => expect((await dataOf(w, EVENT_TYPES.bypassDetected)).map((d) => d.mrIid)).toEqual([recent]), WAIT);
  });

  it('a new install (nothing in the log) neither grants nor flags merges older than the overlap', async () => {
    let clock = Date.now() - 2 * RECONCILE_OVERLAP_MS;
    const w = await createFakeWorld({ now: () => new Date(clock) });
    await w.gate.stop();
    const history = openSilently(w, 'dev', { [REQ]: requestYaml({}) }, 'history');
    w.gl.merge(PROJECT, history);
    clock = Date.now();
    await w.restart({ reconcile: false });
    expect(await w.gate.reconcile()).toMatchObject({ merged: 0 });
    expect(await dataOf(w, EVENT_TYPES.bypassDetected)).toEqual([]);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
  });

  it('more MRs than the pages it may list: the run is partial and says so', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    for (let i = 0; i < 101; i++) openSilently(w, 'dev', { [`notes/${i}.md`]: 'x' }, `many-${i}`);
    const { logger, lines } = capture();
    await w.restart({ reconcile: false, reconcileMaxPages: 1, logger });
    const summary = await w.gate.reconcile();
    expect(summary).toMatchObject({ opened: 100, complete: false });
    expect(lines.join('')).toContain('more MRs than the reconciliation lists: the oldest were not looked at');
    await vi.waitFor(async () => expect(await dataOf(w, EVENT_TYPES.rejected)).toHaveLength(100), WAIT);
  });

  it('refuses nonsense options with a named error', async () => {
    const w = await createFakeWorld();
    await expect(w.restart({ reconcileIntervalMs: -1 })).rejects.toMatchObject({ code: 'JIT_ERR_GATE_INVALID_OPTION' });
    await expect(w.restart({ reconcileLookbackMs: 0 })).rejects.toMatchObject({ code: 'JIT_ERR_GATE_INVALID_OPTION' });
    await expect(w.restart({ reconcileMaxPages: 1.5 })).rejects.toMatchObject({ code: 'JIT_ERR_GATE_INVALID_OPTION' });
  });

  it('refuses to reconcile before start (the book must be rebuilt first)', async () => {
    const w = await createFakeWorld();
    await w.gate.stop();
    await expect(w.gate.reconcile()).rejects.toMatchObject({ code: 'JIT_ERR_GATE_NOT_STARTED' });
  });
});
