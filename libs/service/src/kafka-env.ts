// How every jit process secures its Kafka connection, read the same way everywhere: TLS (a CA
// bundle, a client certificate and key for mTLS, a server name) and SASL (PLAIN, SCRAM-SHA-256/512
// with a password from the environment or a file, OAUTHBEARER with a token file re-read at each
// authentication). Files are read and checked at start, so a bad one stops the process naming the
// setting — never the file's content or path. Inconsistent combinations are refused: SASL over
// plaintext needs KAFKA_SASL_ALLOW_PLAINTEXT=true, a certificate needs its key, and any of these
// without KAFKA_BROKERS is a mistake (the embedded bus has no connection to secure).
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { envSchemas } from './env-schemas';
import { describeReadFailure, readSecretFile, secretEnv } from './secret-file';
import { openSecret, type SecretLog, type SecretSource } from './secret-source';

export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];

/** PEM text the TLS connection uses; absent fields fall back to Node's defaults (system CAs, no client certificate). */
export interface KafkaTlsSettings {
  /** CA bundle that signed the brokers' certificates. */
  ca?: string;
  /** Client certificate (chain) for mTLS, with its key. */
  cert?: string;
  key?: string;
  /** Name the brokers' certificates must carry, instead of the broker host. */
  servername?: string;
}

export type KafkaSaslSettings =
  | {
      mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
      username: string;
      /** Called at each authentication, so a rotated password file takes effect on the next connection. */
      password: () => string;
    }
  | {
      mechanism: 'oauthbearer';
      /** The bearer token for the next authentication (the token file, read again each time). */
      token: () => Promise<string>;
    };

/** What the Kafka client needs to connect securely; `{}` is plaintext without authentication. */
export interface KafkaSecurity {
  tls?: KafkaTlsSettings;
  sasl?: KafkaSaslSettings;
  /**
   * Called by the client once it has a logger: watches the secret files (a rotation is logged, a
   * world-readable file warned about once). Returns what stops the watching; call it at close.
   */
  open?: (logger: SecretLog) => () => void;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * A file read at start with `read` and checked with `check` (a problem, or undefined when fine).
 * The value is `{ path, text }`; callers keep only what they need.
 */
function checkedFile(check: (text: string) => string | undefined, read: (path: string) => string = (p) => readFileSync(p, 'utf8')) {
  return envSchemas.path().transform((path, ctx) => {
    let text: string;
    try {
      text = read(path);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: describeReadFailure(err) });
      return z.NEVER;
    }
    const problem = check(text);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    }
    return { path, text };
  });
}

function parsesAsCertificate(block: string): boolean {
  try {
    new X509Certificate(block);
    return true;
  } catch {
    return false;
  }
}

/** A file of one or more PEM certificates, kept as text; refused when unreadable or without a certificate. */
function certificateFile(what: string) {
  return checkedFile((text) => {
    const blocks = text.match(PEM_CERTIFICATE) ?? [];
    return blocks.length > 0 && blocks.every(parsesAsCertificate) ? undefined : `must be a PEM file of ${what} (-----BEGIN CERTIFICATE-----)`;
  })
    .transform((f) => f.text)
    .optional();
}

/** An unencrypted PEM private key file, kept as text. */
function privateKeyFile() {
  return checkedFile((text) => {
    try {
      createPrivateKey(text);
      return undefined;
    } catch (err) {
      // Node asks for a passphrase it was not given (the code depends on the OpenSSL build); the PEM label says it plainly
      const encrypted = /-----BEGIN (ENCRYPTED PRIVATE KEY|RSA PRIVATE KEY-----\s+Proc-Type: 4,ENCRYPTED)/.test(text) || (err as { code?: unknown }).code === 'ERR_MISSING_PASSPHRASE';
      return encrypted ? 'holds an encrypted key; give jit the key unencrypted (e.g. from a Kubernetes secret mount)' : 'must be a PEM private key file (-----BEGIN PRIVATE KEY-----)';
    }
  })
    .transform((f) => f.text)
    .optional();
}

/** A file holding a secret: checked readable and non-empty at start; the value is its path (read again when used), never the text. */
function secretFile() {
  return (
    envSchemas
      .path()
      // read again later, whatever the working directory is then
      .refine(isAbsolute, 'must be an absolute path (the file is read again at each authentication)')
      .pipe(checkedFile((text) => (text.length === 0 ? 'the file is empty; it must hold the secret' : undefined), readSecretFile))
      .transform((f) => ({ path: f.path }))
      .optional()
  );
}

