import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { EVENT_TYPES, TOPIC_ELEVATIONS, parseElevationEvent, type AnyElevationEvent } from '@jit/contracts';
import { FIXTURE_OTHER_RECIPIENT, FIXTURE_RECIPIENT, createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createEventVerifier, verifyCredentialSignature } from '@jit/contracts';
import { BusUnavailable, createSigningBus, type EventBus } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { createLedger } from '@jit/ledger';
import { createLogger, createRegistry, type Registry } from '@jit/observability';
import { SubstrateInvalidScope, SubstrateUnreachable } from '@jit/substrates';
import { createMemorySubstrate, type MemorySubstrate, type MemorySubstrateOptions } from '@jit/substrates/testing';
import { waitFor } from '@jit/testing';
import { ApprovalMismatch, SealFailed } from './errors';
import { createIssuer, type Issuer, type IssuerOptions, type TargetResolver } from './issuer';
import { generateAgeIdentity, openCredential } from './seal';

const gateKey = createTestSigningKey();
const issuerKey = createTestSigningKey();
const strangerKey = createTestSigningKey();
/** What every issuer here is given besides its world: trust in the gate's key, its own key, a GitLab that agrees. */
const trust = {
  trust: { gate: createEventVerifier([gateKey.signer.publicKey]), issuer: createEventVerifier([issuerKey.signer.publicKey]), revoker: createEventVerifier([]) },
  signer: issuerKey.signer,
  approvalCheck: { check: async () => undefined },
};

/** The age keys the resolved policy version registers to carol (the sample approval's requester). */
const registered: string[] = [FIXTURE_RECIPIENT];

const resolver: TargetResolver = {
  async resolve({ target, scope }) {
    if (target !== 'orders-db' || scope !== 'write') return undefined;
    return { substrate: 'memory', scope: { access: 'write' }, connection: { url: 'postgres://admin:admin-pw@127.0.0.1/db' }, recipients: { carol: registered } };
  },
};

interface World {
  bus: EventBus;
  substrate: MemorySubstrate;
  logs: string[];
  comments: string[];
  registry: Registry;
  identity: string;
  recipient: string;
  start(overrides?: Partial<IssuerOptions>): Promise<Issuer>;
  events(): Promise<AnyElevationEvent[]>;
}

