// Where the installed service runtimes live (see scripts/services/setup.sh) and where state goes.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TestingErrors } from './errors';

/** The repository root: this file is libs/testing/src/paths.ts. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const CACHE_DIR = join(REPO_ROOT, '.cache');
/** Where scripts/services/start.sh keeps env, pid and log files (JIT_SERVICES_DIR overrides it). */
export const SERVICES_DIR = process.env.JIT_SERVICES_DIR || join(CACHE_DIR, 'services');
export const KAFKA_JARS_DIR = join(CACHE_DIR, 'kafka', 'jars');
/** Class-data-sharing archive of a broker run, built by setup.sh (optional). */
export const KAFKA_CDS_ARCHIVE = join(CACHE_DIR, 'kafka', 'kafka.jsa');
export const VENV_BIN = join(REPO_ROOT, '.venv', 'bin');

/** Fails with a pointer to the setup script when a runtime is missing. */
export function requireInstalled(what: string, path: string): string {
  if (!existsSync(path)) throw TestingErrors.notInstalled(what, path);
  return path;
}
