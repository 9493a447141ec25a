import { describe, expect, it } from 'vitest';
import { kafkaJvmOptsFromEnv, kafkaServerProperties, randomClusterId } from './kafka';
import type { TestPki } from './test-pki';

function parse(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('kafkaServerProperties', () => {
  const props = parse(kafkaServerProperties({ port: 19092, controllerPort: 19093, dataDir: '/tmp/jit-kafka-x/data' }));

  it('is a single KRaft node on loopback only', () => {
    expect(props['process.roles']).toBe('broker,controller');
    expect(props['controller.quorum.voters']).toBe('1@127.0.0.1:19093');
    expect(props['listeners']).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093');
    expect(props['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:19092');
    expect(Object.values(props).join(' ')).not.toMatch(/0\.0\.0\.0|localhost/);
  });

  it('lets a single node hold the internal topics (kafkajs #1752) and auto-create topics', () => {
    expect(props['offsets.topic.replication.factor']).toBe('1');
    expect(props['transaction.state.log.replication.factor']).toBe('1');
    expect(props['transaction.state.log.min.isr']).toBe('1');
    expect(props['auto.create.topics.enable']).toBe('true');
    expect(props['num.partitions']).toBe('3');
    expect(props['log.dirs']).toBe('/tmp/jit-kafka-x/data');
  });
});

describe('kafkaServerProperties with secure listeners', () => {
  const pki = { caFile: '/p/ca.pem', serverKeystoreFile: '/p/server-keystore.pem' } as TestPki;
  const secure = (plainUsers: { name: string; password: string }[] = []) =>
    parse(kafkaServerProperties({ port: 1, controllerPort: 2, dataDir: '/d', secure: { pki, saslSsl: 3, ssl: 4, plainUsers } }));

  it('adds SASL_SSL and an SSL listener that requires client certificates, on loopback, PEM stores', () => {
    const props = secure([{ name: 'alice', password: 'pw-1' }]);
    expect(props['listeners']).toBe('PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:3,SSL://127.0.0.1:4,CONTROLLER://127.0.0.1:2');
    expect(props['advertised.listeners']).toBe('PLAINTEXT://127.0.0.1:1,SASL_SSL://127.0.0.1:3,SSL://127.0.0.1:4');
    expect(props['listener.name.ssl.ssl.client.auth']).toBe('required');
    expect(props['ssl.keystore.location']).toBe('/p/server-keystore.pem');
    expect(props['ssl.truststore.location']).toBe('/p/ca.pem');
    expect(props['listener.name.sasl_ssl.plain.sasl.jaas.config']).toBe('org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="pw-1";');
    expect(props['sasl.enabled.mechanisms']).toBe('SCRAM-SHA-512,SCRAM-SHA-256,PLAIN,OAUTHBEARER');
  });

  it.each([
    { name: 'a b', password: 'x' },
    { name: 'a', password: 'x";evil="' },
    { name: 'a', password: 'a,b]' },
  ])('refuses a test user that would break the syntax: %j', (u) => {
    expect(() => secure([u])).toThrow(expect.objectContaining({ code: 'JIT_ERR_TESTING_BAD_ARGUMENT' }));
  });
});

describe('randomClusterId', () => {
  it('is 22 base64url characters (a Kafka Uuid), never starting with "-", and random', () => {
    const ids = Array.from({ length: 500 }, randomClusterId);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(500);
  });
});

describe('kafkaJvmOptsFromEnv', () => {
  it('appends space-separated JVM options, none when unset', () => {
    expect(kafkaJvmOptsFromEnv({})).toEqual([]);
    expect(kafkaJvmOptsFromEnv({ JIT_KAFKA_JVM_OPTS: '  ' })).toEqual([]);
    expect(kafkaJvmOptsFromEnv({ JIT_KAFKA_JVM_OPTS: ' -Xmx1g  -XX:TieredStopAtLevel=4 ' })).toEqual(['-Xmx1g', '-XX:TieredStopAtLevel=4']);
  });

  it.each(['-Xmx1g; rm -rf /', 'kafka.Kafka', '-Dx=$(id)', '-Xmx1g `id`', `-D${'a'.repeat(2000)}`])('rejects %j', (v) => {
    expect(() => kafkaJvmOptsFromEnv({ JIT_KAFKA_JVM_OPTS: v })).toThrow(expect.objectContaining({ code: 'JIT_ERR_TESTING_BAD_ENV' }));
  });
});
