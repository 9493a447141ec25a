import { describe, expect, it } from 'vitest';
import { parseAwsEnv, parseKafkaEnv, parsePgEnv, parseVaultEnv } from './services';

describe('JIT_TEST_* parsing', () => {
  it('reads what start.sh writes', () => {
    expect(parseKafkaEnv({ JIT_TEST_KAFKA_BROKERS: '127.0.0.1:9092' })).toEqual(['127.0.0.1:9092']);
    expect(parseKafkaEnv({ JIT_TEST_KAFKA_BROKERS: ' a:1, b.local:65535 ' })).toEqual(['a:1', 'b.local:65535']);
    expect(parseVaultEnv({ JIT_TEST_VAULT_ADDR: 'http://127.0.0.1:8200/', JIT_TEST_VAULT_TOKEN: 'root-x' })).toEqual({
      addr: 'http://127.0.0.1:8200',
      token: 'root-x',
    });
    expect(parseAwsEnv({ JIT_TEST_AWS_ENDPOINT: 'http://127.0.0.1:5000' })).toBe('http://127.0.0.1:5000');
    expect(parsePgEnv({ JIT_TEST_PG_URL: 'postgres://u:p@127.0.0.1:5432/postgres' })).toBe('postgres://u:p@127.0.0.1:5432/postgres');
  });

  it('treats unset or blank as "start one here"', () => {
    expect(parseKafkaEnv({})).toBeUndefined();
    expect(parseKafkaEnv({ JIT_TEST_KAFKA_BROKERS: '  ' })).toBeUndefined();
    expect(parseVaultEnv({})).toBeUndefined();
    expect(parseAwsEnv({})).toBeUndefined();
    expect(parsePgEnv({})).toBeUndefined();
  });

  it.each([
    ['no port', '127.0.0.1'],
    ['port out of range', '127.0.0.1:70000'],
    ['port zero', '127.0.0.1:0'],
    ['a URL', 'kafka://127.0.0.1:9092'],
    ['an empty entry', '127.0.0.1:9092,'],
    ['shell metacharacters', '127.0.0.1:9092;rm -rf /'],
  ])('rejects Kafka brokers with %s', (_l, v) => {
    expect(() => parseKafkaEnv({ JIT_TEST_KAFKA_BROKERS: v })).toThrow(expect.objectContaining({ code: 'JIT_ERR_TESTING_BAD_ENV', message: expect.stringContaining('JIT_TEST_KAFKA_BROKERS') }));
  });

  it('rejects oversized values', () => {
    expect(() => parseAwsEnv({ JIT_TEST_AWS_ENDPOINT: `http://x/${'a'.repeat(5000)}` })).toThrow(/at most 4096/);
  });

  it.each([
    ['not a URL', 'localhost:5000'],
    ['another scheme', 'ftp://127.0.0.1:21'],
    ['embedded credentials', 'http://user:pw@127.0.0.1:5000'],
  ])('rejects an AWS endpoint that is %s', (_l, v) => {
    expect(() => parseAwsEnv({ JIT_TEST_AWS_ENDPOINT: v })).toThrow(expect.objectContaining({ code: 'JIT_ERR_TESTING_BAD_ENV' }));
  });

  it('rejects a half-configured Vault, naming the missing variable', () => {
    expect(() => parseVaultEnv({ JIT_TEST_VAULT_ADDR: 'http://127.0.0.1:8200' })).toThrow(/JIT_TEST_VAULT_TOKEN/);
    expect(() => parseVaultEnv({ JIT_TEST_VAULT_TOKEN: 'root-x' })).toThrow(/JIT_TEST_VAULT_ADDR/);
  });

  it('never echoes a malformed token', () => {
    let message = '';
    try {
      parseVaultEnv({ JIT_TEST_VAULT_ADDR: 'http://127.0.0.1:8200', JIT_TEST_VAULT_TOKEN: 'hunter2 secret\n' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('JIT_TEST_VAULT_TOKEN');
    expect(message).not.toContain('hunter2');
  });

  it('rejects a PostgreSQL URL of another scheme or unparsable, without echoing it', () => {
    let message = '';
    try {
      parsePgEnv({ JIT_TEST_PG_URL: 'mysql://root:topsecret@127.0.0.1/x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JIT_TEST_PG_URL is malformed/);
    expect(message).not.toContain('topsecret');
    expect(() => parsePgEnv({ JIT_TEST_PG_URL: 'not a url' })).toThrow(/JIT_TEST_PG_URL/);
  });
});
