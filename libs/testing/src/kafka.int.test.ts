// The Kafka starter against the real broker, checked with Kafka's own CLI (kafkajs belongs to
// libs/bus): topics can be created and listed, and survive stop/start and a SIGKILL crash.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getKafka } from './services';
import { startKafka, KAFKA_JVM_OPTS, type KafkaHandle } from './kafka';
import { probeKafka } from './kafka-probe';
import { KAFKA_CDS_ARCHIVE, KAFKA_JARS_DIR } from './paths';
import { uniqueName } from './unique-name';

const run = promisify(execFile);

async function topics(brokers: string[], ...args: string[]): Promise<string> {
  const { stdout } = await run(
    'java',
    [
      ...KAFKA_JVM_OPTS,
      ...(existsSync(KAFKA_CDS_ARCHIVE) ? [`-XX:SharedArchiveFile=${KAFKA_CDS_ARCHIVE}`] : []),
      '-cp',
      `${KAFKA_JARS_DIR}/*`,
      'org.apache.kafka.tools.TopicCommand',
      '--bootstrap-server',
      brokers.join(','),
      ...args,
    ],
    { timeout: 60_000 },
  );
  return stdout;
}

describe('getKafka (shared broker)', () => {
  it('creates and lists a topic', async () => {
    const brokers = await getKafka();
    const topic = uniqueName('harness');
    await topics(brokers, '--create', '--topic', topic, '--partitions', '2', '--replication-factor', '1');
    expect((await topics(brokers, '--list')).split('\n')).toContain(topic);
    expect(await topics(brokers, '--describe', '--topic', topic)).toContain('PartitionCount: 2');
    const [host, port] = (brokers[0] ?? '').split(':');
    expect((await probeKafka(host ?? '', Number(port))).topics).toContain(topic);
  });
});

describe('startKafka (private broker)', () => {
  let kafka: KafkaHandle;
  beforeAll(async () => {
    kafka = await startKafka();
  });
  afterAll(async () => {
    await kafka?.dispose();
  });

  it('answers on the Kafka protocol with itself as the only broker', async () => {
    const meta = await probeKafka('127.0.0.1', kafka.port);
    expect(meta.brokers).toEqual([{ nodeId: 1, host: '127.0.0.1', port: kafka.port }]);
    expect(kafka.brokers).toEqual([`127.0.0.1:${kafka.port}`]);
  });

  it('keeps topics across a graceful restart on the same port', async () => {
    const topic = uniqueName('restart');
    await topics(kafka.brokers, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1');
    const before = kafka.pid;
    await kafka.stop();
    expect(kafka.pid).toBe(-1);
    await expect(probeKafka('127.0.0.1', kafka.port, 1_000)).rejects.toMatchObject({ code: 'JIT_ERR_TESTING_PROBE_FAILED' });
    await kafka.start();
    expect(kafka.pid).not.toBe(before);
    expect((await probeKafka('127.0.0.1', kafka.port)).topics).toContain(topic);
  });

  it('recovers from SIGKILL with its data', async () => {
    const topic = uniqueName('crash');
    await topics(kafka.brokers, '--create', '--topic', topic, '--partitions', '1', '--replication-factor', '1');
    const pid = kafka.pid;
    await kafka.kill();
    expect(() => process.kill(pid, 0)).toThrow();
    await kafka.start();
    expect((await probeKafka('127.0.0.1', kafka.port)).topics).toContain(topic);
  });
});
