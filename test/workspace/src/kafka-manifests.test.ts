// deploy/kafka: the Strimzi resources are generated from topics.yaml and acls.yaml by
// scripts/kafka-manifests.ts and must match them as checked in; both sources name exactly the
// topics jit's code uses, and no service is granted more than it needs.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { DEAD_LETTER_SUFFIX, TOPIC_ELEVATIONS, TOPIC_GITLAB, TOPIC_NOTIFY_DEAD_LETTERS, TOPIC_SINK_DEAD_LETTERS } from '@jit/contracts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..', '..');
const dir = join(root, 'deploy', 'kafka');
const read = (rel: string) => readFileSync(join(dir, rel), 'utf8');
const CODE_TOPICS = [TOPIC_ELEVATIONS, TOPIC_GITLAB, TOPIC_ELEVATIONS + DEAD_LETTER_SUFFIX, TOPIC_GITLAB + DEAD_LETTER_SUFFIX, TOPIC_NOTIFY_DEAD_LETTERS, TOPIC_SINK_DEAD_LETTERS].sort();

type Topic = { name: string; partitions: number; replicationFactor: number; config?: Record<string, string> };
type Principal = { user: string; acls: { type: string; name?: string; operations: string[] }[] };
const topics = (): Topic[] => parse(read('topics.yaml')).topics;
const principals = (): Record<string, Principal> => parse(read('acls.yaml')).principals;

/** Exit code of `scripts/kafka-manifests.ts --check` on a deploy/kafka directory. */
async function check(on: string): Promise<number> {
  return run(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'scripts', 'kafka-manifests.ts'), '--check', '--dir', on], { cwd: root }).then(
    () => 0,
    (err: { code?: number }) => err.code ?? -1,
  );
}

describe('deploy/kafka', () => {
  it('strimzi/*.yaml are what scripts/kafka-manifests.ts generates from the sources (run it after editing them)', async () => {
    expect(await check(dir)).toBe(0);
    // and a source edited without regenerating is caught
    const copy = mkdtempSync(join(tmpdir(), 'jit-kafka-deploy-'));
    try {
      cpSync(dir, copy, { recursive: true });
      writeFileSync(join(copy, 'topics.yaml'), read('topics.yaml').replace('partitions: 12', 'partitions: 24'));
      expect(await check(copy)).toBe(1);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  }, 60_000);

  it('the KafkaTopics carry every topic of topics.yaml with its partitions, replicas and config', () => {
    const resources = parseAllDocuments(read('strimzi/kafka-topics.yaml')).map(
      (d) => d.toJS() as { kind: string; spec: { topicName: string; partitions: number; replicas: number; config?: Record<string, string> } },
    );
    expect(resources.map((r) => r.kind)).toEqual(topics().map(() => 'KafkaTopic'));
    for (const t of topics()) {
      const r = resources.find((x) => x.spec.topicName === t.name);
      expect(r?.spec).toMatchObject({ partitions: t.partitions, replicas: t.replicationFactor });
      for (const [k, v] of Object.entries(t.config ?? {})) expect(r?.spec.config?.[k]).toBe(String(v));
    }
  });

  it('the KafkaUsers are one per principal of acls.yaml, SCRAM-SHA-512 with simple authorization', () => {
    const users = parseAllDocuments(read('strimzi/kafka-users.yaml')).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { authentication: { type: string }; authorization: { type: string; acls: unknown[] } } },
    );
    expect(users.map((u) => u.metadata.name)).toEqual(Object.values(principals()).map((p) => p.user));
    for (const u of users) expect(u).toMatchObject({ kind: 'KafkaUser', spec: { authentication: { type: 'scram-sha-512' }, authorization: { type: 'simple' } } });
  });

  it('topics.yaml and acls.yaml name exactly the topics the code uses, the system of record without retention limit', () => {
    expect(
      topics()
        .map((t) => t.name)
        .sort(),
    ).toEqual(CODE_TOPICS);
    expect(topics().find((t) => t.name === TOPIC_ELEVATIONS)?.config?.['retention.ms']).toBe('-1');
    const aclTopics = new Set(Object.values(principals()).flatMap((p) => p.acls.filter((a) => a.type === 'topic').map((a) => a.name)));
    for (const t of aclTopics) expect(CODE_TOPICS).toContain(t);
  });

  it('every process that uses Kafka has a principal; the notifier and its HTTP sink may write their dead letters, read the log, never write it', () => {
    expect(Object.keys(principals())).toEqual(expect.arrayContaining(['webhook-ingest', 'approval-gate', 'issuer', 'revoker', 'notifier', 'all-in-one']));
    const n = principals()['notifier']!.acls;
    const on = (type: string, name: string) => n.filter((a) => a.type === type && a.name === name).flatMap((a) => a.operations);
    for (const dlq of [TOPIC_NOTIFY_DEAD_LETTERS, TOPIC_SINK_DEAD_LETTERS]) expect(on('topic', dlq)).toContain('Write');
    expect(on('topic', TOPIC_ELEVATIONS)).toContain('Read');
    expect(on('topic', TOPIC_ELEVATIONS)).not.toContain('Write');
    // the default group ids (apps/notifier: KAFKA_GROUP_ID, JIT_SINK_GROUP_ID)
    for (const g of ['jit-notifier', 'jit-sink']) expect(on('group', g)).toContain('Read');
  });

  it('no principal is granted Create, AlterConfigs, Alter, All or anything on the cluster (topics are pre-created)', () => {
    for (const [key, p] of Object.entries(principals())) {
      for (const a of p.acls) {
        expect({ key, type: a.type }).not.toEqual({ key, type: 'cluster' });
        expect({ key, ops: a.operations.filter((o) => ['Create', 'AlterConfigs', 'Alter', 'All'].includes(o)) }).toEqual({ key, ops: [] });
      }
    }
  });
});
