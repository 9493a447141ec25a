// Generates the Strimzi resources of deploy/kafka from its two sources: topics.yaml (the topics
// jit uses) -> strimzi/kafka-topics.yaml (KafkaTopic), acls.yaml (what each service does) ->
// strimzi/kafka-users.yaml (KafkaUser, SCRAM-SHA-512, simple authorization). The checked-in files
// must equal what this writes (test/workspace kafka-manifests.test.ts):
//   npx tsx scripts/kafka-manifests.ts            (rewrite them)
//   npx tsx scripts/kafka-manifests.ts --check    (exit 1 when they are stale)
//   --dir <path>                                  (another deploy/kafka, e.g. a copy in a test)
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify, parse } from 'yaml';

export const KAFKA_DEPLOY_DIR = resolve(import.meta.dirname, '..', 'deploy', 'kafka');
/** The Strimzi Kafka cluster the resources belong to (label strimzi.io/cluster); edit after copying. */
export const STRIMZI_CLUSTER = 'my-cluster';

interface TopicDef {
  name: string;
  partitions: number;
  replicationFactor: number;
  config?: Record<string, string | number>;
}

interface AclDef {
  type: 'topic' | 'group' | 'cluster' | 'transactionalId';
  name?: string;
  patternType?: 'literal' | 'prefix';
  operations: string[];
}

interface PrincipalDef {
  user: string;
  does: string;
  acls: AclDef[];
}

const HEADER = (source: string) =>
  `# GENERATED from deploy/kafka/${source} by scripts/kafka-manifests.ts — edit the source, then run\n` +
  `# \`npx tsx scripts/kafka-manifests.ts\`. Set the strimzi.io/cluster label to your Kafka resource's name.\n`;

function fail(message: string): never {
  throw new Error(`deploy/kafka: ${message}`);
}

export function parseTopics(text: string): TopicDef[] {
  const doc = parse(text) as { topics?: unknown };
  if (!Array.isArray(doc?.topics)) fail('topics.yaml must have a list `topics`');
  return doc.topics.map((t: TopicDef) => {
    if (typeof t?.name !== 'string' || !Number.isInteger(t.partitions) || !Number.isInteger(t.replicationFactor)) {
      fail('each topic needs name, partitions and replicationFactor');
    }
    return t;
  });
}

export function parseAcls(text: string): Record<string, PrincipalDef> {
  const doc = parse(text) as { principals?: Record<string, PrincipalDef> };
  if (!doc?.principals || typeof doc.principals !== 'object') fail('acls.yaml must have a map `principals`');
  for (const [key, p] of Object.entries(doc.principals)) {
    if (typeof p?.user !== 'string' || !Array.isArray(p.acls)) fail(`principal ${key} needs user and acls`);
  }
  return doc.principals;
}

/** A Kubernetes name from a topic name: lower case, dots kept (a DNS subdomain), anything else a dash. */
function resourceName(topic: string): string {
  return topic.toLowerCase().replace(/[^a-z0-9.-]/g, '-');
}

export function renderKafkaTopics(topics: TopicDef[]): string {
  const docs = topics.map((t) => ({
    apiVersion: 'kafka.strimzi.io/v1beta2',
    kind: 'KafkaTopic',
    metadata: { name: resourceName(t.name), labels: { 'strimzi.io/cluster': STRIMZI_CLUSTER } },
    spec: {
      topicName: t.name,
      partitions: t.partitions,
      replicas: t.replicationFactor,
      ...(t.config ? { config: Object.fromEntries(Object.entries(t.config).map(([k, v]) => [k, String(v)])) } : {}),
    },
  }));
  return HEADER('topics.yaml') + docs.map((d) => `---\n${stringify(d)}`).join('');
}

export function renderKafkaUsers(principals: Record<string, PrincipalDef>): string {
  const docs = Object.entries(principals).map(([key, p]) => ({
    apiVersion: 'kafka.strimzi.io/v1beta2',
    kind: 'KafkaUser',
    metadata: {
      name: p.user,
      labels: { 'strimzi.io/cluster': STRIMZI_CLUSTER, 'app.kubernetes.io/part-of': 'jit', 'app.kubernetes.io/component': key },
    },
    spec: {
      // Strimzi writes the generated password to a Secret named like the user (key `password`):
      // mount it and point KAFKA_SASL_PASSWORD_FILE at it, with KAFKA_SASL_USERNAME=<this name>.
      authentication: { type: 'scram-sha-512' },
      authorization: {
        type: 'simple',
        acls: p.acls.map((a) => ({
          resource: a.type === 'cluster' ? { type: 'cluster' } : { type: a.type, name: a.name, patternType: a.patternType ?? 'literal' },
          operations: a.operations,
          host: '*',
        })),
      },
    },
  }));
  return HEADER('acls.yaml') + docs.map((d) => `---\n${stringify(d)}`).join('');
}

/** The generated files, path (relative to deploy/kafka) -> content. */
export function kafkaManifests(dir = KAFKA_DEPLOY_DIR): Record<string, string> {
  return {
    'strimzi/kafka-topics.yaml': renderKafkaTopics(parseTopics(readFileSync(join(dir, 'topics.yaml'), 'utf8'))),
    'strimzi/kafka-users.yaml': renderKafkaUsers(parseAcls(readFileSync(join(dir, 'acls.yaml'), 'utf8'))),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const check = process.argv.includes('--check');
  const dirAt = process.argv.indexOf('--dir');
  const dir = dirAt > 0 && process.argv[dirAt + 1] ? resolve(process.argv[dirAt + 1]!) : KAFKA_DEPLOY_DIR;
  let stale = 0;
  for (const [rel, content] of Object.entries(kafkaManifests(dir))) {
    const path = join(dir, rel);
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== content) {
        stale++;
        process.stderr.write(`deploy/kafka/${rel} is stale: run npx tsx scripts/kafka-manifests.ts\n`);
      }
    } else {
      writeFileSync(path, content);
      process.stdout.write(`wrote deploy/kafka/${rel}\n`);
    }
  }
  process.exitCode = stale > 0 ? 1 : 0;
}