async function world(substrateOptions: MemorySubstrateOptions = {}): Promise<World> {
  const bus = createMemoryBus();
  const substrate = createMemorySubstrate(substrateOptions);
  const logs: string[] = [];
  const comments: string[] = [];
  let registry = createRegistry();
  const { identity, recipient } = await generateAgeIdentity();
  registered.push(recipient);
  const destination = new Writable({
    write(chunk, _e, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const issuers: Issuer[] = [];
  return {
    bus,
    substrate,
    logs,
    comments,
    get registry() {
      return registry;
    },
    identity,
    recipient,
    async start(overrides = {}) {
      registry = createRegistry();
      // whatever bus a test hands in, what the issuer publishes leaves signed, as in the apps
      const { bus: given, ...rest } = overrides as Partial<IssuerOptions>;
      const issuer = createIssuer({
        bus: createSigningBus(given ?? bus, issuerKey.signer, [TOPIC_ELEVATIONS]),
        substrates: {
          get: (n) =>
            n === 'memory'
              ? substrate
              : (() => {
                  throw new Error(`no ${n}`);
                })(),
        },
        targets: resolver,
        ledger: createLedger(),
        logger: createLogger({ name: 'issuer-test', level: 'debug', destination }),
        notifier: { comment: async (_p, _i, md) => void comments.push(md) },
        retry: { attempts: 3, baseMs: 1, maxMs: 5 },
        registry,
        ...trust,
        ...rest,
      });
      await issuer.start();
      issuers.push(issuer);
      return issuer;
    },
    async events() {
      const out: AnyElevationEvent[] = [];
      await bus.replay(TOPIC_ELEVATIONS, (m) => {
        const p = parseElevationEvent(m.event);
        if (p.ok) out.push(p.event);
      });
      return out;
    },
  };
}

const ofType = (events: AnyElevationEvent[], type: string) => events.filter((e) => e.type === type);

/** An issuer on the world's bus with its own ledger, quiet, not started; `over` replaces options. */
const bare = (over: Partial<Parameters<typeof createIssuer>[0]> = {}) =>
  createIssuer({
    bus: createSigningBus(w.bus, issuerKey.signer, [TOPIC_ELEVATIONS]),
    substrates: { get: () => w.substrate },
    targets: resolver,
    ledger: createLedger(),
    logger: createLogger({ name: 't', level: 'silent' }),
    ...trust,
    ...over,
  });

let w: World;
beforeEach(async () => {
  w = await world();
});

async function approve(overrides: Record<string, unknown> = {}, id?: string, signer: { sign<E extends object>(e: E): E } | null = gateKey.signer) {
  // approved now: the grant's notAfter (approval time + TTL) bounds what is issued
  const unsigned = sampleEvent(EVENT_TYPES.approved, { recipient: w.recipient, ...overrides } as never, { time: new Date().toISOString(), ...(id ? { id } : {}) });
  const event = signer ? signer.sign(unsigned) : unsigned;
  await w.bus.publish(TOPIC_ELEVATIONS, event.subject!, event);
  return event;
}

describe('issuer', () => {
  it('issues once, seals the credential to the requester and never lets the secret out', async () => {
    const issuer = await w.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    const [granted] = ofType(await w.events(), EVENT_TYPES.granted);
    const data = granted!.data as { sealedCredential: string; expiresAt: string; handle: { grantId: string } };
    const secret = await openCredential(data.sealedCredential, w.identity);
    expect(w.substrate.works(secret)).toBe(true);
    expect(data.handle.grantId).toBe((granted!.data as { grantId: string }).grantId);
    expect(w.comments.join('\n')).toMatch(/granted.*until/);
    // the issuer signed what it sealed: grant, expiry and these exact bytes
    const sig = (granted!.data as { credentialSignature?: { kid: string; signature: string } }).credentialSignature!;
    const statement = {
      elevationId: (granted!.data as { elevationId: string }).elevationId,
      grantId: (granted!.data as { grantId: string }).grantId,
      expiresAt: data.expiresAt,
      sealedCredential: data.sealedCredential,
    };
    expect(verifyCredentialSignature(issuerKey.signer.publicKey, statement, sig)).toBe(true);

    const everything = [...w.logs, ...w.comments, JSON.stringify(await w.events())].join('\n');
    expect(everything).not.toContain(secret.token);
    expect(everything).not.toContain('admin-pw');
    await issuer.stop();
  });

  it('a redelivered or replayed approval never yields a second credential, also after a restart', async () => {
    const first = await w.start();
    const approved = await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    // the same event again, and another event for the same grant
    await w.bus.publish(TOPIC_ELEVATIONS, approved.subject!, approved);
    await approve({}, 'another-delivery-of-the-same-approval');
    await first.stop();
    const second = await w.start(); // rebuilds from the log
    await approve({}, 'replayed-after-restart');
    await second.stop();
    expect(w.substrate.calls.filter((c) => c.startsWith('issue:'))).toHaveLength(1);
    expect(ofType(await w.events(), EVENT_TYPES.granted)).toHaveLength(1);
  });

  it('a credential that cannot be revoked early is never issued twice for one grant: an issuer restarted mid-issue finds the attempt in the log', async () => {
    w = await world({ canRevokeEarly: false }); // as gcp-iam: a second token could not be taken back
    // The first issuer dies between the substrate's issue and the `granted` event.
    let die!: (err: Error) => void;
    const dying = new Promise<never>((_, reject) => (die = reject));
    dying.catch(() => undefined); // awaited by the publish it stands for
    const publish: EventBus['publish'] = (topic, key, event) => (event.type === EVENT_TYPES.granted ? dying : w.bus.publish(topic, key, event));
    const crashing = new Proxy(w.bus, {
      get: (bus, prop) => (prop === 'publish' ? publish : typeof Reflect.get(bus, prop) === 'function' ? Reflect.get(bus, prop).bind(bus) : Reflect.get(bus, prop)),
    });
    const first = await w.start({ bus: crashing });
    await approve();
    await waitFor(() => w.substrate.calls.some((c) => c.startsWith('issue:')), { what: 'the first issue' });
    const stopped = first.stop();
    die(BusUnavailable('the process died'));
    await stopped;

    const second = await w.start(); // replays the log: approved, grant.started, no granted
    await waitFor(async () => (await w.events()).some((e) => e.type === EVENT_TYPES.grantFailed || e.type === EVENT_TYPES.granted), { what: 'an outcome' });
    await second.stop();
    expect(
      w.substrate.calls.filter((c) => c.startsWith('issue:')),
      'issues of the grant',
    ).toHaveLength(1);
    expect(ofType(await w.events(), EVENT_TYPES.granted)).toHaveLength(0);
    expect(ofType(await w.events(), EVENT_TYPES.grantStarted)).toHaveLength(1);
    expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_ISSUE_INTERRUPTED', retriable: false } });
    expect(w.comments.join('\n')).toMatch(/grant failed.*never finished/);
  });

  it('a `granted` whose last ownership check could not reach the broker is announced on the redelivery, never issued again (an STS grant cannot be issued again after its first expiry)', async () => {
    // What a Kafka bus answers while the broker restarts: the member's heartbeat cannot be sent.
    const answers: Array<'ok' | 'broker away'> = ['ok', 'broker away'];
    const checks: string[] = [];
    const assertOwned = async (): Promise<void> => {
      const answer = answers.shift() ?? 'ok';
      checks.push(answer);
      if (answer === 'broker away') throw BusUnavailable('confirming the group membership: KafkaJSConnectionError');
    };
    const owning = new Proxy(w.bus, {
      get: (bus, prop) =>
        prop === 'subscribe'
          ? (o: Parameters<EventBus['subscribe']>[0]) => bus.subscribe({ ...o, handler: (m) => o.handler({ ...m, assertOwned }) })
          : typeof Reflect.get(bus, prop) === 'function'
            ? Reflect.get(bus, prop).bind(bus)
            : Reflect.get(bus, prop),
    });
    const issuer = await w.start({ bus: owning });
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    await issuer.stop();
    expect(checks.slice(0, 3)).toEqual(['ok', 'broker away', 'ok']); // before the issue, before the publish, on the redelivery
    expect(
      w.substrate.calls.filter((c) => c.startsWith('issue:')),
      'issues of the grant',
    ).toHaveLength(1);
    expect(ofType(await w.events(), EVENT_TYPES.granted)).toHaveLength(1);
  });

  it('a substrate that can revoke early gets no grant.started event (its adapter finds its own earlier work)', async () => {
    const issuer = await w.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    await issuer.stop();
    expect(ofType(await w.events(), EVENT_TYPES.grantStarted)).toHaveLength(0);
  });

  it('retries a retriable substrate failure, then grants', async () => {
    w.substrate.failNext('issue', undefined, 2);
    const issuer = await w.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    expect(w.substrate.calls.filter((c) => c.startsWith('issue:'))).toHaveLength(3);
    await issuer.stop();
  });

  it("gives up at an operator's attempt cap (JIT_ISSUE_ATTEMPTS) with grant.failed naming the last error, and a comment", async () => {
    w.substrate.failNext('issue', undefined, 10);
    const issuer = await w.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.grantFailed).length === 1, { what: 'grant.failed' });
    const [failed] = ofType(await w.events(), EVENT_TYPES.grantFailed);
    expect(failed!.data).toMatchObject({ attempts: 3, error: { code: 'JIT_ERR_ISSUER_RETRY_BUDGET_SPENT', retriable: false } });
    expect((failed!.data as { error: { message: string } }).error.message).toMatch(
      /substrate memory issue kept failing .*\(3 attempts; last: JIT_ERR_SUBSTRATE_UNREACHABLE: .*\) and the retry budget \(3 attempts\) is spent/,
    );
    expect(w.comments.join('\n')).toMatch(/grant failed/);
    expect(ofType(await w.events(), EVENT_TYPES.granted)).toHaveLength(0);
    await issuer.stop();
  });

  describe('retry budget by time (a share of the TTL from the approval, at most budgetMs), not by attempts', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** Handles `approved` under fake timers, a simulated second at a time, until it settles. */
    async function handleFaked(issuer: Issuer, approved: AnyElevationEvent): Promise<void> {
      let settled = false;
      const job = issuer.handle(approved).finally(() => (settled = true));
      for (let s = 0; s < 4 * 3600 && !settled; s++) {
        await vi.advanceTimersByTimeAsync(1000);
        await new Promise((r) => setImmediate(r)); // real I/O (sealing) between simulated seconds
      }
      await job;
    }

    /** The substrate fails (retriable, unreachable) until `upAt`, then issues; how often it was called, and when it issued. */
    function downUntil(upAt: number): { tries(): number; issuedAt(): number | undefined; lastTryAt(): number } {
      const issue = w.substrate.issue.bind(w.substrate);
      let tries = 0;
      let issuedAt: number | undefined;
      let lastTryAt = 0;
      w.substrate.issue = async (req) => {
        tries++;
        lastTryAt = Date.now();
        if (Date.now() < upAt) throw SubstrateUnreachable('memory', 'connection refused');
        issuedAt ??= Date.now();
        return issue(req);
      };
      return { tries: () => tries, issuedAt: () => issuedAt, lastTryAt: () => lastTryAt };
    }

    const signedApproval = (over: Record<string, unknown>) => gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { recipient: w.recipient, ...over } as never, { time: new Date().toISOString() }));

    it('a 30-minute grant outlasts a one-minute substrate outage however many attempts it takes, then is granted', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const substrate = downUntil(Date.now() + 60_000);
      const approved = signedApproval({ ttlSeconds: 1800 });
      await handleFaked(bare({ retry: { baseMs: 500, maxMs: 5000 } }), approved);
      expect(ofType(await w.events(), EVENT_TYPES.granted)).toHaveLength(1);
      expect(ofType(await w.events(), EVENT_TYPES.grantFailed)).toHaveLength(0);
      expect(substrate.tries()).toBeGreaterThan(10); // the old count (5, or the chaos run's 20 quick ones) gave up inside the outage
      // issued at the first attempt after the outage: at most one longest wait (5 s) after it
      const afterApproval = substrate.issuedAt()! - Date.parse(approved.time);
      expect(afterApproval).toBeGreaterThanOrEqual(60_000);
      expect(afterApproval).toBeLessThanOrEqual(66_000);
    });

    it('a 2-minute grant gives up once half its window is gone: grant.failed says the budget is spent and names the last error', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const substrate = downUntil(Infinity);
      const approved = signedApproval({ ttlSeconds: 120 });
      await handleFaked(bare({ retry: { baseMs: 500, maxMs: 5000 } }), approved);
      // the last attempt inside the budget; no wait that would end past it
      expect(substrate.lastTryAt() - Date.parse(approved.time)).toBeLessThanOrEqual(60_000);
      expect(substrate.lastTryAt() - Date.parse(approved.time)).toBeGreaterThan(50_000);
      const [failed] = ofType(await w.events(), EVENT_TYPES.grantFailed);
      expect(failed!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_RETRY_BUDGET_SPENT', retriable: false } });
      expect((failed!.data as { attempts: number }).attempts).toBeGreaterThan(10);
      expect((failed!.data as { error: { message: string } }).error.message).toMatch(/last: JIT_ERR_SUBSTRATE_UNREACHABLE: .*connection refused.*budget \(until /);
      expect(ofType(await w.events(), EVENT_TYPES.granted)).toHaveLength(0);
    });

    it('a long grant retries no longer than budgetMs (JIT_ISSUE_RETRY_BUDGET_MS)', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const substrate = downUntil(Infinity);
      const approved = signedApproval({ ttlSeconds: 4 * 3600 });
      await handleFaked(bare({ retry: { baseMs: 500, maxMs: 5000, budgetMs: 90_000 } }), approved);
      expect(substrate.lastTryAt() - Date.parse(approved.time)).toBeLessThanOrEqual(90_000);
      expect(substrate.lastTryAt() - Date.parse(approved.time)).toBeGreaterThan(80_000);
      expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_RETRY_BUDGET_SPENT' } });
    });
  });

  it('fails at once on a non-retriable error', async () => {
    w.substrate.failNext('issue', SubstrateInvalidScope('memory', 'scope.access must be read or write'));
    const issuer = await w.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.grantFailed).length === 1, { what: 'grant.failed' });
    expect(w.substrate.calls.filter((c) => c.startsWith('issue:'))).toHaveLength(1);
    expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ attempts: 1, error: { retriable: false } });
    await issuer.stop();
  });

  it('refuses a target the named policy version does not have', async () => {
    const issuer = await w.start();
    await approve({ target: 'payments-db' });
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.grantFailed).length === 1, { what: 'grant.failed' });
    expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_TARGET_UNRESOLVED' } });
    expect(w.substrate.calls).toEqual([]);
    await issuer.stop();
  });

  it('issues nothing when the recipient is not registered to the requester in the named policy version (a key of another user)', async () => {
    const issuer = await w.start();
    await approve({ recipient: FIXTURE_OTHER_RECIPIENT });
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.grantFailed).length === 1, { what: 'grant.failed' });
    expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_RECIPIENT_NOT_REGISTERED' } });
    expect(w.substrate.calls).toEqual([]);
    expect(ofType(await w.events(), EVENT_TYPES.granted)).toEqual([]);
    await issuer.stop();
  });

  it('revokes a credential it could not seal, and reports it without leaking it', async () => {
    const issuer = await w.start();
    // a world whose sealing fails (the schema already refuses malformed recipients upstream)
    await issuer.stop();
    const failing = bare({
      seal: async () => {
        throw SealFailed('injected');
      },
    });
    await failing.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.grantFailed).length === 1, { what: 'grant.failed' });
    expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_SEAL_FAILED' } });
    expect(w.substrate.live.size).toBe(0);
    expect(w.substrate.calls.filter((c) => c.startsWith('revoke:'))).toHaveLength(1);
    await failing.stop();
  });

  it('refuses an approval that is unsigned, signed by an untrusted key or altered after signing; counts it and keeps consuming', async () => {
    const issuer = await w.start();
    const refusedBefore = w.logs.length;
    await approve({ elevationId: 'gl-42-1', grantId: `gl-42-1-${'a'.repeat(40)}`, ttlSeconds: 30 * 24 * 3600 }, 'forged-unsigned', null);
    await approve({ elevationId: 'gl-42-2', grantId: `gl-42-2-${'a'.repeat(40)}` }, 'forged-stranger', strangerKey.signer);
    const signed = gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId: 'gl-42-3', grantId: `gl-42-3-${'a'.repeat(40)}`, recipient: w.recipient }, { time: new Date().toISOString() }));
    await w.bus.publish(TOPIC_ELEVATIONS, 'gl-42-3', { ...signed, data: { ...signed.data, ttlSeconds: 30 * 24 * 3600 } });
    await approve(); // a genuine one after them is still served
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    const events = await w.events();
    expect(ofType(events, EVENT_TYPES.granted).map((e) => (e.data as { elevationId: string }).elevationId)).toEqual(['gl-42-7']);
    expect(ofType(events, EVENT_TYPES.grantFailed)).toEqual([]);
    expect(w.substrate.calls.filter((c) => c.startsWith('issue:'))).toHaveLength(1);
    const metrics = await w.registry.getSingleMetricAsString('jit_events_refused_total');
    expect(metrics).toContain('jit_events_refused_total{consumer="issuer",type="approved",reason="unsigned"} 1');
    expect(metrics).toContain('jit_events_refused_total{consumer="issuer",type="approved",reason="untrusted_key"} 1');
    expect(metrics).toContain('jit_events_refused_total{consumer="issuer",type="approved",reason="bad_signature"} 1');
    const refusals = w.logs.slice(refusedBefore).filter((l) => l.includes('not signed by a trusted gate key'));
    expect(refusals).toHaveLength(3);
    await issuer.stop();
  });

  it("refuses an approval signed by a key it trusts for another role (its own issuer key, a revoker's): only a gate key approves", async () => {
    const revokerKey = createTestSigningKey();
    const issuer = await w.start({ trust: { ...trust.trust, revoker: createEventVerifier([revokerKey.signer.publicKey]) } });
    await approve({ elevationId: 'gl-42-4', grantId: `gl-42-4-${'a'.repeat(40)}` }, 'by-issuer-key', issuerKey.signer);
    await approve({ elevationId: 'gl-42-5', grantId: `gl-42-5-${'a'.repeat(40)}` }, 'by-revoker-key', revokerKey.signer);
    await approve(); // the gate's, after them, is served
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.granted).length === 1, { what: 'granted' });
    expect(ofType(await w.events(), EVENT_TYPES.granted).map((e) => (e.data as { elevationId: string }).elevationId)).toEqual(['gl-42-7']);
    expect(w.substrate.calls.filter((c) => c.startsWith('issue:'))).toHaveLength(1);
    const metrics = await w.registry.getSingleMetricAsString('jit_events_refused_total');
    expect(metrics).toContain('jit_events_refused_total{consumer="issuer",type="approved",reason="untrusted_key"} 2');
    await issuer.stop();
  });

  it('issues nothing when GitLab contradicts the approval, and says why in grant.failed', async () => {
    const issuer = bare({ approvalCheck: { check: async (d) => void (await Promise.reject(ApprovalMismatch(d.elevationId, 'the recipient is not the request file’s'))) } });
    await issuer.start();
    await approve();
    await waitFor(async () => ofType(await w.events(), EVENT_TYPES.grantFailed).length === 1, { what: 'grant.failed' });
    expect(ofType(await w.events(), EVENT_TYPES.grantFailed)[0]!.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_APPROVAL_MISMATCH', retriable: false } });
    expect(w.substrate.calls).toEqual([]);
    await issuer.stop();
  });

  it("passes the grant's absolute expiry (the approval's time + the approved TTL) as notAfter, on every attempt, so a late issue never outlives the grant", async () => {
    const seen: Array<{ ttlSeconds: number; notAfter?: string }> = [];
    const recording: MemorySubstrate = { ...w.substrate, issue: async (req) => (seen.push({ ttlSeconds: req.ttlSeconds, notAfter: req.notAfter }), w.substrate.issue(req)) };
    w.substrate.failNext('issue'); // a retry carries the same notAfter, not a later one
    const approvedAt = new Date(Date.now() - 60_000).toISOString();
    const approved = gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { recipient: w.recipient, ttlSeconds: 600 }, { time: approvedAt }));
    await bare({ substrates: { get: () => recording }, retry: { attempts: 3, baseMs: 1, maxMs: 5 } }).handle(approved);
    const notAfter = new Date(Date.parse(approvedAt) + 600_000).toISOString();
    expect(seen).toEqual([
      { ttlSeconds: 600, notAfter },
      { ttlSeconds: 600, notAfter },
    ]);
  });

  it('a second issuer of the same approval replaces the credential, and the read model serves the new one, not the dead one', async () => {
    // Like PostgreSQL (ALTER ROLE … PASSWORD on a role that exists), a second issue of a grant
    // rotates its secret: the first credential stops working.
    const rotating: MemorySubstrate = { ...w.substrate, issue: async (req) => ((w.substrate.live as Map<string, unknown>).delete(req.grantId), w.substrate.issue(req)) };
    const make = () => bare({ substrates: { get: () => rotating } });
    const approved = gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { recipient: w.recipient }, { time: new Date().toISOString() }));
    await make().handle(approved);
    await make().handle(approved); // its ledger has not seen the first `granted` yet
    const granted = ofType(await w.events(), EVENT_TYPES.granted);
    expect(granted).toHaveLength(2);
    const readModel = createLedger();
    await w.bus.replay(TOPIC_ELEVATIONS, (m) => void readModel.apply(m.event));
    const served = readModel.get(approved.data.elevationId)!;
    expect(served.state).toBe('granted');
    expect(w.substrate.works(await openCredential(served.sealedCredential!, w.identity))).toBe(true);
    expect(served.credentialSignature).toEqual((granted[1]!.data as { credentialSignature: unknown }).credentialSignature);
  });
});