const mechanism = z
  .string()
  .transform((v) => v.trim().toLowerCase())
  .pipe(z.enum(KAFKA_SASL_MECHANISMS, { error: `must be one of ${KAFKA_SASL_MECHANISMS.join(', ')}` }))
  .optional();

/** The KAFKA_TLS* and KAFKA_SASL* settings; spread into an app's schema and check with `checkKafkaSecurity`. */
export function kafkaSecurityEnv() {
  return {
    KAFKA_TLS: envSchemas.flag(false),
    KAFKA_TLS_CA_FILE: certificateFile('the CA certificates that signed the brokers’ certificates'),
    KAFKA_TLS_CERT_FILE: certificateFile('the client certificate (and its chain) for mTLS'),
    KAFKA_TLS_KEY_FILE: privateKeyFile(),
    KAFKA_TLS_SERVERNAME: z
      .string()
      .max(253)
      .regex(/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'must be the DNS name the brokers’ certificates carry')
      .optional(),
    KAFKA_SASL_MECHANISM: mechanism,
    KAFKA_SASL_USERNAME: z.string().min(1, 'must not be empty').max(1024).optional(),
    // the file is re-read at each authentication (new connections), so a rotated password needs no restart
    ...secretEnv('KAFKA_SASL_PASSWORD', z.string().min(1, 'must not be empty').optional()),
    /** OAUTHBEARER: a file holding the token (a projected service-account token, or one a sidecar keeps fresh). */
    KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: secretFile(),
    KAFKA_SASL_ALLOW_PLAINTEXT: envSchemas.flag(false),
  };
}

/** The parsed settings, as a schema that spread `kafkaSecurityEnv()` outputs them. */
export type KafkaSecurityEnv = z.output<z.ZodObject<ReturnType<typeof kafkaSecurityEnv>>>;

const TLS_FILES = ['KAFKA_TLS_CA_FILE', 'KAFKA_TLS_CERT_FILE', 'KAFKA_TLS_KEY_FILE', 'KAFKA_TLS_SERVERNAME'] as const;
const SASL_DETAILS = ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE', 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE'] as const;

/**
 * For `.superRefine`: refuses combinations that cannot be what the operator meant. `brokers` is
 * whether KAFKA_BROKERS is set (an app on the embedded bus must not carry Kafka security settings).
 */
