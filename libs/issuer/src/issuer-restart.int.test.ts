// A credential that cannot be revoked early is minted once per approval, across a restart: the
// issuer with the real gcp-iam adapter (over gRPC to gcp-iam-contract-server, a local fake of
// IAMCredentials) on the embedded bus (the durable log on disk). The first issuer dies between
// generateAccessToken and the `granted` event; a new issuer - new adapter instance, empty memory,
// the log reopened from disk - gets the approval again and must not mint a second token.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusUnavailable, createEmbeddedBus, createSigningBus, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, parseElevationEvent, producerTrust, type AnyElevationEvent } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createLedger } from '@jit/ledger';
import { createLogger } from '@jit/observability';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the suite mints through the real gcp-iam adapter, as the issuer app composes it
import { createGcpIamSubstrate, gcpIamConfigSchema, type GcpIamSubstrate } from '@jit/substrate-gcp-iam';
// eslint-disable-next-line @nx/enforce-module-boundaries -- as above: the adapter's contract server stands in for Google
import { GcpIamContractServer } from '@jit/substrate-gcp-iam/testing';
import { waitFor } from '@jit/testing';
import { createIssuer, type Issuer } from './issuer';
import { generateAgeIdentity } from './seal';

const SA = 'orders-writer@jit-test.iam.gserviceaccount.com';
const logger = createLogger({ name: 'issuer-restart', level: 'silent' });
/** The gate's key (signs the approval) and the issuers' (both "processes" share it, as replicas do). */
const gateKey = createTestSigningKey();
const issuerKey = createTestSigningKey();

let server: GcpIamContractServer;
let dir: string;
beforeAll(async () => {
  server = new GcpIamContractServer({ serviceAccounts: [{ email: SA }] });
  await server.start();
  dir = await mkdtemp(join(tmpdir(), 'jit-issuer-restart-'));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The age keys the resolved policy registers to carol (the sample approval's requester). */
const registered: string[] = [];

/** One issuer "process": its own gcp-iam adapter (fresh memory) and ledger, on `bus`. */
async function startIssuer(bus: EventBus): Promise<{ issuer: Issuer; gcp: GcpIamSubstrate }> {
  const config = gcpIamConfigSchema.parse({ endpoint: { host: '127.0.0.1', port: server.port, insecure: true }, iamUrl: server.restUrl, resourceManagerUrl: server.restUrl, timeoutMs: 2000 });
  const gcp = createGcpIamSubstrate(config, { name: 'gcp-iam', logger });
  const issuer = createIssuer({
    bus: createSigningBus(bus, issuerKey.signer, [TOPIC_ELEVATIONS]),
    trust: producerTrust({ gate: [gateKey.signer.publicKey] }, { key: issuerKey.signer.publicKey, roles: ['issuer'] }),
    signer: issuerKey.signer,
    approvalCheck: { check: async () => undefined },
    substrates: { get: () => gcp },
    targets: {
      resolve: async () => ({
        substrate: 'gcp-iam',
        scope: { serviceAccount: SA, scopes: ['https://www.googleapis.com/auth/devstorage.read_write'] },
        connection: {},
        recipients: { carol: registered },
      }),
    },
    ledger: createLedger(),
    logger,
    retry: { attempts: 2, baseMs: 10, maxMs: 20 },
  });
  await issuer.start();
  return { issuer, gcp };
}

async function events(bus: EventBus): Promise<AnyElevationEvent[]> {
  const out: AnyElevationEvent[] = [];
  await bus.replay(TOPIC_ELEVATIONS, (m) => {
    const p = parseElevationEvent(m.event);
    if (p.ok) out.push(p.event);
  });
  return out;
}

describe('issuer restart on a substrate that cannot revoke early (gcp-iam)', () => {
  it('an issuer that died between generateAccessToken and `granted` is not followed by a second token for the same approval', async () => {
    const { recipient } = await generateAgeIdentity();
    registered.push(recipient);
    const firstBus = await createEmbeddedBus({ dir, logger });
    // The first process dies while publishing `granted`: the token exists, the log never hears of it.
    let die!: (err: Error) => void;
    const dying = new Promise<never>((_, reject) => (die = reject));
    dying.catch(() => undefined);
    const publish: EventBus['publish'] = (topic, key, event) => (event.type === EVENT_TYPES.granted ? dying : firstBus.publish(topic, key, event));
    const crashing = new Proxy(firstBus, {
      get: (bus, prop) => (prop === 'publish' ? publish : typeof Reflect.get(bus, prop) === 'function' ? Reflect.get(bus, prop).bind(bus) : Reflect.get(bus, prop)),
    });
    const first = await startIssuer(crashing);
    const approved = gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { recipient, target: 'gcs', scope: 'write', ttlSeconds: 600 } as never, { time: new Date().toISOString() })); // approved now: the grant's notAfter is its time + TTL
    await firstBus.publish(TOPIC_ELEVATIONS, approved.subject!, approved);
    await waitFor(() => server.requests.length === 1, { what: 'the first token' });
    const stopping = first.issuer.stop();
    die(BusUnavailable('the process died'));
    await stopping;
    await first.gcp.close();
    await firstBus.close();

    const bus = await createEmbeddedBus({ dir, logger }); // the log, reopened from disk
    const second = await startIssuer(bus);
    await waitFor(async () => (await events(bus)).some((e) => e.type === EVENT_TYPES.grantFailed || e.type === EVENT_TYPES.granted), { timeoutMs: 15_000, what: 'an outcome' });
    await second.issuer.stop();
    expect(server.requests, 'generateAccessToken calls for the approval').toHaveLength(1);
    const all = await events(bus);
    expect(all.filter((e) => e.type === EVENT_TYPES.granted)).toHaveLength(0);
    expect(all.find((e) => e.type === EVENT_TYPES.grantFailed)?.data).toMatchObject({ error: { code: 'JIT_ERR_ISSUER_ISSUE_INTERRUPTED', retriable: false } });
    await second.gcp.close();
    await bus.close();
  });
});
