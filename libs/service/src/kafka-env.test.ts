import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from './config-error';
import { busEnv, busFromEnv, checkBusChoice, kafkaConsumerEnv, kafkaConsumerFromEnv } from './env-schemas';
import { checkKafkaSecurity, kafkaSecurityEnv, kafkaSecurityFromEnv } from './kafka-env';
import { parseEnv } from './parse-env';

// Real PEM files: a CA, a client certificate signed by it, and a key that belongs to neither.
const dir = mkdtempSync(join(tmpdir(), 'jit-kafka-env-'));
const f = (name: string) => join(dir, name);
const PASSWORD = 'kafka-env-test-password-7f3a';

beforeAll(() => {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-subj', '/CN=test-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', ...ec, '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-keyout', f('client.key'), '-out', f('client.pem'), '-subj', '/CN=client'], { stdio: 'ignore' });
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', f('other.key')], { stdio: 'ignore' });
  execFileSync('openssl', ['pkey', '-in', f('client.key'), '-aes256', '-passout', 'pass:x', '-out', f('encrypted.key')], { stdio: 'ignore' });
  writeFileSync(f('password'), `${PASSWORD}\n`);
  writeFileSync(f('empty'), '\n');
  writeFileSync(f('token'), ' header.payload. \n');
  writeFileSync(f('not-pem'), 'hello');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const schema = z.object(kafkaSecurityEnv()).superRefine((env, ctx) => checkKafkaSecurity(env, ctx));

function problems(env: Record<string, string>): string {
  try {
    parseEnv(schema, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('kafka security settings', () => {
  it('default to plaintext without authentication', () => {
    expect(kafkaSecurityFromEnv(parseEnv(schema, {}))).toEqual({});
  });

  it('read TLS files and SCRAM with a password file (re-read at each call) into what the client needs', () => {
    const sec = kafkaSecurityFromEnv(
      parseEnv(schema, {
        KAFKA_TLS: 'true',
        KAFKA_TLS_CA_FILE: f('ca.pem'),
        KAFKA_TLS_CERT_FILE: f('client.pem'),
        KAFKA_TLS_KEY_FILE: f('client.key'),
        KAFKA_TLS_SERVERNAME: 'kafka.example.com',
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'jit-issuer',
        KAFKA_SASL_PASSWORD_FILE: f('password'),
      }),
    );
    expect(sec.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(sec.tls?.cert).toContain('BEGIN CERTIFICATE');
    expect(sec.tls?.key).toContain('PRIVATE KEY');
    expect(sec.tls?.servername).toBe('kafka.example.com');
    expect(sec.sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'jit-issuer' });
    if (sec.sasl?.mechanism !== 'scram-sha-512') throw new Error('unreachable');
    expect(sec.sasl.password()).toBe(PASSWORD); // one trailing newline dropped
    writeFileSync(f('password'), 'rotated-password-123');
    expect(sec.sasl.password()).toBe('rotated-password-123');
    writeFileSync(f('password'), `${PASSWORD}\n`);
    // the parsed settings never hold the password itself
    expect(JSON.stringify(sec)).not.toContain(PASSWORD);
  });

  it('take the password inline, and OAUTHBEARER with a token file read per authentication', async () => {
    const inline = kafkaSecurityFromEnv(parseEnv(schema, { KAFKA_TLS: '1', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }));
    expect(inline.sasl?.mechanism === 'plain' && inline.sasl.password()).toBe(PASSWORD);
    expect(inline.tls).toEqual({});
    const oauth = kafkaSecurityFromEnv(parseEnv(schema, { KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: f('token') }));
    if (oauth.sasl?.mechanism !== 'oauthbearer') throw new Error('expected oauthbearer');
    expect(await oauth.sasl.token()).toBe('header.payload.');
    writeFileSync(f('token'), 'next.token.');
    expect(await oauth.sasl.token()).toBe('next.token.');
  });

  it('refuse SASL over plaintext unless explicitly allowed', () => {
    const env = { KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: f('password') };
    expect(problems(env)).toContain('KAFKA_SASL_MECHANISM: SASL without TLS sends credentials (or a token) over plaintext: set KAFKA_TLS=true, or KAFKA_SASL_ALLOW_PLAINTEXT=true');
    const allowed = kafkaSecurityFromEnv(parseEnv(schema, { ...env, KAFKA_SASL_ALLOW_PLAINTEXT: 'true' }));
    expect(allowed.tls).toBeUndefined();
    expect(allowed.sasl?.mechanism).toBe('scram-sha-256');
  });

  it.each([
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, 'KAFKA_SASL_MECHANISM: must be one of plain, scram-sha-256, scram-sha-512, oauthbearer'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: 'CERT' }, 'KAFKA_TLS_KEY_FILE: is required with the other half of the client certificate'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_KEY_FILE: 'KEY' }, 'KAFKA_TLS_CERT_FILE: is required with the other half of the client certificate'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: 'CERT', KAFKA_TLS_KEY_FILE: 'OTHER' }, 'KAFKA_TLS_KEY_FILE: is not the private key of the certificate in KAFKA_TLS_CERT_FILE'],
    [{ KAFKA_TLS_CA_FILE: 'CA' }, 'KAFKA_TLS_CA_FILE: is a TLS setting, but KAFKA_TLS is not true; set KAFKA_TLS=true'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: 'MISSING' }, 'KAFKA_TLS_CA_FILE: cannot read the file (ENOENT)'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: 'NOTPEM' }, 'KAFKA_TLS_CA_FILE: must be a PEM file of the CA certificates'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_CERT_FILE: 'CERT', KAFKA_TLS_KEY_FILE: 'ENCRYPTED' }, 'KAFKA_TLS_KEY_FILE: holds an encrypted key'],
    [{ KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'plain' }, 'KAFKA_SASL_USERNAME: is required with KAFKA_SASL_MECHANISM=plain'],
    [{ KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_PASSWORD_FILE: is required with KAFKA_SASL_MECHANISM=plain'],
    [
      { KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SASL_PASSWORD_FILE: 'PASSWORD' },
      'KAFKA_SASL_PASSWORD_FILE: set KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
    ],
    [{ KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: 'MISSING' }, 'KAFKA_SASL_PASSWORD_FILE: cannot read the file (ENOENT)'],
    [{ KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: 'EMPTY' }, 'must not be empty'],
    [{ KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer' }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: is required with KAFKA_SASL_MECHANISM=oauthbearer'],
    [
      { KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: 'TOKEN', KAFKA_SASL_USERNAME: 'u' },
      'KAFKA_SASL_USERNAME: is not used with KAFKA_SASL_MECHANISM=oauthbearer',
    ],
    [{ KAFKA_SASL_USERNAME: 'u' }, 'KAFKA_SASL_USERNAME: is a SASL setting, but KAFKA_SASL_MECHANISM is not set'],
    [{ KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: 'token' }, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: must be an absolute path'],
    [{ KAFKA_TLS: 'true', KAFKA_TLS_SERVERNAME: '*.example.com' }, 'KAFKA_TLS_SERVERNAME: must be the DNS name the brokers’ certificates carry'],
  ])('refuse %j naming the setting', (raw, expected) => {
    const paths: Record<string, string> = {
      CERT: f('client.pem'),
      KEY: f('client.key'),
      OTHER: f('other.key'),
      ENCRYPTED: f('encrypted.key'),
      CA: f('ca.pem'),
      MISSING: f('missing'),
      NOTPEM: f('not-pem'),
      PASSWORD: f('password'),
      EMPTY: f('empty'),
      TOKEN: f('token'),
    };
    const env = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, paths[v] ?? v]));
    const message = problems(env);
    expect(message).toContain(expected);
    // neither a path nor a secret is quoted back
    expect(message).not.toContain(dir);
    expect(message).not.toContain(PASSWORD);
    expect(message).not.toContain('hello');
    expect(message).not.toMatch(/[A-Za-z0-9+/]{40,}/); // no key or certificate material
  });

  it('an unreadable file names its setting and the reason only', () => {
    writeFileSync(f('locked'), PASSWORD);
    chmodSync(f('locked'), 0o000);
    const asRoot = process.getuid?.() === 0; // root reads anything
    const env = { KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: f('locked') };
    if (asRoot) expect(() => parseEnv(schema, env)).not.toThrow();
    else expect(problems(env)).toContain('KAFKA_SASL_PASSWORD_FILE: cannot read the file (EACCES)');
  });
});