export function checkKafkaSecurity(env: KafkaSecurityEnv, ctx: z.RefinementCtx, brokers = true): void {
  const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
  if (!brokers) {
    const set = (['KAFKA_TLS', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_ALLOW_PLAINTEXT', ...TLS_FILES, ...SASL_DETAILS] as const).filter((k) => env[k]);
    for (const key of set) issue(key, 'secures a Kafka connection, but KAFKA_BROKERS is not set (the embedded bus has none); remove it or set KAFKA_BROKERS');
    return;
  }
  if (!env.KAFKA_TLS) {
    for (const key of TLS_FILES) if (env[key]) issue(key, 'is a TLS setting, but KAFKA_TLS is not true; set KAFKA_TLS=true');
  }
  if (!!env.KAFKA_TLS_CERT_FILE !== !!env.KAFKA_TLS_KEY_FILE) {
    const missing = env.KAFKA_TLS_CERT_FILE ? 'KAFKA_TLS_KEY_FILE' : 'KAFKA_TLS_CERT_FILE';
    issue(missing, 'is required with the other half of the client certificate: set KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE together (mTLS)');
  } else if (env.KAFKA_TLS_CERT_FILE && env.KAFKA_TLS_KEY_FILE && !certificateMatchesKey(env.KAFKA_TLS_CERT_FILE, env.KAFKA_TLS_KEY_FILE)) {
    issue('KAFKA_TLS_KEY_FILE', 'is not the private key of the certificate in KAFKA_TLS_CERT_FILE');
  }

  const mech = env.KAFKA_SASL_MECHANISM;
  if (!mech) {
    for (const key of SASL_DETAILS) if (env[key]) issue(key, `is a SASL setting, but KAFKA_SASL_MECHANISM is not set; set it to one of ${KAFKA_SASL_MECHANISMS.join(', ')}`);
    return;
  }
  if (!env.KAFKA_TLS && !env.KAFKA_SASL_ALLOW_PLAINTEXT) {
    issue('KAFKA_SASL_MECHANISM', 'SASL without TLS sends credentials (or a token) over plaintext: set KAFKA_TLS=true, or KAFKA_SASL_ALLOW_PLAINTEXT=true on a network you trust');
  }
  if (mech === 'oauthbearer') {
    if (!env.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE) issue('KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', 'is required with KAFKA_SASL_MECHANISM=oauthbearer: the file holding the bearer token');
    for (const key of ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'] as const) {
      if (env[key]) issue(key, 'is not used with KAFKA_SASL_MECHANISM=oauthbearer (the token identifies the client); remove it');
    }
    return;
  }
  if (!env.KAFKA_SASL_USERNAME) issue('KAFKA_SASL_USERNAME', `is required with KAFKA_SASL_MECHANISM=${mech}`);
  if (!env.KAFKA_SASL_PASSWORD && !env.KAFKA_SASL_PASSWORD_FILE) {
    issue('KAFKA_SASL_PASSWORD_FILE', `is required with KAFKA_SASL_MECHANISM=${mech} (or KAFKA_SASL_PASSWORD)`);
  }
  if (env.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE) issue('KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', `is only used with KAFKA_SASL_MECHANISM=oauthbearer, not ${mech}`);
}

/**
 * The password for the next authentication: from KAFKA_SASL_PASSWORD_FILE read again (a rotated
 * Kubernetes secret is used by the next connection), or the last good value when the file is
 * briefly unreadable or empty mid-rotation; from KAFKA_SASL_PASSWORD as it is.
 */
function passwordReader(atStart: string, file: string | undefined): () => string {
  if (!file) return () => atStart;
  let last = atStart;
  return () => {
    try {
      const now = readSecretFile(file);
      if (now.length > 0) last = now;
    } catch {
      // keep the last good value; the broker says so if it no longer fits
    }
    return last;
  };
}

/** The shared live source over a secret file: re-read on rotation (logged), world-readable warned once. */
function watchSecretFile(setting: string, file: string, logger: SecretLog): SecretSource {
  let value = '';
  try {
    value = readSecretFile(file);
  } catch {
    // checked at start; the source reports a file that went away
  }
  return openSecret({ setting, value, file, logger });
}

function certificateMatchesKey(certPem: string, keyPem: string): boolean {
  try {
    const key: KeyObject = createPrivateKey(keyPem);
    return new X509Certificate(certPem).checkPrivateKey(key);
  } catch {
    return false;
  }
}

/** The settings as the Kafka client takes them (after `checkKafkaSecurity` passed). */
export function kafkaSecurityFromEnv(e: KafkaSecurityEnv): KafkaSecurity {
  const security: KafkaSecurity = {};
  if (e.KAFKA_TLS) {
    security.tls = {
      ...(e.KAFKA_TLS_CA_FILE ? { ca: e.KAFKA_TLS_CA_FILE } : {}),
      ...(e.KAFKA_TLS_CERT_FILE ? { cert: e.KAFKA_TLS_CERT_FILE } : {}),
      ...(e.KAFKA_TLS_KEY_FILE ? { key: e.KAFKA_TLS_KEY_FILE } : {}),
      ...(e.KAFKA_TLS_SERVERNAME ? { servername: e.KAFKA_TLS_SERVERNAME } : {}),
    };
  }
  const mech = e.KAFKA_SASL_MECHANISM;
  if (mech === 'oauthbearer' && e.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE) {
    const { path } = e.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE;
    security.sasl = { mechanism: mech, token: async () => (await readFile(path, 'utf8')).trim() };
    // the token itself is read at each authentication; the watch only reports rotation and permissions
    security.open = (logger) => watchSecretFile('KAFKA_SASL_OAUTHBEARER_TOKEN', path, logger).close;
  } else if (mech && mech !== 'oauthbearer' && e.KAFKA_SASL_USERNAME) {
    const file = e.KAFKA_SASL_PASSWORD_FILE;
    security.sasl = { mechanism: mech, username: e.KAFKA_SASL_USERNAME, password: passwordReader(e.KAFKA_SASL_PASSWORD ?? '', file) };
    // the password is read at each authentication; the watch reports rotation and permissions
    if (file) security.open = (logger) => watchSecretFile('KAFKA_SASL_PASSWORD', file, logger).close;
  }
  return security;
}
