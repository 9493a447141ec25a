import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createEventVerifier, parseElevationEvent, type AnyElevationEvent } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createSigningBus } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { createLogger, createRegistry } from '@jit/observability';
import { SubstrateRejected } from '@jit/substrates';
import { createMemorySubstrate, type MemorySubstrate } from '@jit/substrates/testing';
import { waitFor } from '@jit/testing';
import { createRevoker, type Revoker } from './revoker';

const SHA = 'f0e1d2c3b4a5968778695a4b3c2d1e0f12345678';
const gateKey = createTestSigningKey();
const issuerKey = createTestSigningKey();
const strangerKey = createTestSigningKey();
const revokerKey = createTestSigningKey();
const trust = {
  trust: { gate: createEventVerifier([gateKey.signer.publicKey]), issuer: createEventVerifier([issuerKey.signer.publicKey]), revoker: createEventVerifier([revokerKey.signer.publicKey]) },
};
const bus = () => createMemoryBus();
type Bus = ReturnType<typeof bus>;

function lookup(...subs: MemorySubstrate[]) {
  return {
    forHandle: (h: { kind: string; instance?: string }) => {
      const s = subs.find((x) => x.name === (h.instance ?? h.kind));
      if (!s) throw new Error(`no substrate ${h.kind}`);
      return s;
    },
    list: () => subs,
  };
}

async function events(b: Bus): Promise<AnyElevationEvent[]> {
  const out: AnyElevationEvent[] = [];
  await b.replay(TOPIC_ELEVATIONS, (m) => {
    const p = parseElevationEvent(m.event);
    if (p.ok) out.push(p.event);
  });
  return out;
}
const ofType = async (b: Bus, type: string) => (await events(b)).filter((e) => e.type === type);

/** Issues on the substrate and publishes `granted` with the given expiry. */
async function grant(b: Bus, s: MemorySubstrate, n: number, expiresAt: number) {
  const elevationId = `gl-7-${n}`;
  const grantId = `${elevationId}-${SHA}`;
  const issued = await s.issue({ grantId, elevationId, requester: 'carol', target: 'orders-db', scopeName: 'write', scope: { access: 'write' }, connection: {}, ttlSeconds: 3600 });
  const handle = { ...issued.handle, expiresAt: new Date(expiresAt).toISOString() };
  const event = issuerKey.signer.sign(
    sampleEvent(EVENT_TYPES.granted, { elevationId, grantId, handle, substrate: s.name, issuedAt: new Date().toISOString(), expiresAt: new Date(expiresAt).toISOString() }),
  );
  await b.publish(TOPIC_ELEVATIONS, elevationId, event);
  return { elevationId, grantId, secret: issued.secret, event };
}

