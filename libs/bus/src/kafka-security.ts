// The Kafka bus's side of connection security: turns the parsed TLS/SASL settings into kafkajs
// options (the password and token are fetched at each authentication, so rotated files take
// effect on the next connection) and turns a failed first connection into an error that says
// what is wrong — untrusted CA, wrong name, refused credentials — without any secret in it.
import type { ConnectionOptions } from 'node:tls';
import type { SASLOptions } from 'kafkajs';
import type { KafkaSecurity } from '@jit/service';
import { EXPIRED_CERT_CODES, UNTRUSTED_CERT_CODES, type JitError } from '@jit/errors';
import { BusAuthFailed, BusRejected, BusTlsFailed, BusUnavailable } from './errors';

export type { KafkaSecurity };

/** kafkajs `ssl`: false without TLS; otherwise verification always on, with the given CA and client certificate. */
export function kafkaSsl(security: KafkaSecurity | undefined): false | ConnectionOptions {
  const tls = security?.tls;
  if (!tls) return false;
  return {
    rejectUnauthorized: true,
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.servername !== undefined ? { servername: tls.servername } : {}),
  };
}

/** kafkajs `sasl`, or undefined. kafkajs reads `password` when it authenticates a connection: a getter asks each time. */
export function kafkaSasl(security: KafkaSecurity | undefined): SASLOptions | undefined {
  const sasl = security?.sasl;
  if (!sasl) return undefined;
  if (sasl.mechanism === 'oauthbearer') {
    const token = sasl.token;
    return { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await token() }) };
  }
  const password = sasl.password;
  const options = { mechanism: sasl.mechanism, username: sasl.username } as SASLOptions & { password: string };
  Object.defineProperty(options, 'password', { get: password, enumerable: false });
  return options;
}

/** Node's codes for a broker certificate the client does not trust, or that is out of date. */
const UNTRUSTED = UNTRUSTED_CERT_CODES;
const EXPIRED = EXPIRED_CERT_CODES;

/** The chain kafkajs builds (retries exhausted → originalError; connection error → cause), outermost first. */
function chain(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e: unknown = err; e && typeof e === 'object' && out.length < 6;) {
    out.push(e);
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return out;
}

function field(e: unknown, name: string): string | undefined {
  const v = (e as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Why the first connection failed, for the operator: refused credentials and TLS failures get
 * their own non-retriable codes naming the settings to check; anything else is "unavailable".
 * Messages are built from error names and codes and our own words — never from the settings'
 * values, so no password or token can appear.
 */
export function connectFailure(err: unknown, brokers: string[], security: KafkaSecurity | undefined): JitError {
  const where = brokers.join(',');
  const errors = chain(err);
  const names = errors.map((e) => field(e, 'name') ?? '');
  const codes = errors.map((e) => field(e, 'code') ?? '');
  const text = errors.map((e) => field(e, 'message') ?? '').join(' | ');

  if (names.includes('KafkaJSSASLAuthenticationError')) {
    const sasl = security?.sasl;
    const who = sasl && sasl.mechanism !== 'oauthbearer' ? `user ${JSON.stringify(sasl.username)}, ` : '';
    const mech = (sasl?.mechanism ?? 'unknown').toUpperCase();
    const unsupported = /mechanism is not supported/i.test(text);
    const check = unsupported
      ? `the brokers at ${where} do not offer ${mech} on this listener; set KAFKA_SASL_MECHANISM to one they offer`
      : sasl?.mechanism === 'oauthbearer'
        ? `the brokers at ${where} refused the token in KAFKA_SASL_OAUTHBEARER_TOKEN_FILE (${who}${mech}); check that it is current and meant for this cluster`
        : `the brokers at ${where} refused the login (${who}${mech}); check KAFKA_SASL_USERNAME and the password (KAFKA_SASL_PASSWORD_FILE or KAFKA_SASL_PASSWORD) and that the user exists for ${mech}`;
    return BusAuthFailed(check, { cause: err });
  }
  if (security?.sasl?.mechanism === 'oauthbearer' && names.includes('KafkaJSConnectionClosedError')) {
    // A refused OAUTHBEARER token gets an error challenge kafkajs does not answer; the broker then hangs up.
    return BusAuthFailed(
      `the brokers at ${where} closed the connection during the OAUTHBEARER login: they most likely refused the token in KAFKA_SASL_OAUTHBEARER_TOKEN_FILE; check that it is current and meant for this cluster`,
      { cause: err },
    );
  }
  const denied = authorizationFailure(err);
  if (denied) {
    // the idempotent producer's InitProducerId needs Write on some topic (or IdempotentWrite on the cluster)
    return BusRejected(
      `the brokers at ${where} accepted the login but refused this client (${denied}); grant its principal the ACLs in deploy/kafka/README.md (every jit process needs Write on a jit topic for its idempotent producer)`,
      { cause: err },
    );
  }
  const code = codes.find((c) => c.length > 0 && c !== 'ECONNREFUSED' && c !== 'ENOTFOUND') ?? '';
  const tls = security?.tls;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /does not match certificate's altnames/.test(text)) {
    const name = tls?.servername ? `KAFKA_TLS_SERVERNAME (${tls.servername})` : 'the broker address';
    return BusTlsFailed(`the certificate of the broker at ${where} is not issued for ${name}; connect by a name on the certificate or set KAFKA_TLS_SERVERNAME to one`, { cause: err });
  }
  if (UNTRUSTED.has(code) || /self[- ]signed certificate|unable to (verify|get local issuer)/i.test(text)) {
    return BusTlsFailed(`the certificate of the broker at ${where} is not signed by a CA this client trusts (${code || 'untrusted'}); set KAFKA_TLS_CA_FILE to the CA bundle that signed it`, {
      cause: err,
    });
  }
  if (EXPIRED.has(code)) {
    return BusTlsFailed(`the certificate of the broker at ${where} is expired or not yet valid (${code}); renew it, or check this machine's clock`, { cause: err });
  }
  if (tls && /alert (bad certificate|certificate required|unknown ca|certificate unknown)|ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|SSLV3_ALERT_BAD_CERTIFICATE/i.test(`${text} ${codes.join(' ')}`)) {
    return BusTlsFailed(`the broker at ${where} refused this client's certificate; set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE to a certificate signed by a CA the broker trusts`, { cause: err });
  }
  if (tls && /before secure TLS connection was established|wrong version number|packet length too long/i.test(text)) {
    return BusTlsFailed(`the listener at ${where} does not speak TLS; use its TLS port, or unset KAFKA_TLS for a plaintext listener`, { cause: err });
  }
  const brief = names.filter((n) => n.length > 0).slice(-1)[0] ?? 'unknown error';
  const hint = security?.sasl && !tls && /Closed connection/i.test(text) ? '; the listener may require TLS (KAFKA_TLS=true)' : '';
  return BusUnavailable(`cannot connect to ${where}: ${brief}${code ? ` ${code}` : ''}${hint}`, { cause: err });
}

const AUTHORIZATION_FAILURES = ['TOPIC_AUTHORIZATION_FAILED', 'GROUP_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'];

/** The broker's "not authorised" error type in a kafkajs error chain (an ACL is missing), or undefined. */
export function authorizationFailure(err: unknown): string | undefined {
  for (const e of chain(err)) {
    // createTopics fails with an aggregate of per-topic errors
    const inner = (e as { errors?: unknown }).errors;
    for (const x of [e, ...(Array.isArray(inner) ? inner : [])]) {
      const type = field(x, 'type');
      if (type && AUTHORIZATION_FAILURES.includes(type)) return type;
    }
  }
  return undefined;
}
