// deploy/kafka/acls.yaml on a locked-down broker: ACLs enforced (StandardAuthorizer, nothing allowed
// without an ACL), the topics of topics.yaml created beforehand by an administrator, one SCRAM user
// per service holding exactly the ACLs the file grants it. Each service's principal then does on
// the bus what that service does in code (ensure its topics, its groups, replays, publishes, the
// per-process ephemeral groups it deletes at stop) — so the documented ACLs are enough — and a
// principal without a grant is refused with a message pointing at the ACL docs.
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { TOPIC_ELEVATIONS, TOPIC_GITLAB, TOPIC_NOTIFY_DEAD_LETTERS, TOPIC_SINK_DEAD_LETTERS } from '@jit/contracts';
import { createLogger } from '@jit/observability';
import { REPO_ROOT, createTestPki, startKafka, type KafkaHandle } from '@jit/testing';
import type { BusMessage, EventBus, TopicSpec } from './event-bus';
import { createKafkaBus } from './kafka-bus';
import { testEvent } from './testing/contract-suite';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, ResourcePatternTypes, logLevel } = kafkajs;

interface AclDef {
  type: 'topic' | 'group' | 'cluster';
  name?: string;
  patternType?: 'literal' | 'prefix';
  operations: string[];
}
const deploy = (file: string) => parse(readFileSync(join(REPO_ROOT, 'deploy', 'kafka', file), 'utf8'));
const principals = deploy('acls.yaml').principals as Record<string, { user: string; acls: AclDef[] }>;
const topics = deploy('topics.yaml').topics as { name: string; partitions: number; config?: Record<string, string> }[];
const passwords = Object.fromEntries(Object.values(principals).map((p) => [p.user, `pw-${randomBytes(9).toString('hex')}`]));

const RETENTION = (name: string) => Number(topics.find((t) => t.name === name)?.config?.['retention.ms']);
/** The topic specs the apps ensure at start (apps/*: GATE_TOPIC_SPECS, ISSUER_/REVOKER_TOPIC_SPECS, ingest). */
const ELEVATIONS: TopicSpec = { topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: RETENTION(TOPIC_ELEVATIONS) };
const GITLAB: TopicSpec = { topic: TOPIC_GITLAB, partitions: 12, retentionMs: RETENTION(TOPIC_GITLAB) };

const OPERATION: Record<string, number> = {
  Read: AclOperationTypes.READ,
  Write: AclOperationTypes.WRITE,
  Create: AclOperationTypes.CREATE,
  Delete: AclOperationTypes.DELETE,
  Alter: AclOperationTypes.ALTER,
  Describe: AclOperationTypes.DESCRIBE,
  DescribeConfigs: AclOperationTypes.DESCRIBE_CONFIGS,
  AlterConfigs: AclOperationTypes.ALTER_CONFIGS,
  IdempotentWrite: AclOperationTypes.IDEMPOTENT_WRITE,
};
const RESOURCE = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP, cluster: AclResourceTypes.CLUSTER };

const logger = createLogger({ name: 'bus-acl-test', level: 'silent' });
let kafka: KafkaHandle;
let ca: string;
const buses: EventBus[] = [];