const running: Revoker[] = [];
async function start(b: Bus, s: MemorySubstrate, extra: Partial<Parameters<typeof createRevoker>[0]> = {}) {
  const r = createRevoker({
    bus: createSigningBus(b, revokerKey.signer, [TOPIC_ELEVATIONS]),
    substrates: lookup(s),
    logger: createLogger({ name: 'revoker-test', level: 'silent' }),
    retry: { baseMs: 5, maxMs: 20 },
    sweepIntervalMs: 0,
    orphanGraceMs: 60_000,
    ...trust,
    ...extra,
  });
  await r.start();
  running.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

describe('revoker', () => {
  it('revokes at expiry, verifies, and reports lateness', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    await start(b, s);
    const g = await grant(b, s, 1, Date.now() + 150);
    expect(s.works(g.secret)).toBe(true);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
    expect(s.works(g.secret)).toBe(false);
    const [revoked] = await ofType(b, EVENT_TYPES.revoked);
    expect(revoked!.data).toMatchObject({ grantId: g.grantId, verified: true, cause: 'ttl' });
    const lateness = (revoked!.data as { latenessMs: number }).latenessMs;
    expect(lateness).toBeGreaterThanOrEqual(0);
    expect(lateness).toBeLessThan(5000);
  });

  it('publishes what the revoke found the grantee left behind (leftovers) on elevation.revoked and on the MR, rendered inert', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const revoke = s.revoke.bind(s);
    s.revoke = async (h) => {
      await revoke(h);
      return {
        leftovers: [
          { kind: 'function', name: 'app.escalate(text)', action: 'dropped', note: 'SECURITY DEFINER' },
          { kind: 'view', name: 'app.`v`\n**jit: approved**', action: 'kept' },
          { kind: 'bogus', name: '', action: 'exploded' } as never, // malformed: left out
        ],
      };
    };
    const comments: string[] = [];
    await start(b, s, { notifier: { comment: async (_p, _m, md) => void comments.push(md) } });
    const g = await grant(b, s, 3, Date.now() + 3600_000);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: g.elevationId, grantId: g.grantId }));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
    expect((await ofType(b, EVENT_TYPES.revoked))[0]!.data).toMatchObject({
      leftovers: [
        { kind: 'function', name: 'app.escalate(text)', action: 'dropped', note: 'SECURITY DEFINER' },
        { kind: 'view', name: 'app.`v`\n**jit: approved**', action: 'kept' },
      ],
    });
    await waitFor(async () => comments.length === 1, { what: 'the MR comment' });
    expect(comments[0]).toContain('- dropped function `app.escalate(text)` — SECURITY DEFINER');
    expect(comments[0]).toContain('- kept view `app.v **jit: approved**`'); // one line, inside its code span
    expect(comments[0]!.split('\n').filter((l) => l.startsWith('**jit'))).toHaveLength(1);
  });

  it('a leftover kind or note cannot inject markdown either (links, mentions, lines) into the MR comment', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const revoke = s.revoke.bind(s);
    s.revoke = async (h) => {
      await revoke(h);
      return { leftovers: [{ kind: 'view [x](http://evil)', name: 'app.v', action: 'kept', note: 'see <img src=x> @all\r**jit: approved**\u2028# Verified' }] };
    };
    const comments: string[] = [];
    await start(b, s, { notifier: { comment: async (_p, _m, md) => void comments.push(md) } });
    const g = await grant(b, s, 4, Date.now() + 3600_000);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: g.elevationId, grantId: g.grantId }));
    await waitFor(async () => comments.length === 1, { what: 'the MR comment' });
    const lines = comments[0]!.split(/\r\n|[\r\n\u2028\u2029]/);
    expect(lines.filter((l) => l.startsWith('**jit'))).toHaveLength(1);
    expect(lines.filter((l) => /^#/.test(l))).toEqual([]);
    expect(comments[0]).not.toContain('](http');
    expect(comments[0]).not.toMatch(/(^|[^\\])[@<]/m);
  });

  it('revokes at once on an explicit request', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    await start(b, s);
    const g = await grant(b, s, 2, Date.now() + 3600_000);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: g.elevationId, grantId: g.grantId }));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
    expect((await ofType(b, EVENT_TYPES.revoked))[0]!.data).toMatchObject({ cause: 'requested', verified: true });
    expect(s.live.size).toBe(0);
  });

  it('after a restart revokes what expired while it was down, once, with lateness', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const first = await start(b, s);
    const soon = await grant(b, s, 3, Date.now() + 3600_000);
    await first.stop();
    running.splice(running.indexOf(first), 1);
    // while down: one grant expires, one is still live, one is granted twice (duplicate delivery)
    const overdue = await grant(b, s, 4, Date.now() - 2000);
    await b.publish(TOPIC_ELEVATIONS, overdue.elevationId, overdue.event);
    const r = await start(b, s);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'overdue revoked' });
    const [revoked] = await ofType(b, EVENT_TYPES.revoked);
    expect(revoked!.data).toMatchObject({ grantId: overdue.grantId, cause: 'reconciliation' });
    expect((revoked!.data as { latenessMs: number }).latenessMs).toBeGreaterThanOrEqual(2000);
    expect(s.calls.filter((c) => c === `revoke:${overdue.grantId}`)).toHaveLength(1);
    expect([...r.live().keys()]).toEqual([soon.grantId]);
  });

  it('an overdue grant is revoked as reconciliation even when the log replay yields to timers (Kafka-like)', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const overdue = await grant(b, s, 5, Date.now() - 1000);
    const later = await grant(b, s, 6, Date.now() + 3600_000);
    // Kafka's replay hands messages over across fetches; timers run in between.
    const slow: Bus = Object.assign(Object.create(b) as Bus, {
      replay: (topic: string, handler: Parameters<Bus['replay']>[1], options?: Parameters<Bus['replay']>[2]) =>
        b.replay(
          topic,
          async (m) => {
            await handler(m);
            await new Promise((r) => setTimeout(r, 20));
          },
          options,
        ),
    });
    await start(slow, s);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'overdue revoked' });
    const [revoked] = await ofType(b, EVENT_TYPES.revoked);
    expect(revoked!.data).toMatchObject({ grantId: overdue.grantId, cause: 'reconciliation' });
    expect(s.works(later.secret)).toBe(true);
  });

  it('retries a failing revocation without going silent, then succeeds', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const registry = createRegistry();
    await start(b, s, { registry });
    s.failNext('revoke', undefined, 3);
    const g = await grant(b, s, 5, Date.now() + 50);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revokeFailed)).length >= 1, { what: 'first failure' });
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked after retries' });
    const failures = await ofType(b, EVENT_TYPES.revokeFailed);
    expect(failures.map((f) => (f.data as { attempt: number }).attempt)).toEqual([1, 2, 3]);
    expect(s.works(g.secret)).toBe(false);
    expect(await registry.getSingleMetricAsString('jit_revocations_failing')).toMatch(/jit_revocations_failing 0/);
  });

  it('logs a retriable revocation failure as a warning while a retry may fix it, as an error from the third attempt, and a final one as an error at once', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const lines: Array<{ level: number; msg: string }> = [];
    const destination = new Writable({
      write(c, _e, cb) {
        lines.push(JSON.parse(String(c)) as { level: number; msg: string });
        cb();
      },
    });
    await start(b, s, { logger: createLogger({ name: 'revoker-test', level: 'info', destination }) });
    s.failNext('revoke', undefined, 3);
    await grant(b, s, 8, Date.now() + 20);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked after retries' });
    const failed = lines.filter((l) => l.msg.startsWith('revocation failed'));
    expect(failed.map((l) => l.level)).toEqual([40, 40, 50]);
    lines.length = 0;
    s.failNext('revoke', SubstrateRejected('memory', 'revoke: role is owned by another tool'), 1);
    await grant(b, s, 9, Date.now() + 20);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 2, { what: 'second revoked' });
    expect(lines.filter((l) => l.msg.startsWith('revocation failed')).map((l) => l.level)).toEqual([50]);
  });

  it('shows failing revocations in jit_revocations_failing while they fail', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const registry = createRegistry();
    await start(b, s, { registry, retry: { baseMs: 60_000, maxMs: 60_000 } });
    s.failNext('revoke', undefined, 1);
    await grant(b, s, 6, Date.now() + 10);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revokeFailed)).length === 1, { what: 'failure' });
    expect(await registry.getSingleMetricAsString('jit_revocations_failing')).toMatch(/jit_revocations_failing 1/);
  });

  it('revokes orphans (issued, never granted) and leaves credentials being issued alone', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const orphan = await s.issue({ grantId: `gl-9-1-${SHA}`, elevationId: 'gl-9-1', requester: 'x', target: 't', scopeName: 'w', scope: { access: 'write' }, connection: {}, ttlSeconds: 600 });
    const inFlight = await s.issue({ grantId: `gl-9-2-${SHA}`, elevationId: 'gl-9-2', requester: 'x', target: 't', scopeName: 'w', scope: { access: 'write' }, connection: {}, ttlSeconds: 600 });
    await b.publish(TOPIC_ELEVATIONS, 'gl-9-2', gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId: 'gl-9-2', grantId: `gl-9-2-${SHA}` }, { time: new Date() })));
    const r = await start(b, s);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.orphanRevoked)).length === 1, { what: 'orphan revoked' });
    expect(s.works(orphan.secret)).toBe(false);
    expect(s.works(inFlight.secret)).toBe(true);
    expect((await r.sweep()).orphans).toBe(0); // idempotent: nothing left to sweep
  });

  it('an orphan revoke that reports leftovers carries them on elevation.orphan.revoked', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const revoke = s.revoke.bind(s);
    s.revoke = async (h) => {
      await revoke(h);
      return { leftovers: [{ kind: 'trigger', name: 'public.orders.trap', action: 'dropped' }] };
    };
    await s.issue({ grantId: `gl-9-3-${SHA}`, elevationId: 'gl-9-3', requester: 'x', target: 't', scopeName: 'w', scope: { access: 'write' }, connection: {}, ttlSeconds: 600 });
    await start(b, s);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.orphanRevoked)).length === 1, { what: 'orphan revoked' });
    expect((await ofType(b, EVENT_TYPES.orphanRevoked))[0]!.data).toMatchObject({ leftovers: [{ kind: 'trigger', name: 'public.orders.trap', action: 'dropped' }] });
  });

  it('a credential issued while a sweep runs is never taken for an orphan (listed before the log is read)', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    let issued: { secret: Record<string, string> } | undefined;
    // The issuer acts between the sweep's steps: approved is published, then the credential exists.
    const racing: MemorySubstrate = {
      ...s,
      listIssued: async () => {
        if (!issued) {
          await b.publish(TOPIC_ELEVATIONS, 'gl-9-3', gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId: 'gl-9-3', grantId: `gl-9-3-${SHA}` }, { time: new Date() })));
          issued = await s.issue({ grantId: `gl-9-3-${SHA}`, elevationId: 'gl-9-3', requester: 'x', target: 't', scopeName: 'w', scope: { access: 'write' }, connection: {}, ttlSeconds: 600 });
        }
        return s.listIssued!();
      },
    };
    const r2 = await start(b, racing);
    expect((await r2.sweep()).orphans).toBe(0);
    expect(s.works(issued!.secret)).toBe(true);
    expect(await ofType(b, EVENT_TYPES.orphanRevoked)).toHaveLength(0);
  });

  it('a sweep reads the log again only for a credential its own fold cannot explain', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const beingIssued = { elevationId: 'gl-7-31', grantId: `gl-7-31-${SHA}` };
    await b.publish(TOPIC_ELEVATIONS, beingIssued.elevationId, gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { ...beingIssued, ttlSeconds: 600 }, { time: new Date() })));
    await s.issue({ ...beingIssued, requester: 'carol', target: 'orders-db', scopeName: 'write', scope: { access: 'write' }, connection: {}, ttlSeconds: 600 });
    const granted = await grant(b, s, 32, Date.now() + 3600_000);
    const signing = createSigningBus(b, revokerKey.signer, [TOPIC_ELEVATIONS]);
    let replays = 0;
    const replay = signing.replay.bind(signing);
    signing.replay = (...args) => {
      replays++;
      return replay(...args);
    };
    const r = await start(b, s, { bus: signing });
    await r.confirmed();
    // the rebuild read the log once; the initial sweep and this one explain both credentials from the fold
    expect(await r.sweep()).toEqual({ orphans: 0 });
    expect(replays).toBe(1);
    // a credential no event explains is judged on the whole log, read again, and revoked
    const orphan = await s.issue({
      grantId: `gl-7-33-${SHA}`,
      elevationId: 'gl-7-33',
      requester: 'carol',
      target: 'orders-db',
      scopeName: 'write',
      scope: { access: 'write' },
      connection: {},
      ttlSeconds: 600,
    });
    expect(await r.sweep()).toEqual({ orphans: 1 });
    expect(replays).toBe(2);
    expect(s.works(orphan.secret)).toBe(false);
    expect(s.works(granted.secret)).toBe(true);
  });

  it('runs the housekeeping of each substrate on every sweep, and survives it failing', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const seen: Date[] = [];
    let fail = true;
    Object.assign(s, {
      async maintain(now: Date) {
        seen.push(now);
        if (fail) throw new Error('iam throttled');
      },
    });
    const r = await start(b, s);
    expect(seen).toHaveLength(1); // the sweep at start
    fail = false;
    await r.sweep();
    expect(seen).toHaveLength(2);
  });

  it('duplicate granted events lead to one revocation', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    await start(b, s);
    const g = await grant(b, s, 8, Date.now() + 100);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, g.event);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, issuerKey.signer.sign({ ...g.event, id: 'a-second-delivery' }));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length >= 1, { what: 'revoked' });
    await new Promise((r) => setTimeout(r, 200)); // let any wrongly scheduled duplicate fire
    expect(s.calls.filter((c) => c.startsWith('revoke:'))).toHaveLength(1);
    expect(await ofType(b, EVENT_TYPES.revoked)).toHaveLength(1);
  });

  it('answers honestly when a substrate cannot revoke early, then reports expiry', async () => {
    const b = bus();
    const s = createMemorySubstrate({ canRevokeEarly: false });
    await start(b, s);
    const g = await grant(b, s, 10, Date.now() + 400);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: g.elevationId, grantId: g.grantId }));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revokeFailed)).length === 1, { what: 'honest refusal' });
    expect((await ofType(b, EVENT_TYPES.revokeFailed))[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_REVOKER_CANNOT_REVOKE_EARLY' } });
    await waitFor(async () => (await ofType(b, EVENT_TYPES.expired)).length === 1, { what: 'expired' });
    expect(await ofType(b, EVENT_TYPES.revoked)).toHaveLength(0);
  });

  it('a forged granted with a far expiry (unsigned or by another key) neither schedules nor postpones a revocation, also after a restart', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const registry = createRegistry();
    const r = await start(b, s, { registry });
    const g = await grant(b, s, 11, Date.now() + 400);
    const far = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
    const forged = { ...g.event, id: 'forged-extension', jitsig: undefined, jitkeyid: undefined, data: { ...g.event.data, expiresAt: far, handle: { ...g.event.data.handle, expiresAt: far } } };
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, JSON.parse(JSON.stringify(forged)));
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, strangerKey.signer.sign({ ...forged, id: 'forged-by-a-stranger' }));
    // and one for a grant nobody issued: nothing is scheduled for it
    await b.publish(TOPIC_ELEVATIONS, 'gl-7-12', strangerKey.signer.sign(sampleEvent(EVENT_TYPES.granted, { elevationId: 'gl-7-12', grantId: `gl-7-12-${SHA}`, expiresAt: far })));
    await waitFor(async () => (await registry.getSingleMetricAsString('jit_events_refused_total')).includes('reason="untrusted_key"} 2'), { what: 'refusals counted' });
    expect(await registry.getSingleMetricAsString('jit_events_refused_total')).toContain('jit_events_refused_total{consumer="revoker",type="granted",reason="unsigned"} 1');
    expect([...r.live().keys()]).toEqual([g.grantId]);
    // a restart rebuilds the schedule from the log, forged events included: still due at the real expiry
    await r.stop();
    const again = await start(b, s);
    expect(again.live().get(g.grantId)?.dueAt).toBe(Date.parse(g.event.data.expiresAt));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked on time' });
    expect(s.works(g.secret)).toBe(false);
    const [revoked] = await ofType(b, EVENT_TYPES.revoked);
    expect((revoked!.data as { latenessMs: number }).latenessMs).toBeLessThan(5000);
  });

  it('a restart folds the log before checking every signature, yet no forgery in it drops, postpones or causes a revocation', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const hour = Date.now() + 3600_000;
    // while no revoker runs, the log gets real grants and forgeries aimed at them
    const a = await grant(b, s, 21, hour);
    const e = await grant(b, s, 24, hour);
    const past = new Date(Date.now() - 1000).toISOString();
    // an overdue granted for a, naming e's credential, by a key the revoker does not trust
    await b.publish(
      TOPIC_ELEVATIONS,
      a.elevationId,
      strangerKey.signer.sign({ ...a.event, id: 'forged-a', data: { ...a.event.data, handle: { ...e.event.data.handle, grantId: a.grantId, expiresAt: past }, issuedAt: past, expiresAt: past } }),
    );
    const bId = { elevationId: 'gl-7-22', grantId: `gl-7-22-${SHA}` };
    await b.publish(TOPIC_ELEVATIONS, bId.elevationId, strangerKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { ...bId, ttlSeconds: 1 }, { time: new Date() })));
    const bGrant = await grant(b, s, 22, hour);
    const c = await grant(b, s, 23, Date.now() + 1500);
    await b.publish(TOPIC_ELEVATIONS, c.elevationId, sampleEvent(EVENT_TYPES.revoked, { elevationId: c.elevationId, grantId: c.grantId })); // unsigned end
    // a grant nobody issued, overdue, naming e's credential
    const dId = { elevationId: 'gl-7-25', grantId: `gl-7-25-${SHA}` };
    await b.publish(
      TOPIC_ELEVATIONS,
      dId.elevationId,
      strangerKey.signer.sign(
        sampleEvent(EVENT_TYPES.granted, { ...dId, handle: { ...e.event.data.handle, grantId: dId.grantId, expiresAt: past }, substrate: s.name, issuedAt: past, expiresAt: past }),
      ),
    );

    const r = await start(b, s);
    // the forged end did not take c off the schedule: revoked at its expiry
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 2, { what: 'c revoked' });
    expect((await ofType(b, EVENT_TYPES.revoked))[1]!.data).toMatchObject({ grantId: c.grantId, cause: 'ttl' });
    // once confirmed: a and b due at their real expiries, the forged grant gone
    await waitFor(() => r.live().get(a.grantId)?.dueAt === hour && r.live().get(bGrant.grantId)?.dueAt === hour && !r.live().has(dId.grantId), { what: 'schedule confirmed' });
    expect(r.live().get(a.grantId)?.cause).toBe('ttl');
    expect(s.calls.filter((x) => x.startsWith('revoke:'))).toEqual([`revoke:${c.grantId}`]);
    for (const live of [a, bGrant, e]) expect(s.works(live.secret)).toBe(true);
  });

  it('a grant issued again after it ended (a stale issuer replica, a replayed signed approval) is revoked at once; a redelivery of the first granted is not', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const r = await start(b, s);
    const g = await grant(b, s, 14, Date.now() + 3600_000);
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: g.elevationId, grantId: g.grantId }));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
    // the first granted delivered again changes nothing
    await b.publish(TOPIC_ELEVATIONS, g.elevationId, g.event);
    expect(r.live().has(g.grantId)).toBe(false);
    // the same grant issued again, its own issuer-signed granted with a far expiry
    const again = await grant(b, s, 14, Date.now() + 3600_000);
    expect(s.works(again.secret)).toBe(true);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 2, { what: 'the re-issued credential revoked' });
    expect(s.works(again.secret)).toBe(false);
    expect(s.calls.filter((c) => c.startsWith('revoke:'))).toHaveLength(2);
  });

  describe('one grant issued twice with different handles (two issuer replicas)', () => {
    /** Two issuer replicas both issued grant `n`: one credential on each of two substrate instances, two `granted` events. */
    async function issuedTwice(b: Bus, n: number, expiresAt: number) {
      const [one, two] = [createMemorySubstrate({ name: 'memory:one' }), createMemorySubstrate({ name: 'memory:two' })];
      const first = await grant(b, one, n, expiresAt);
      const second = await grant(b, two, n, expiresAt);
      expect(second.grantId).toBe(first.grantId);
      expect(second.event.data.handle).not.toEqual(first.event.data.handle);
      return { one, two, first, second, substrates: lookup(one, two) };
    }
    const duplicated = async (b: Bus) => (await ofType(b, EVENT_TYPES.grantDuplicated)).map((e) => e.data as { grantId: string; issues: number; handles: unknown[]; afterEnd: boolean });

    it('revokes and verifies both credentials at TTL, and reports the duplicate once (grant.duplicated, severity high)', async () => {
      const b = bus();
      const subs = { one: createMemorySubstrate({ name: 'memory:one' }), two: createMemorySubstrate({ name: 'memory:two' }) };
      const r = await start(b, subs.one, { substrates: lookup(subs.one, subs.two) });
      const first = await grant(b, subs.one, 40, Date.now() + 300);
      const second = await grant(b, subs.two, 40, Date.now() + 300);
      expect([subs.one.works(first.secret), subs.two.works(second.secret)]).toEqual([true, true]);
      await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
      expect([subs.one.works(first.secret), subs.two.works(second.secret)]).toEqual([false, false]);
      expect(subs.one.live.size + subs.two.live.size).toBe(0);
      expect((await ofType(b, EVENT_TYPES.revoked))[0]!.data).toMatchObject({ grantId: first.grantId, verified: true, cause: 'ttl', handle: second.event.data.handle });
      const reports = await ofType(b, EVENT_TYPES.grantDuplicated);
      expect(reports).toHaveLength(1);
      expect(reports[0]).toMatchObject({ severity: 'high', data: { grantId: first.grantId, issues: 2, afterEnd: false, handles: [first.event.data.handle, second.event.data.handle] } });
      expect(r.live().size).toBe(0);
    });

    it('on request: both credentials end at once', async () => {
      const b = bus();
      const t = await issuedTwice(b, 41, Date.now() + 3600_000);
      await start(b, t.one, { substrates: t.substrates });
      await b.publish(TOPIC_ELEVATIONS, t.first.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: t.first.elevationId, grantId: t.first.grantId }));
      await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
      expect((await ofType(b, EVENT_TYPES.revoked))[0]!.data).toMatchObject({ cause: 'requested', verified: true });
      expect([t.one.works(t.first.secret), t.two.works(t.second.secret)]).toEqual([false, false]);
    });

    it('after a crash the rebuilt schedule keeps both handles; a restart does not report the duplicate again', async () => {
      const b = bus();
      const t = await issuedTwice(b, 42, Date.now() + 1500);
      const before = await start(b, t.one, { substrates: t.substrates });
      await waitFor(async () => (await duplicated(b)).length === 1, { what: 'the duplicate reported' });
      await before.stop();
      running.splice(running.indexOf(before), 1);
      const after = await start(b, t.one, { substrates: t.substrates });
      expect(after.live().get(t.first.grantId)?.handles).toHaveLength(2);
      await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked by the restarted revoker' });
      await after.confirmed();
      expect([t.one.works(t.first.secret), t.two.works(t.second.secret)]).toEqual([false, false]);
      expect(await duplicated(b)).toEqual([expect.objectContaining({ grantId: t.first.grantId, issues: 2 })]);
    });

    it('an overdue duplicate found by the rebuild (issued while the revoker was down) is revoked on both substrates and reported', async () => {
      const b = bus();
      const t = await issuedTwice(b, 43, Date.now() - 1000);
      await start(b, t.one, { substrates: t.substrates });
      await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked by reconciliation' });
      expect((await ofType(b, EVENT_TYPES.revoked))[0]!.data).toMatchObject({ cause: 'reconciliation', verified: true });
      expect(t.one.live.size + t.two.live.size).toBe(0);
      await waitFor(async () => (await duplicated(b)).length === 1, { what: 'the duplicate reported' });
    });

    it('a duplicate issued after the grant was revoked is revoked at once and reported as after the end', async () => {
      const b = bus();
      const [one, two] = [createMemorySubstrate({ name: 'memory:one' }), createMemorySubstrate({ name: 'memory:two' })];
      await start(b, one, { substrates: lookup(one, two) });
      const first = await grant(b, one, 44, Date.now() + 3600_000);
      await b.publish(TOPIC_ELEVATIONS, first.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: first.elevationId, grantId: first.grantId }));
      await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked' });
      const late = await grant(b, two, 44, Date.now() + 3600_000);
      expect(two.works(late.secret)).toBe(true);
      await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 2, { what: 'the late duplicate revoked' });
      expect(two.works(late.secret)).toBe(false);
      await waitFor(async () => (await duplicated(b)).length === 1, { what: 'the duplicate reported' });
      expect((await duplicated(b))[0]).toMatchObject({ issues: 2, afterEnd: true, handles: [late.event.data.handle] });
    });

    it('a forged grant.duplicated (not signed by a revoker key) does not silence the report', async () => {
      const b = bus();
      const t = await issuedTwice(b, 45, Date.now() + 3600_000);
      const forged = sampleEvent(EVENT_TYPES.grantDuplicated, { elevationId: t.first.elevationId, grantId: t.first.grantId, issues: 99, handles: [t.first.event.data.handle] });
      await b.publish(TOPIC_ELEVATIONS, t.first.elevationId, strangerKey.signer.sign(forged));
      const r = await start(b, t.one, { substrates: t.substrates });
      await r.confirmed();
      await waitFor(async () => (await duplicated(b)).filter((d) => d.issues === 2).length === 1, { what: 'the real report' });
    });
  });

  it('caps a granted expiry at its issue time plus the TTL the gate approved', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const r = await start(b, s);
    const elevationId = 'gl-7-13';
    const grantId = `${elevationId}-${SHA}`;
    await b.publish(TOPIC_ELEVATIONS, elevationId, gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId, grantId, ttlSeconds: 1 }, { time: new Date() })));
    const issued = await s.issue({ grantId, elevationId, requester: 'carol', target: 'orders-db', scopeName: 'write', scope: { access: 'write' }, connection: {}, ttlSeconds: 1 });
    const issuedAt = Date.now();
    const far = new Date(issuedAt + 30 * 24 * 3600 * 1000).toISOString();
    await b.publish(
      TOPIC_ELEVATIONS,
      elevationId,
      issuerKey.signer.sign(
        sampleEvent(EVENT_TYPES.granted, { elevationId, grantId, handle: { ...issued.handle, expiresAt: far }, substrate: s.name, issuedAt: new Date(issuedAt).toISOString(), expiresAt: far }),
      ),
    );
    await waitFor(() => r.live().has(grantId), { what: 'scheduled' });
    expect(r.live().get(grantId)!.dueAt).toBe(issuedAt + 1000);
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length === 1, { what: 'revoked at the approved TTL' });
    expect(s.works(issued.secret)).toBe(false);
  });
});

