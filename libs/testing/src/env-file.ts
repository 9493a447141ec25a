// The `KEY=value` file start.sh writes (.cache/services/env) for `set -a; . env` and for tests.
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { TestingErrors } from './errors';

const KEY = /^[A-Z][A-Z0-9_]*$/;
/** Values go into a shell-sourced file: only characters that need no quoting. */
const SAFE_VALUE = /^[A-Za-z0-9_@%+=:,./~-]*$/;

export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq) : '';
    if (!KEY.test(key)) continue;
    out[key] = line.slice(eq + 1);
  }
  return out;
}

export function renderEnvFile(values: Record<string, string>): string {
  const keys = Object.keys(values).sort();
  for (const k of keys) {
    if (!KEY.test(k)) throw TestingErrors.badArgument(`env key ${JSON.stringify(k.slice(0, 64))} is not UPPER_SNAKE`);
    // the value may be a secret: say which key, never the value
    if (!SAFE_VALUE.test(values[k] ?? '')) throw TestingErrors.badArgument(`env value of ${k} has characters a shell would interpret`);
  }
  return keys.map((k) => `${k}=${values[k]}\n`).join('');
}

export function readEnvFile(path: string): Record<string, string> {
  return existsSync(path) ? parseEnvFile(readFileSync(path, 'utf8')) : {};
}

/** Merge `updates` into the file atomically (write + rename), readable by the owner only. */
export function updateEnvFile(path: string, updates: Record<string, string>): void {
  const merged = { ...readEnvFile(path), ...updates };
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, renderEnvFile(merged), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
