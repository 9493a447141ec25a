// The Kafka bus over a secured connection, on a private real broker with a SASL_SSL listener
// (SCRAM users created at format, PLAIN, unsecured-JWS OAUTHBEARER) and an mTLS listener; its
// certificates are made at test time. The settings go through the same parser the apps use, so
// this is what `KAFKA_TLS=true KAFKA_SASL_MECHANISM=scram-sha-512 …` does in production. The
// contract suite runs once over SASL_SSL + SCRAM and once over mTLS; start-up failures must say
// what is wrong and never carry the password.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '@jit/observability';
import { checkKafkaSecurity, kafkaSecurityEnv, kafkaSecurityFromEnv, parseEnv, type KafkaSecurity } from '@jit/service';
import { createTestPki, startKafka, type KafkaHandle, type TestPki } from '@jit/testing';
import { createKafkaBus } from './kafka-bus';
import { runBusContractSuite, testEvent } from './testing/contract-suite';

const SCRAM_USER = 'jit-bus';
const SCRAM_PASSWORD = `scram-${randomBytes(12).toString('hex')}`;
const PLAIN_USER = 'jit-plain';
const PLAIN_PASSWORD = `plain-${randomBytes(12).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'jit-kafka-secure-'));

interface Secured {
  kafka: KafkaHandle;
  pki: TestPki;
  passwordFile: string;
}

let started: Promise<Secured> | undefined;
const broker = (): Promise<Secured> =>
  (started ??= (async () => {
    const pki = await createTestPki(join(dir, 'pki'));
    const passwordFile = join(dir, 'scram-password');
    writeFileSync(passwordFile, `${SCRAM_PASSWORD}\n`, { mode: 0o600 });
    const kafka = await startKafka({
      secure: { pki, scramUsers: [{ name: SCRAM_USER, password: SCRAM_PASSWORD }], plainUsers: [{ name: PLAIN_USER, password: PLAIN_PASSWORD }] },
    });
    return { kafka, pki, passwordFile };
  })());
afterAll(async () => {
  await (await started)?.kafka.dispose();
});

const securitySchema = z.object(kafkaSecurityEnv()).superRefine((env, ctx) => checkKafkaSecurity(env, ctx));
/** The apps' own parsing: environment → the security the bus gets. */
function security(env: Record<string, string>): KafkaSecurity {
  return kafkaSecurityFromEnv(parseEnv(securitySchema, env));
}

const scramEnv = (s: Secured, extra: Record<string, string> = {}) => ({
  KAFKA_TLS: 'true',
  KAFKA_TLS_CA_FILE: s.pki.caFile,
  KAFKA_SASL_MECHANISM: 'scram-sha-512',
  KAFKA_SASL_USERNAME: SCRAM_USER,
  KAFKA_SASL_PASSWORD_FILE: s.passwordFile,
  ...extra,
});
const mtlsEnv = (s: Secured) => ({
  KAFKA_TLS: 'true',
  KAFKA_TLS_CA_FILE: s.pki.caFile,
  KAFKA_TLS_CERT_FILE: s.pki.clientCertFile,
  KAFKA_TLS_KEY_FILE: s.pki.clientKeyFile,
});

const quiet = createLogger({ name: 'bus-secure-test', level: 'silent' });
let clients = 0;

runBusContractSuite('kafka over SASL_SSL with SCRAM-SHA-512', async () => {
  const s = await broker();
  const sec = security(scramEnv(s));
  return { open: () => createKafkaBus({ brokers: s.kafka.saslSslBrokers, clientId: `scram-contract-${++clients}`, security: sec, logger: quiet }), waitMs: 60_000 };
});

runBusContractSuite('kafka over mTLS', async () => {
  const s = await broker();
  const sec = security(mtlsEnv(s));
  return { open: () => createKafkaBus({ brokers: s.kafka.sslBrokers, clientId: `mtls-contract-${++clients}`, security: sec, logger: quiet }), waitMs: 60_000 };
});

/** A logger whose every line is kept, to prove what did not get logged. */
function capturingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ name: 'bus-secure-failure', level: 'debug', destination }), lines: () => chunks.join('') };
}

/** createKafkaBus must fail; returns the error with everything it would print, and the logs. */
async function startFailure(brokers: string[], sec: KafkaSecurity): Promise<{ code: unknown; retriable: unknown; text: string; logs: string }> {
  const { logger, lines } = capturingLogger();
  const err = await createKafkaBus({ brokers, clientId: `failing-${randomUUID().slice(0, 8)}`, security: sec, logger }).then(
    async (bus) => {
      await bus.close();
      throw new Error('expected createKafkaBus to fail');
    },
    (e: unknown) => e as Error & { code?: unknown; retriable?: unknown },
  );
  const causes: string[] = [];
  for (let e: unknown = err, i = 0; e instanceof Error && i < 6; i++, e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError) {
    causes.push(`${e.name}: ${e.message}\n${e.stack ?? ''}`);
  }
  return { code: err.code, retriable: err.retriable, text: `${causes.join('\n')}\n${JSON.stringify(err)}`, logs: lines() };
}

describe('kafka bus security specifics', () => {
  it('publishes and reads back over SASL_SSL with SCRAM-SHA-256 and PLAIN too', async () => {
    const s = await broker();
    const plainFile = join(dir, 'plain-password');
    writeFileSync(plainFile, PLAIN_PASSWORD);
    for (const env of [
      scramEnv(s, { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' }),
      { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: s.pki.caFile, KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: PLAIN_USER, KAFKA_SASL_PASSWORD_FILE: plainFile },
    ]) {
      const bus = await createKafkaBus({ brokers: s.kafka.saslSslBrokers, clientId: `mech-${++clients}`, security: security(env), logger: quiet });
      try {
        const topic = `secure-${randomUUID().slice(0, 8)}`;
        await bus.ensureTopics([{ topic, partitions: 1 }]);
        const event = testEvent(randomUUID());
        await bus.publish(topic, 'k', event);
        const seen: string[] = [];
        await bus.replay(topic, (m) => void seen.push(m.event.id));
        expect(seen).toEqual([event.id]);
      } finally {
        await bus.close();
      }
    }
  });

  it('OAUTHBEARER reads the token file at each authentication', async () => {
    const s = await broker();
    const tokenFile = join(dir, 'oauth-token');
    // Kafka's default OAUTHBEARER validator accepts unsecured JWS tokens (alg "none"); it still checks exp
    const jws = (expSeconds: number) =>
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'jit-oauth', iat: Math.floor(Date.now() / 1000) - 60, exp: expSeconds })).toString('base64url')}.`;
    writeFileSync(tokenFile, jws(Math.floor(Date.now() / 1000) - 30));
    const sec = security({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: s.pki.caFile, KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: tokenFile });
    // an expired token is refused...
    const expired = await startFailure(s.kafka.saslSslBrokers, sec);
    expect(expired.code).toBe('JIT_ERR_BUS_AUTH_FAILED');
    expect(expired.text).toMatch(/refused the token in KAFKA_SASL_OAUTHBEARER_TOKEN_FILE/);
    // ...and a fresh one in the same file is picked up without new settings
    writeFileSync(tokenFile, jws(Math.floor(Date.now() / 1000) + 3600));
    const bus = await createKafkaBus({ brokers: s.kafka.saslSslBrokers, clientId: `oauth-${++clients}`, security: sec, logger: quiet });
    await bus.ensureTopics([{ topic: `oauth-${randomUUID().slice(0, 8)}`, partitions: 1 }]);
    await bus.close();
  });

  it('a wrong password fails start-up, non-retriably, naming the user and never the password', async () => {
    const s = await broker();
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const wrongFile = join(dir, 'wrong-password');
    writeFileSync(wrongFile, wrong);
    const failure = await startFailure(s.kafka.saslSslBrokers, security(scramEnv(s, { KAFKA_SASL_PASSWORD_FILE: wrongFile })));
    expect(failure.code).toBe('JIT_ERR_BUS_AUTH_FAILED');
    expect(failure.retriable).toBe(false);
    expect(failure.text).toContain(`refused the login (user "${SCRAM_USER}", SCRAM-SHA-512); check KAFKA_SASL_USERNAME and the password`);
    for (const secret of [wrong, SCRAM_PASSWORD]) {
      expect(failure.text).not.toContain(secret);
      expect(failure.logs).not.toContain(secret);
    }
  });

  it('a broker certificate from a CA the client does not trust fails start-up', async () => {
    const s = await broker();
    const failure = await startFailure(s.kafka.saslSslBrokers, security(scramEnv(s, { KAFKA_TLS_CA_FILE: s.pki.otherCaFile })));
    expect(failure.code).toBe('JIT_ERR_BUS_TLS_FAILED');
    expect(failure.text).toMatch(/is not signed by a CA this client trusts \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\); set KAFKA_TLS_CA_FILE/);
    expect(failure.text).not.toContain(SCRAM_PASSWORD);
    expect(failure.logs).not.toContain(SCRAM_PASSWORD);
  });

  it('a broker certificate for another name fails start-up', async () => {
    const s = await broker();
    const failure = await startFailure(s.kafka.saslSslBrokers, security(scramEnv(s, { KAFKA_TLS_SERVERNAME: 'kafka.example.test' })));
    expect(failure.code).toBe('JIT_ERR_BUS_TLS_FAILED');
    expect(failure.text).toMatch(/is not issued for KAFKA_TLS_SERVERNAME \(kafka\.example\.test\)/);
    expect(failure.text).not.toContain(SCRAM_PASSWORD);
    expect(failure.logs).not.toContain(SCRAM_PASSWORD);
  });

  it('mTLS without a client certificate, or TLS to the plaintext port, fails start-up with what to fix', async () => {
    const s = await broker();
    const noCert = await startFailure(s.kafka.sslBrokers, security({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: s.pki.caFile }));
    expect(noCert.code).toBe('JIT_ERR_BUS_TLS_FAILED');
    expect(noCert.text).toMatch(/refused this client's certificate; set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE/);
    const plaintextPort = await startFailure(s.kafka.brokers, security({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: s.pki.caFile }));
    expect(plaintextPort.code).toBe('JIT_ERR_BUS_TLS_FAILED');
    expect(plaintextPort.text).toMatch(/does not speak TLS/);
  });
});