describe('revoker heartbeat (jit_revoker_last_sweep_timestamp_seconds, alert JitRevokerDown)', () => {
  const heartbeat = async (registry: ReturnType<typeof createRegistry>) =>
    Number(/^jit_revoker_last_sweep_timestamp_seconds (\S+)$/m.exec(await registry.getSingleMetricAsString('jit_revoker_last_sweep_timestamp_seconds'))?.[1]);

  it('moves with every completed sweep, and not while sweeps fail', async () => {
    const b = bus();
    const s = createMemorySubstrate();
    const registry = createRegistry();
    let t = 1_800_000_000_000;
    let listFails = false;
    const substrates = {
      ...lookup(s),
      list: () =>
        listFails
          ? (() => {
              throw new Error('registry unavailable');
            })()
          : [s],
    };
    const r = await start(b, s, { registry, now: () => t, substrates });
    await waitFor(async () => (await heartbeat(registry)) === t / 1000, { what: 'the first sweep at start to report' });
    t += 60_000;
    await r.sweep();
    expect(await heartbeat(registry)).toBe(t / 1000);
    listFails = true;
    const before = t;
    t += 60_000;
    await expect(r.sweep()).rejects.toThrow(/registry unavailable/);
    expect(await heartbeat(registry)).toBe(before / 1000);
  });
});