beforeAll(async () => {
  const pki = await createTestPki();
  ca = readFileSync(pki.caFile, 'utf8');
  kafka = await startKafka({
    secure: { pki, acls: true, scramUsers: Object.entries(passwords).map(([name, password]) => ({ name, password })) },
  });
  // the administrator (PLAINTEXT here is the super user) prepares the cluster from the docs
  const admin = new Kafka({ brokers: kafka.brokers, clientId: 'acl-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await vi.waitFor(
      () =>
        admin.createTopics({
          waitForLeaders: true,
          topics: topics.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            // one broker: replication 1 and min.insync.replicas 1 instead of the file's 3 and 2
            configEntries: Object.entries(t.config ?? {})
              .filter(([k]) => k !== 'min.insync.replicas')
              .map(([name, value]) => ({ name, value: String(value) })),
          })),
        }),
      { timeout: 60_000, interval: 500 },
    );
    const acl = Object.values(principals).flatMap((p) =>
      p.acls.flatMap((a) =>
        a.operations.map((op) => ({
          resourceType: RESOURCE[a.type],
          resourceName: a.type === 'cluster' ? 'kafka-cluster' : a.name!,
          resourcePatternType: a.patternType === 'prefix' ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
          principal: `User:${p.user}`,
          host: '*',
          operation: OPERATION[op]!,
          permissionType: AclPermissionTypes.ALLOW,
        })),
      ),
    );
    await admin.createAcls({ acl });
    // KRaft applies ACLs through the metadata log: wait until the broker's authorizer has them all
    const any = { resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY };
    await vi.waitFor(async () => expect((await admin.describeAcls(any)).resources.flatMap((r) => r.acls)).toHaveLength(acl.length), { timeout: 30_000, interval: 200 });
  } finally {
    await admin.disconnect();
  }
  // the first group on a fresh broker meets NOT_COORDINATOR while __consumer_offsets loads: load it now
  const warm = new Kafka({ brokers: kafka.brokers, clientId: 'acl-warmup', logLevel: logLevel.NOTHING }).consumer({ groupId: 'acl-warmup' });
  let joinedGroup = false;
  warm.on(warm.events.GROUP_JOIN, () => void (joinedGroup = true));
  await warm.connect();
  await warm.subscribe({ topics: [TOPIC_GITLAB] });
  await warm.run({ eachMessage: async () => undefined });
  await vi.waitFor(() => expect(joinedGroup).toBe(true), { timeout: 60_000, interval: 100 });
  await warm.disconnect();
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await kafka?.dispose();
});

async function busAs(service: string): Promise<EventBus> {
  const user = principals[service]!.user;
  const bus = await createKafkaBus({
    brokers: kafka.saslSslBrokers,
    clientId: user, // the default KAFKA_CLIENT_ID of each service is its user name here
    security: { tls: { ca }, sasl: { mechanism: 'scram-sha-512', username: user, password: () => passwords[user]! } },
    logger,
  });
  buses.push(bus);
  return bus;
}

/** Subscribes and waits for the first assignment, as the services' readiness does. */
async function joined(bus: EventBus, topic: string, groupId: string, seen: BusMessage[], extra: { startFrom?: 'latest'; ephemeral?: boolean } = {}) {
  let assigned = false;
  const sub = await bus.subscribe({ topic, groupId, ...extra, handler: async (m) => void seen.push(m), onAssignment: () => void (assigned = true) });
  await vi.waitFor(() => expect(assigned).toBe(true), { timeout: 60_000, interval: 100 });
  return sub;
}

