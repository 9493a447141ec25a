// `jit events --kafka` and `jit audit verify --kafka` on the real broker: a forwarder with its own
// Kafka credentials reads jit.elevations.v1 (here: one elevation of its own among whatever else the
// shared broker holds), follows it, and verifies the chain; bad Kafka settings are refused naming the key.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, createSigningBus, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, type ElevationEventType } from '@jit/contracts';
import { createTestSigningKey, sampleData, sampleEvent } from '@jit/contracts/testing';
import { createChainHeads } from '@jit/ledger';
import { createLogger } from '@jit/observability';
import { getKafka, waitFor } from '@jit/testing';
import { runCli } from './program';

const { signer } = createTestSigningKey();

const elevationId = `gl-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
let brokers: string[];
let bus: EventBus;
let dir: string;

const eventOf = (type: ElevationEventType) => {
  const base = sampleData[type]() as { elevationId: string; grantId?: string };
  // a grant still live (the sample's expiry is in the past, and `audit verify` of the live topic
  // reports a grant past its expiry with no end as unended)
  const live = type === EVENT_TYPES.granted ? { expiresAt: new Date(Date.now() + 3_600_000).toISOString() } : {};
  return sampleEvent(type, { elevationId, ...live, ...(base.grantId ? { grantId: base.grantId.replace(base.elevationId, elevationId) } : {}) } as never);
};

async function cli(argv: string[], env: Record<string, string>, signal?: AbortSignal, onLine?: (l: string) => void) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => (out.push(l), onLine?.(l)), err: (l) => err.push(l), env, ...(signal ? { signal } : {}) });
  return { code, out, err: err.join('\n') };
}

beforeAll(async () => {
  // the shared broker `npm test` starts, or one the harness starts for this file alone
  brokers = await getKafka();
  dir = await mkdtemp(join(tmpdir(), 'jit-events-kafka-'));
  await writeFile(join(dir, 'keys.json'), JSON.stringify({ keys: [{ x: signer.publicKey.x, roles: ['gate', 'issuer', 'revoker'] }] }));
  const raw = await createKafkaBus({ brokers, clientId: 'events-kafka-test', logger: createLogger({ name: 't', level: 'silent' }) });
  await raw.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
  bus = createSigningBus(raw, signer, [TOPIC_ELEVATIONS], createChainHeads());
  for (const type of [EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted] as const) await bus.publish(TOPIC_ELEVATIONS, elevationId, eventOf(type));
}, 120_000);
afterAll(async () => {
  await bus?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('jit events --kafka', () => {
  it('exports one elevation from the broker, and the export and the live topic verify', async () => {
    const env = { KAFKA_BROKERS: brokers.join(',') };
    const exported = await cli(['events', '--kafka', '--elevation', elevationId], env);
    expect(exported.err).toBe('');
    expect(exported.code).toBe(0);
    expect(exported.out.map((l) => JSON.parse(l).type)).toEqual([EVENT_TYPES.requested, EVENT_TYPES.approved, EVENT_TYPES.granted]);
    await writeFile(join(dir, 'export.jsonl'), `${exported.out.join('\n')}\n`);
    const keys = join(dir, 'keys.json');
    expect((await cli(['audit', 'verify', join(dir, 'export.jsonl'), '--keys', keys], {})).code).toBe(0);
    const live = await cli(['audit', 'verify', '--kafka', '--elevation', elevationId, '--keys', keys], env);
    expect(live.out.join('\n')).toMatch(/^intact: 3 events of 1 elevation/);
    expect(live.code).toBe(0);
    const ocsf = await cli(['events', '--kafka', '--elevation', elevationId, '--format', 'ocsf'], env);
    expect(ocsf.out.map((l) => JSON.parse(l).type_uid)).toEqual([300599, 300599, 300501]);
  }, 120_000);

  it('follows: an event published while following arrives, and the follower stops on request', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const running = cli(['events', '--kafka', '--follow', '--elevation', elevationId], { KAFKA_BROKERS: brokers.join(',') }, controller.signal, (l) => seen.push(JSON.parse(l).type));
    await waitFor(async () => seen.length >= 3, { timeoutMs: 60_000, what: 'the existing events' });
    await bus.publish(TOPIC_ELEVATIONS, elevationId, eventOf(EVENT_TYPES.revoked));
    await waitFor(async () => seen.length >= 4, { timeoutMs: 60_000, what: 'the event published while following' });
    expect(seen.at(-1)).toBe(EVENT_TYPES.revoked);
    controller.abort();
    expect((await running).code).toBe(0);
  }, 180_000);

  it("Kafka settings are checked like a service's: SASL over plaintext is refused, the password never printed", async () => {
    const r = await cli(['events', '--kafka'], { KAFKA_BROKERS: brokers.join(','), KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'hunter2-very-secret' });
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/KAFKA_/);
    expect(r.err).not.toContain('hunter2');
    const none = await cli(['events', '--kafka'], {});
    expect(none.err).toMatch(/KAFKA_BROKERS/);
  });
});
