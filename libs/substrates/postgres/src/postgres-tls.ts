// TLS from jit to the target PostgreSQL (`tls` of an instance): verify-full (the CA and the host
// name) or verify-ca, an optional client certificate, never a fallback to plaintext. The CA,
// certificate and key files are read at every new connection (pg reads its `ssl` options then), so
// certificates rotated by cert-manager or a secret mount are used without a restart.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { EXPIRED_CERT_CODES, HOSTNAME_CERT_CODE, UNTRUSTED_CERT_CODES, type JitError } from '@jit/errors';
import { PostgresTlsConflict, PostgresTlsFile, PostgresTlsHostname, PostgresTlsUnavailable, PostgresTlsUntrusted } from './errors';

const filePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => p.startsWith('/'), 'must be an absolute path');

export const postgresTlsSchema = z
  .strictObject({
    /** verify-full: the CA and the host name (as libpq's sslmode=verify-full); verify-ca: the CA only. */
    mode: z.enum(['verify-full', 'verify-ca']).default('verify-full'),
    /** PEM bundle of the CAs that may sign the server certificate; default: Node's public CAs. */
    caFile: filePath.optional(),
    /** Client certificate and key (PEM) for servers that require one (pg_hba `clientcert=`). */
    certFile: filePath.optional(),
    keyFile: filePath.optional(),
  })
  .superRefine((t, ctx) => {
    if ((t.certFile === undefined) !== (t.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: [t.certFile ? 'keyFile' : 'certFile'], message: `${PostgresTlsConflict.code}: set certFile and keyFile together` });
    }
  });
export type PostgresTls = z.output<typeof postgresTlsSchema>;

/** URL parameters through which pg would set its own TLS over the instance's `tls` (the URL wins in pg). */
export const URL_TLS_PARAMS = ['ssl', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslcompression', 'sslnegotiation', 'uselibpqcompat'];

/** The configured URL's TLS parameters that clash with `tls` (names only, never the URL). */
export function urlTlsParams(raw: string): string[] {
  try {
    const url = new URL(raw);
    return URL_TLS_PARAMS.filter((p) => url.searchParams.has(p));
  } catch {
    return [];
  }
}

/** The files of `tls` as settings (for the start-up readability check). */
export function tlsFiles(tls: PostgresTls | undefined): Array<{ setting: string; path: string }> {
  if (!tls) return [];
  return (['caFile', 'certFile', 'keyFile'] as const).flatMap((k) => (tls[k] ? [{ setting: `tls.${k}`, path: tls[k] }] : []));
}

/** A file read failure, tagged so classification can name the setting (the content is never in it). */
class TlsFileError extends Error {
  constructor(
    readonly setting: string,
    readonly reason: string,
  ) {
    super(`${setting}: ${reason}`);
    this.name = 'TlsFileError';
  }
}

function read(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new TlsFileError(setting, String((err as { code?: unknown }).code ?? 'unreadable'));
  }
}

/** pg's `ssl` option for `tls`: getters, so every new connection reads the files again. */
export function pgSslOptions(tls: PostgresTls): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: true };
  if (tls.mode === 'verify-ca') options.checkServerIdentity = () => undefined;
  if (tls.caFile) Object.defineProperty(options, 'ca', { enumerable: true, get: () => read('tls.caFile', tls.caFile!) });
  if (tls.certFile) Object.defineProperty(options, 'cert', { enumerable: true, get: () => read('tls.certFile', tls.certFile!) });
  if (tls.keyFile) Object.defineProperty(options, 'key', { enumerable: true, configurable: true, get: () => read('tls.keyFile', tls.keyFile!) });
  return options;
}

/**
 * A TLS failure of a connection, as a catalogue error naming the server (host:port/db) and what to
 * fix; undefined when `err` is not about TLS. Node's message (which may quote the certificate's
 * names, never a secret) is not copied: the code says enough.
 */
export function classifyTls(name: string, server: string, err: unknown): JitError | undefined {
  if (err instanceof TlsFileError) return PostgresTlsFile(name, err.setting, err.reason, { cause: new Error(err.message) });
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : '';
  if (typeof code === 'string' && (UNTRUSTED_CERT_CODES.has(code) || EXPIRED_CERT_CODES.has(code))) return PostgresTlsUntrusted(name, server, code, { cause: err });
  if (code === HOSTNAME_CERT_CODE) return PostgresTlsHostname(name, server.split(':')[0] ?? server, { cause: err });
  if (message === 'The server does not support SSL connections') return PostgresTlsUnavailable(name, server, { cause: err });
  return undefined;
}
