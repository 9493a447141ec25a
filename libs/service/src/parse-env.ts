// Reads an environment through an app's zod schema once, at the edge: the typed config, or one
// ConfigError naming every bad key. Only the environment's own string entries are read (nothing
// inherited, so a polluted prototype cannot inject a setting); values with control characters or
// over the length limit are refused before any schema sees them; no value is ever echoed.
import { z } from 'zod';
import { ConfigError } from './config-error';
import { resolveSecretFiles, type SecretFileReader } from './secret-file';

export type Env = Record<string, string | undefined>;

export interface ParseEnvOptions {
  /** The app, for the message: "invalid issuer configuration". */
  service?: string;
  /** Problems found by other readers of the same environment (e.g. substrate settings), reported together. */
  problems?: readonly string[];
  /** Longest value accepted for a key of the schema. Default 4096 characters. */
  maxValueLength?: number;
  /** Reads the files of `X_FILE` secret settings (tests inject one). Default: readSecretFile. */
  readSecretFile?: SecretFileReader;
}

/** C0 controls and DEL: no setting of ours is multi-line, and a stray newline or NUL is always a mistake. */
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/** Parses `env` with `schema`; throws ConfigError listing every bad key (and `options.problems`). */
export function parseEnv<S extends z.ZodObject>(schema: S, env: Env, options: ParseEnvOptions = {}): z.output<S> {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new ConfigError(['(env): the environment must be an object of strings'], options.service);
  // `X_FILE` settings (secretEnv) are read first, so the file's content meets X's own schema.
  const files = resolveSecretFiles(schema.shape, env, options.readSecretFile);
  const result = checkEnv(schema, files.env, options.maxValueLength);
  // A problem with a value read from a file names the file's setting: that is what the operator set.
  const fromFile = (line: string): string => {
    const key = line.split(':', 1)[0]!;
    const fileKey = files.fromFile.get(key);
    if (fileKey) return `${fileKey}: the file's content${line.slice(key.length + 1)}`;
    const alternative = files.fileKeys.get(key);
    return alternative && line.includes(': is required') ? `${line} (or ${alternative}: a file holding it)` : line;
  };
  const problems = [...files.problems, ...result.problems.map(fromFile), ...(options.problems ?? [])];
  if (problems.length > 0 || !result.ok) throw new ConfigError(problems, options.service);
  return result.data;
}

type Checked<T> = { ok: true; data: T; problems: string[] } | { ok: false; problems: string[] };

function checkEnv<S extends z.ZodObject>(schema: S, env: Env, maxValueLength = 4096): Checked<z.output<S>> {
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    return { ok: false, problems: ['(env): the environment must be an object of strings'] };
  }
  const keys = Object.keys(schema.shape);
  const own = ownEntries(env, keys);
  const refused = new Map<string, string>();
  for (const key of keys) {
    const value = own[key];
    if (typeof value !== 'string') continue;
    if (value.length > maxValueLength) refused.set(key, `is ${value.length} characters long; at most ${maxValueLength} are accepted`);
    else if (hasControlCharacter(value)) refused.set(key, 'contains a control character (a newline, tab or NUL); remove it');
  }
  const parsed = schema.safeParse(own);
  const lines = [...refused].map(([key, why]) => `${key}: ${why}`);
  if (!parsed.success) lines.push(...formatEnvIssues(parsed.error.issues, own).filter((line) => !refused.has(line.split(':', 1)[0]!)));
  const problems = [...new Set(lines)];
  return parsed.success && problems.length === 0 ? { ok: true, data: parsed.data, problems } : { ok: false, problems };
}

/** The env's own entries for the schema's keys, in an object without a prototype. */
function ownEntries(env: Env, keys: string[]): Env {
  const own: Env = Object.create(null);
  for (const key of keys) {
    if (Object.prototype.hasOwnProperty.call(env, key)) own[key] = env[key];
  }
  return own;
}

/**
 * `KEY: message` per issue. Zod's messages describe the expected shape, not the input; as a
 * backstop, a key's own value (8+ characters: shorter ones are as likely to be words of the
 * message itself) is blanked out of its line should a custom message ever quote it.
 */
export function formatEnvIssues(issues: readonly z.core.$ZodIssue[], env: Env = {}): string[] {
  return issues.map((issue) => {
    const key = issue.path.length > 0 ? String(issue.path[0]) : '(env)';
    const value = Object.prototype.hasOwnProperty.call(env, key) ? env[key] : undefined;
    const message = typeof value === 'string' && value.length >= 8 ? issue.message.split(value).join('[redacted]') : issue.message;
    return `${key}: ${message}`;
  });
}
