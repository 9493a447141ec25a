// The gate judges a request's phase before merge (pending / rejected / withdrawn) by log order
// (ledger.phase), not by event time (ledger.get().state, for readers). Hostile review 4 found the
// gate on event time: two gate replicas whose clocks differ (one handles the open and the approval,
// the other the close) left a closed MR 'pending' in the gate's eyes, the reopen was then not
// "requested again" (its earlier `requested` not spent), and an approval given before the close
// counted at merge.
import { EVENT_TYPES } from '@jit/contracts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PROJECT, createFakeWorld, requestYaml } from './fixtures/fake-world';

const REQ = 'elevations/backfill.yaml';

async function dataOf(w: Awaited<ReturnType<typeof createFakeWorld>>, type: string) {
  return (await w.events()).filter((e) => e.type === type).map((e) => e.data as Record<string, any>);
}

afterEach(() => void vi.useRealTimers());

async function closeReopenMerge(skewMs: number) {
  const t0 = Date.now();
  vi.useFakeTimers({ toFake: ['Date'] });
  // replica A (its clock `skewMs` ahead) validates the request and records carol's approval
  vi.setSystemTime(t0 + skewMs);
  const w = await createFakeWorld();
  const iid = await w.open('dev', { [REQ]: requestYaml({}) });
  await w.approve(iid, 'carol');
  // replica B (on time) handles the close, then the reopen, a moment later in real time
  vi.setSystemTime(t0 + 1_000);
  await w.close(iid, 'dev');
  w.gl.projects.get(PROJECT)!.mrs.get(iid)!.state = 'opened';
  await w.deliver(w.hook(iid, 'merge_request', 'reopen', 'dev'));
  vi.setSystemTime(t0 + skewMs + 2_000);
  await w.merge(iid);
  return { w, iid };
}

describe("close and reopen judged by log order, not by the replicas' clocks", () => {
  it("control (one clock): the reopen spends the earlier request, carol's approval before the close does not count", async () => {
    const { w } = await closeReopenMerge(0);
    expect(await w.types()).toEqual(['requested', 'approval.recorded', 'withdrawn', 'requested', 'bypass.detected']);
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
  });

  it('replica A 30 s ahead of replica B: still no approval from before the close counts after the reopen', async () => {
    const { w } = await closeReopenMerge(30_000);
    expect(w.gate.ledger.get(`gl-${PROJECT}-1`)?.state).not.toBe('approved');
    expect(await dataOf(w, EVENT_TYPES.approved)).toEqual([]);
    expect(await w.types()).toEqual(['requested', 'approval.recorded', 'withdrawn', 'requested', 'bypass.detected']);
  });
});
