// The all-in-one process's data dir: made and checked writable before anything is stored in it,
// whether an earlier run left entries, and the event-signing key kept in it.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createEventSigner, generateSigningKeyPem, type EventSigner } from '@jit/contracts';
import type { Logger } from '@jit/observability';
import type { JitConfig } from './config';
import { DataDirUnusable } from './errors';

/**
 * The process's signing key: JIT_SIGNING_KEY_FILE, or the one kept in the data dir (created at the
 * first start, 0600), so `npm start` signs out of the box and a restart keeps trusting its own log.
 */
export function loadOrCreateSigner(config: JitConfig, logger: Logger): EventSigner {
  if (config.signing.privateKeyPem) return createEventSigner(config.signing.privateKeyPem);
  const file = join(config.dataDir, 'signing-key.pem');
  if (!existsSync(file)) {
    writeFileSync(file, generateSigningKeyPem(), { mode: 0o600, flag: 'wx' });
    logger.info({ file }, 'created this jit’s event-signing key (keep it with the data dir; GET /v1/keys shows its public half)');
  }
  return createEventSigner(readFileSync(file, 'utf8'));
}

/** The data dir exists (made if missing) and jit may write in it; otherwise a message saying why not. */
export function prepareDataDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'it (or a directory above it) is a file, not a directory'
        : code === 'EACCES' || code === 'EPERM'
          ? 'it does not exist and cannot be created here (permission denied)'
          : code === 'EROFS'
            ? 'it does not exist and the file system is read-only'
            : `it cannot be created (${code ?? 'unknown error'})`;
    throw DataDirUnusable(dir, `${why}; set JIT_DATA_DIR to a directory jit may create and write`, { cause: err });
  }
  if (!statSync(dir).isDirectory()) throw DataDirUnusable(dir, 'it is not a directory; set JIT_DATA_DIR to a directory');
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw DataDirUnusable(dir, `jit may not write in it (${(err as NodeJS.ErrnoException).code ?? 'denied'}); give the user jit runs as write access, or choose another JIT_DATA_DIR`, {
      cause: err,
    });
  }
}

export function dirHasEntries(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}