async function groups(): Promise<string[]> {
  const admin = new Kafka({ brokers: kafka.brokers, clientId: 'acl-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.listGroups()).groups.map((g) => g.groupId);
  } finally {
    await admin.disconnect();
  }
}

const waitDelivered = (seen: BusMessage[], id: string) => vi.waitFor(() => expect(seen.map((m) => m.event.id)).toContain(id), { timeout: 60_000, interval: 100 });

describe('deploy/kafka/acls.yaml on a broker that enforces ACLs', () => {
  it('webhook-ingest: ensures jit.gitlab.v1 without Create and publishes to it', async () => {
    const bus = await busAs('webhook-ingest');
    await bus.ensureTopics([GITLAB]);
    await bus.publish(TOPIC_GITLAB, '1!1', testEvent(randomUUID()));
  });

  it('approval-gate: its ledger group (ephemeral, latest), a replay, the webhook group, publishing to both topics', async () => {
    const bus = await busAs('approval-gate');
    await bus.ensureTopics([ELEVATIONS, GITLAB]);
    const ledger: BusMessage[] = [];
    const ledgerGroup = `jit-approval-gate-ledger-${process.pid}-${Date.now().toString(36)}`;
    const ledgerSub = await joined(bus, TOPIC_ELEVATIONS, ledgerGroup, ledger, { startFrom: 'latest', ephemeral: true });
    await bus.replay(TOPIC_ELEVATIONS, () => undefined);
    const hooks: BusMessage[] = [];
    const hookSub = await joined(bus, TOPIC_GITLAB, 'jit-approval-gate', hooks);
    const hook = testEvent(randomUUID());
    await bus.publish(TOPIC_GITLAB, '1!2', hook); // the reconciler re-publishes missed MR events
    const decision = testEvent(randomUUID());
    await bus.publish(TOPIC_ELEVATIONS, 'gl-1-2', decision);
    await waitDelivered(hooks, hook.id);
    await waitDelivered(ledger, decision.id);
    await hookSub.stop();
    await ledgerSub.stop();
    await vi.waitFor(async () => expect(await groups()).not.toContain(ledgerGroup), { timeout: 30_000, interval: 200 });
  });

  it.each([
    ['issuer', 'jit-issuer', `jit-issuer-read-${randomUUID()}`],
    ['revoker', 'jit-revoker', undefined],
    ['all-in-one', 'jit-issuer', `jit-read-model-${randomBytes(4).toString('hex')}`],
  ])('%s: a read model (ephemeral, latest) and replay, its durable group on jit.elevations.v1, publishing', async (service, groupId, readGroup) => {
    const bus = await busAs(service);
    await bus.ensureTopics(service === 'all-in-one' ? [ELEVATIONS, GITLAB] : [ELEVATIONS]);
    const read: BusMessage[] = [];
    const readSub = readGroup ? await joined(bus, TOPIC_ELEVATIONS, readGroup, read, { startFrom: 'latest', ephemeral: true }) : undefined;
    await bus.replay(TOPIC_ELEVATIONS, () => undefined);
    const work: BusMessage[] = [];
    const sub = await joined(bus, TOPIC_ELEVATIONS, groupId, work);
    const event = testEvent(randomUUID());
    await bus.publish(TOPIC_ELEVATIONS, 'gl-1-3', event);
    await waitDelivered(work, event.id);
    if (readSub) {
      await waitDelivered(read, event.id);
      await readSub.stop();
      await vi.waitFor(async () => expect(await groups()).not.toContain(readGroup), { timeout: 30_000, interval: 200 });
    }
    await sub.stop();
  });

  it('notifier (and its HTTP sink, same process): replays, reads in both its groups, parks dead letters; cannot write the system of record', async () => {
    const bus = await busAs('notifier');
    await bus.ensureTopics([
      { topic: TOPIC_NOTIFY_DEAD_LETTERS, retentionMs: -1 },
      { topic: TOPIC_SINK_DEAD_LETTERS, retentionMs: -1 },
    ]);
    await bus.replay(TOPIC_ELEVATIONS, () => undefined);
    const notified: BusMessage[] = [];
    const sunk: BusMessage[] = [];
    const n = await joined(bus, TOPIC_ELEVATIONS, 'jit-notifier', notified, { startFrom: 'latest' });
    const s = await joined(bus, TOPIC_ELEVATIONS, 'jit-sink', sunk, { startFrom: 'latest' });
    const event = testEvent(randomUUID());
    await (await busAs('revoker')).publish(TOPIC_ELEVATIONS, 'gl-1-4', event);
    await waitDelivered(notified, event.id);
    await waitDelivered(sunk, event.id);
    await bus.publish(TOPIC_NOTIFY_DEAD_LETTERS, 'gl-1-4', event);
    await bus.publish(TOPIC_SINK_DEAD_LETTERS, 'gl-1-4', event);
    await expect(bus.publish(TOPIC_ELEVATIONS, 'gl-1-4', testEvent(randomUUID()))).rejects.toMatchObject({ code: 'JIT_ERR_BUS_REJECTED' });
    await n.stop();
    await s.stop();
  });

  it('a principal without a grant is refused, pointing at the ACL docs (the ACLs are really enforced)', async () => {
    const ingest = await busAs('webhook-ingest');
    await expect(ingest.subscribe({ topic: TOPIC_ELEVATIONS, groupId: 'jit-webhook-ingest', handler: async () => undefined })).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_REJECTED',
      message: expect.stringContaining('deploy/kafka/README.md'),
    });
    // a read-only principal cannot even open the bus: its idempotent producer needs Write somewhere
    await expect(busAs('siem')).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_REJECTED',
      message: expect.stringContaining('refused this client (CLUSTER_AUTHORIZATION_FAILED); grant its principal the ACLs in deploy/kafka/README.md'),
    });
    await expect(ingest.ensureTopics([{ topic: `not-pre-created-${randomUUID().slice(0, 8)}`, partitions: 1 }])).rejects.toMatchObject({
      code: 'JIT_ERR_BUS_REJECTED',
      message: expect.stringContaining('create them beforehand (deploy/kafka/topics.yaml) or grant Create'),
    });
  });
});
