// Hostile review 5: a grant issued twice — the second `granted` (another issuer replica)
// arrives while the revoker is publishing `revoked` for the first handle. revokeEvery has already
// drained its pending handles; schedule() adds the new handle to the live grant; then finish()
// deletes the grant's handles and marks it done. The second credential is never revoked (only the
// orphan sweep, minutes later, if the substrate can list) while `revoked` says "verified". And
// the new handle was revoked on the first handle's substrate. Now each handle is revoked on its own
// substrate, and handles that arrive during the publish are revoked before the grant is finished.
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createEventVerifier, parseElevationEvent, type AnyElevationEvent } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createSigningBus } from '@jit/bus';
import { createMemoryBus } from '@jit/bus/testing';
import { createLogger } from '@jit/observability';
import { createMemorySubstrate, type MemorySubstrate } from '@jit/substrates/testing';
import { waitFor } from '@jit/testing';
import { createRevoker, type Revoker } from './revoker';

const SHA = 'f0e1d2c3b4a5968778695a4b3c2d1e0f12345678';
const gateKey = createTestSigningKey();
const issuerKey = createTestSigningKey();
const revokerKey = createTestSigningKey();
const trust = {
  trust: { gate: createEventVerifier([gateKey.signer.publicKey]), issuer: createEventVerifier([issuerKey.signer.publicKey]), revoker: createEventVerifier([revokerKey.signer.publicKey]) },
};
type Bus = ReturnType<typeof createMemoryBus>;
const lookup = (...subs: MemorySubstrate[]) => ({
  forHandle: (h: { kind: string; instance?: string }) => {
    const s = subs.find((x) => x.name === (h.instance ?? h.kind));
    if (!s) throw new Error(`no substrate ${h.kind}`);
    return s;
  },
  list: () => subs,
});
async function ofType(b: Bus, type: string): Promise<AnyElevationEvent[]> {
  const out: AnyElevationEvent[] = [];
  await b.replay(TOPIC_ELEVATIONS, (m) => {
    const p = parseElevationEvent(m.event);
    if (p.ok && p.event.type === type) out.push(p.event);
  });
  return out;
}
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
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

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
    const r = createRevoker({
      bus: createSigningBus(slow, revokerKey.signer, [TOPIC_ELEVATIONS]),
      substrates: lookup(one, two),
      logger: createLogger({ name: 'revoker-test', level: 'silent' }),
      retry: { baseMs: 5, maxMs: 20 },
      sweepIntervalMs: 0,
      orphanGraceMs: 60_000,
      ...trust,
    });
    await r.start();
    running.push(r);
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