// Hostile review 5: a grant issued twice — the second `granted` (another issuer replica)
// arrives while the revoker is publishing `revoked` for the first handle. revokeEvery has already
// drained its pending handles; schedule() adds the new handle to the live grant; then finish()
// deletes the grant's handles and marks it done. The second credential is never revoked (only the
// orphan sweep, minutes later, if the substrate can list) while `revoked` says "verified". And
// the new handle was revoked on the first handle's substrate. Now each handle is revoked on its own
// substrate, and handles that arrive during the publish are revoked before the grant is finished.
describe('a duplicate granted arriving while revoked is being published', () => {
  it('the second credential is revoked too', async () => {
    const b = createMemoryBus();
    const [one, two] = [createMemorySubstrate({ name: 'memory:one' }), createMemorySubstrate({ name: 'memory:two' })];
    let second: Awaited<ReturnType<typeof grant>> | undefined;
    // the revoker's bus: its `revoked` publish is slow (a broker under load); the other replica's
    // `granted` for the same grant lands meanwhile
    const slow = new Proxy(b, {
      get(target, prop, recv) {
        if (prop !== 'publish') return Reflect.get(target, prop, recv);
        return async (topic: string, key: string, event: { type?: string }) => {
          if (event.type === EVENT_TYPES.revoked && !second) {
            second = await grant(b, two, 50, Date.now() + 3600_000);
            await new Promise((r) => setTimeout(r, 300));
          }
          return target.publish(topic, key, event as never);
        };
      },
    }) as Bus;
    await start(slow, one, { substrates: lookup(one, two) });
    const first = await grant(b, one, 50, Date.now() + 3600_000);
    await b.publish(TOPIC_ELEVATIONS, first.elevationId, sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: first.elevationId, grantId: first.grantId }));
    await waitFor(async () => (await ofType(b, EVENT_TYPES.revoked)).length >= 1, { what: 'revoked' });
    expect(second).toBeDefined();
    expect(one.works(first.secret)).toBe(false);
    // the duplicate credential must not keep working after the grant was announced revoked
    await waitFor(async () => !two.works(second!.secret), { what: 'the second credential revoked', timeoutMs: 5_000 }).catch(() => undefined);
    expect(two.works(second!.secret)).toBe(false);
  });
});