describe('kafka security in the shared app settings', () => {
  it('every Kafka consumer app gets it from kafkaConsumerEnv', () => {
    const consumer = z.object(kafkaConsumerEnv('jit-x')).superRefine((env, ctx) => checkKafkaSecurity(env, ctx));
    const cfg = kafkaConsumerFromEnv(parseEnv(consumer, { KAFKA_BROKERS: 'k:9093', KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: f('ca.pem') }));
    expect(cfg.security.tls?.ca).toContain('BEGIN CERTIFICATE');
  });

  it('apps with a bus choice refuse security settings on the embedded bus', () => {
    const bus = z.object(busEnv('jit-x')).superRefine(checkBusChoice);
    expect(() => parseEnv(bus, { JIT_BUS_DIR: '/d', KAFKA_TLS: 'true' })).toThrow(
      'KAFKA_TLS: secures a Kafka connection, but KAFKA_BROKERS is not set (the embedded bus has none); remove it or set KAFKA_BROKERS',
    );
    const cfg = busFromEnv(parseEnv(bus, { KAFKA_BROKERS: 'k:9093', KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-256', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD }));
    expect(cfg).toMatchObject({ kind: 'kafka', security: { tls: {}, sasl: { mechanism: 'scram-sha-256', username: 'u' } } });
  });
});

describe('kafka secret files while the client runs', () => {
  it('open() warns once about a world-readable password file, follows a rotation and stops on close', () => {
    const file = f('open-password');
    writeFileSync(file, 'first-password-value');
    chmodSync(file, 0o644);
    const sec = kafkaSecurityFromEnv(parseEnv(schema, { KAFKA_TLS: 'true', KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD_FILE: file }));
    const lines: { level: string; obj: object; msg: string }[] = [];
    const logger = { info: (obj: object, msg: string) => void lines.push({ level: 'info', obj, msg }), warn: (obj: object, msg: string) => void lines.push({ level: 'warn', obj, msg }) };
    const close = sec.open!(logger);
    try {
      expect(lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([expect.stringContaining('readable by every user')]);
      expect(lines[0]!.obj).toMatchObject({ setting: 'KAFKA_SASL_PASSWORD_FILE' });
      if (sec.sasl?.mechanism !== 'scram-sha-512') throw new Error('unreachable');
      expect(sec.sasl.password()).toBe('first-password-value');
      writeFileSync(file, 'second-password-value');
      expect(sec.sasl.password()).toBe('second-password-value');
      expect(JSON.stringify(lines)).not.toContain('password-value');
    } finally {
      close();
    }
  });
});
