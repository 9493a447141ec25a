// A consumer kafkajs leaves stopped is started again. kafkajs restarts a consumer that crashed on a
// retriable error only; on any other (here: the topic's Read ACL withdrawn while an operator fixes
// the ACLs, TOPIC_AUTHORIZATION_FAILED) the consumer stays down and the process, still "ready",
// reads nothing more. The subscription starts it again, with a growing wait, until it is stopped:
// once the ACL is back, what was published meanwhile arrives.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@jit/observability';
import { createTestPki, startKafka, uniqueName, waitFor, type KafkaHandle } from '@jit/testing';
import type { BusMessage, EventBus } from './event-bus';
import { createKafkaBus } from './kafka-bus';
import { testEvent } from './testing/contract-suite';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Kafka, ResourcePatternTypes, logLevel } = kafkajs;

const USER = 'jit-reader';
const PASSWORD = `pw-${randomBytes(9).toString('hex')}`;
const TOPIC = 'restart.v1';
const GROUP = 'jit-restart-readers';

const lines: string[] = [];
const logger = createLogger({ name: 'consumer-restart', level: 'warn', destination: new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }) });
let kafka: KafkaHandle;
let ca: string;
const buses: EventBus[] = [];

const topicRead = {
  resourceType: AclResourceTypes.TOPIC,
  resourceName: TOPIC,
  resourcePatternType: ResourcePatternTypes.LITERAL,
  principal: `User:${USER}`,
  host: '*',
  operation: AclOperationTypes.READ,
  permissionType: AclPermissionTypes.ALLOW,
};

async function asAdmin<T>(fn: (admin: kafkajs.Admin) => Promise<T>): Promise<T> {
  const admin = new Kafka({ brokers: kafka.brokers, clientId: 'restart-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** KRaft applies ACL changes through the metadata log: wait until the broker lists `n` ACLs. */
async function aclsApplied(n: number): Promise<void> {
  const any = { resourceType: AclResourceTypes.ANY, resourcePatternType: ResourcePatternTypes.ANY, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY };
  await waitFor(async () => (await asAdmin((a) => a.describeAcls(any))).resources.flatMap((r) => r.acls).length === n, { timeoutMs: 30_000, what: `${n} ACLs applied` });
}

beforeAll(async () => {
  const pki = await createTestPki();
  ca = readFileSync(pki.caFile, 'utf8');
  kafka = await startKafka({ secure: { pki, acls: true, scramUsers: [{ name: USER, password: PASSWORD }] } });
  await asAdmin(async (admin) => {
    await waitFor(
      () =>
        admin
          .createTopics({
            waitForLeaders: true,
            topics: [
              { topic: TOPIC, numPartitions: 2 },
              { topic: `${TOPIC}.dlq`, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '-1' }] },
            ],
          })
          .then(() => true),
      {
        timeoutMs: 60_000,
        what: 'the topics created',
      },
    );
    const allow = (resourceType: number, resourceName: string, operation: number) => ({ ...topicRead, resourceType, resourceName, operation });
    // what deploy/kafka/acls.yaml grants a consuming service (the notifier's set, on this topic)
    await admin.createAcls({
      acl: [
        topicRead,
        allow(AclResourceTypes.TOPIC, TOPIC, AclOperationTypes.DESCRIBE),
        allow(AclResourceTypes.TOPIC, TOPIC, AclOperationTypes.DESCRIBE_CONFIGS),
        allow(AclResourceTypes.TOPIC, `${TOPIC}.dlq`, AclOperationTypes.WRITE),
        allow(AclResourceTypes.TOPIC, `${TOPIC}.dlq`, AclOperationTypes.DESCRIBE),
        allow(AclResourceTypes.TOPIC, `${TOPIC}.dlq`, AclOperationTypes.DESCRIBE_CONFIGS),
        allow(AclResourceTypes.GROUP, GROUP, AclOperationTypes.READ),
        allow(AclResourceTypes.GROUP, GROUP, AclOperationTypes.DESCRIBE),
      ],
    });
  });
  await aclsApplied(8);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await kafka?.dispose();
});

describe('a Kafka subscription whose consumer kafkajs left stopped', () => {
  it('is started again: after the Read ACL is withdrawn and restored, what was published meanwhile arrives', async () => {
    const reader = await createKafkaBus({
      brokers: kafka.saslSslBrokers,
      clientId: USER,
      security: { tls: { ca }, sasl: { mechanism: 'scram-sha-512', username: USER, password: () => PASSWORD } },
      logger,
    });
    const writer = await createKafkaBus({ brokers: kafka.brokers, clientId: 'restart-writer', logger });
    buses.push(reader, writer);
    const seen: BusMessage[] = [];
    let assigned = false;
    await waitFor(
      async () => {
        await reader.subscribe({ topic: TOPIC, groupId: GROUP, handler: async (m) => void seen.push(m), onAssignment: () => void (assigned = true) });
        return true;
      },
      { timeoutMs: 60_000, what: 'the reader subscribed' },
    );
    await waitFor(() => assigned, { timeoutMs: 60_000, what: 'the reader to join its group' });
    const before = testEvent(uniqueName('before'));
    await writer.publish(TOPIC, 'k', before);
    await waitFor(() => seen.some((m) => m.event.id === before.id), { timeoutMs: 60_000, what: 'the first event read' });

    // The operator withdraws the reader's Read on the topic: its next fetch is refused, a
    // non-retriable error, and kafkajs stops the consumer for good.
    await asAdmin((a) => a.deleteAcls({ filters: [topicRead] }));
    await aclsApplied(7);
    await waitFor(() => lines.some((l) => l.includes('"restart":false')), { timeoutMs: 60_000, what: 'kafkajs to give the consumer up' });
    const during = testEvent(uniqueName('during'));
    await writer.publish(TOPIC, 'k', during);

    // The ACL is put back: the subscription's own restart reads on from the committed offset.
    await asAdmin((a) => a.createAcls({ acl: [topicRead] }));
    await aclsApplied(8);
    await waitFor(() => seen.some((m) => m.event.id === during.id), { timeoutMs: 90_000, what: 'the event published while the consumer was down' });
    const after = testEvent(uniqueName('after'));
    await writer.publish(TOPIC, 'k', after);
    await waitFor(() => seen.some((m) => m.event.id === after.id), { timeoutMs: 60_000, what: 'an event published after the restart' });
    expect(lines.join('')).toContain('starting it again');
    expect(lines.join('')).not.toContain(PASSWORD);
  });
});
