// Throwaway certificates for TLS tests, made with the openssl CLI at test time (nothing checked
// in): a CA, a server certificate for 127.0.0.1 (IP SAN; CN is not a name any client checks), a
// client certificate for mTLS, and a second, unrelated CA for "untrusted" cases. EC P-256 keys:
// generating them takes milliseconds. Keys are unencrypted PKCS#8 PEM, which both Node and
// Kafka's PEM key store read.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TestingErrors } from './errors';

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caFile: string;
  /** A self-signed CA nothing here was signed by. */
  otherCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  /** Key then certificate in one file (Kafka's `ssl.keystore.type=PEM`). */
  serverKeystoreFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** The client certificate's subject as Kafka's default principal builder names it (`User:<this>`). */
  clientPrincipal: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2'];

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeout: 30_000 }).catch((err: unknown) => {
    throw TestingErrors.startFailed('openssl (test certificates)', (err as Error).message, '', { cause: err });
  });
}

/** Creates a fresh PKI in a new temporary directory (or `dir`). */
export async function createTestPki(dir = mkdtempSync(join(tmpdir(), 'jit-pki-'))): Promise<TestPki> {
  mkdirSync(dir, { recursive: true });
  const f = (name: string): string => join(dir, name);
  const ca = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  const leaf = (usage: string) => ['-addext', 'basicConstraints=critical,CA:FALSE', '-addext', `extendedKeyUsage=${usage}`];
  await Promise.all([
    openssl(['req', '-x509', ...EC, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-subj', '/CN=jit-test-ca', ...ca]),
    openssl(['req', '-x509', ...EC, '-keyout', f('other-ca.key'), '-out', f('other-ca.pem'), '-subj', '/CN=jit-untrusted-ca', ...ca]),
  ]);
  const signed = ['-CA', f('ca.pem'), '-CAkey', f('ca.key')];
  await Promise.all([
    openssl([
      'req',
      '-x509',
      ...EC,
      ...signed,
      '-keyout',
      f('server.key'),
      '-out',
      f('server.pem'),
      '-subj',
      '/CN=jit-test-broker',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      ...leaf('serverAuth,clientAuth'),
    ]),
    openssl(['req', '-x509', ...EC, ...signed, '-keyout', f('client.key'), '-out', f('client.pem'), '-subj', '/CN=jit-test-client', ...leaf('clientAuth')]),
  ]);
  writeFileSync(f('server-keystore.pem'), readFileSync(f('server.key'), 'utf8') + readFileSync(f('server.pem'), 'utf8'));
  return {
    dir,
    caFile: f('ca.pem'),
    otherCaFile: f('other-ca.pem'),
    serverCertFile: f('server.pem'),
    serverKeyFile: f('server.key'),
    serverKeystoreFile: f('server-keystore.pem'),
    clientCertFile: f('client.pem'),
    clientKeyFile: f('client.key'),
    clientPrincipal: 'CN=jit-test-client',
  };
}
