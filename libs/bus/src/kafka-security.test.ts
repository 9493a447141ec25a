import { describe, expect, it } from 'vitest';
import { connectFailure, kafkaSasl, kafkaSsl } from './kafka-security';

/** A kafkajs-shaped failure: retries exhausted around the real cause. */
function kafkajsError(name: string, message: string, extra: Record<string, unknown> = {}): Error {
  const inner = Object.assign(new Error(message), { name, ...extra });
  return Object.assign(new Error(message), { name: 'KafkaJSNumberOfRetriesExceeded', originalError: inner });
}

describe('kafka client security options', () => {
  it('plaintext without settings; TLS always verifies', () => {
    expect(kafkaSsl(undefined)).toBe(false);
    expect(kafkaSsl({})).toBe(false);
    expect(kafkaSsl({ tls: {} })).toEqual({ rejectUnauthorized: true });
    expect(kafkaSsl({ tls: { ca: 'CA', cert: 'C', key: 'K', servername: 'kafka.example' } })).toEqual({
      rejectUnauthorized: true,
      ca: 'CA',
      cert: 'C',
      key: 'K',
      servername: 'kafka.example',
    });
  });

  it('asks for the password at each authentication and never serialises it', () => {
    let current = 'first-secret-value';
    const sasl = kafkaSasl({ sasl: { mechanism: 'scram-sha-512', username: 'jit', password: () => current } }) as { mechanism: string; username: string; password: string };
    expect(sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'jit' });
    expect(sasl.password).toBe('first-secret-value');
    current = 'rotated-secret-value';
    expect(sasl.password).toBe('rotated-secret-value');
    expect(JSON.stringify(sasl)).not.toContain('secret');
  });

  it('OAUTHBEARER asks the token provider for each authentication', async () => {
    let n = 0;
    const sasl = kafkaSasl({ sasl: { mechanism: 'oauthbearer', token: async () => `token-${++n}` } }) as { oauthBearerProvider: () => Promise<{ value: string }> };
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-1' });
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'token-2' });
  });
});

describe('connectFailure', () => {
  const brokers = ['k1:9093'];
  const scram = { tls: {}, sasl: { mechanism: 'scram-sha-256' as const, username: 'jit-gate', password: () => 'pw-never-shown' } };

  it('a refused login is AUTH_FAILED naming user and mechanism, non-retriable', () => {
    const err = connectFailure(kafkajsError('KafkaJSSASLAuthenticationError', 'SASL SCRAM SHA256 authentication failed: invalid credentials'), brokers, scram);
    expect(err).toMatchObject({ code: 'JIT_ERR_BUS_AUTH_FAILED', retriable: false });
    expect(err.message).toContain('refused the login (user "jit-gate", SCRAM-SHA-256)');
    expect(err.message).not.toContain('pw-never-shown');
  });

  it('a mechanism the listener does not offer says so', () => {
    const err = connectFailure(kafkajsError('KafkaJSSASLAuthenticationError', 'SASL SCRAM-SHA-256 mechanism is not supported by the server'), brokers, scram);
    expect(err.message).toContain('do not offer SCRAM-SHA-256 on this listener');
  });

  it.each([
    ['ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames", /not issued for the broker address/],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain', /not signed by a CA this client trusts \(SELF_SIGNED_CERT_IN_CHAIN\)/],
    ['CERT_HAS_EXPIRED', 'certificate has expired', /expired or not yet valid/],
  ])('a TLS failure %s is TLS_FAILED with what to fix', (code, message, expected) => {
    const err = connectFailure(kafkajsError('KafkaJSConnectionError', `Connection error: ${message}`, { code }), brokers, scram);
    expect(err).toMatchObject({ code: 'JIT_ERR_BUS_TLS_FAILED', retriable: false });
    expect(err.message).toMatch(expected);
  });

  it('anything else stays UNAVAILABLE (retriable), with a hint when SASL meets a TLS-only listener', () => {
    const refused = connectFailure(kafkajsError('KafkaJSConnectionError', 'connect ECONNREFUSED', { code: 'ECONNREFUSED' }), brokers, undefined);
    expect(refused).toMatchObject({ code: 'JIT_ERR_BUS_UNAVAILABLE', retriable: true });
    const closed = connectFailure(kafkajsError('KafkaJSConnectionClosedError', 'Closed connection'), brokers, { sasl: scram.sasl });
    expect(closed.message).toContain('the listener may require TLS (KAFKA_TLS=true)');
  });
});
