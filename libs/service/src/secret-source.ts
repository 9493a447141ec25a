// A live secret: the current value of a secret setting and notice when it changes. From `X` it never
// changes; from `X_FILE` the file is re-read when it is rotated. Kubernetes secret volumes rotate by
// writing a new timestamped directory and renaming the `..data` symlink over the old one (kubelet's
// AtomicWriter), so the file's own inode never changes and a watch on it would see nothing: the
// directory is watched instead (fs.watch, inotify on Linux), and a periodic re-read catches what a
// watch can miss (network filesystems, a replaced parent directory, a watch that failed). A read
// that fails or a content the setting's schema refuses keeps the current value and is logged once,
// naming the setting and the file — never the content.
import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { readSecretFile, type SecretFileReader } from './secret-file';

/** What a consumer of a rotating secret needs (libs take this shape, not the class). */
export interface SecretFeed<T> {
  /** The value in force now. */
  current(): T;
  /** Called with each new value; returns the unsubscribe. */
  onChange(listener: (value: T) => void): () => void;
}

export interface SecretSource<T = string> extends SecretFeed<T> {
  /** The setting's name (X), for messages. */
  readonly setting: string;
  /** X_FILE's path when the value comes from a file. */
  readonly file?: string;
  /** Re-reads the file now (no-op without one); true when the value changed. */
  refresh(): boolean;
  /** Stops watching. */
  close(): void;
}

export interface SecretLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface OpenSecretOptions<T> {
  /** The setting, e.g. GITLAB_TOKEN. */
  setting: string;
  /** The value parsed at start-up (from X, or from X_FILE's content). */
  value: T;
  /** X_FILE's path; without it the source is static. */
  file?: string;
  /** Checks and converts a re-read file's content, as X's schema did at start. Default: the text as it is (non-empty). */
  schema?: z.ZodType<T>;
  logger?: SecretLog;
  /** Re-read interval besides the watch. Default 10 s. */
  pollMs?: number;
  /** Quiet time after a change event before re-reading, so one rotation's several events read once. Default 50 ms. */
  settleMs?: number;
  /** Watch the directory for changes (default true); false leaves the periodic re-read alone. */
  watch?: boolean;
  readFile?: SecretFileReader;
  /** Mode bits of the file (after symlinks), for the world-readable warning. */
  fileMode?: (path: string) => number;
}

/** A secret setting as parsed config carries it down to where the live source is opened. */
export interface SecretSetting<T> {
  setting: string;
  value: T;
  file?: string;
}

/** `X` of a parsed env (secretEnv) with its `X_FILE` path, when it came from one. */
export function secretSetting<E extends Record<string, unknown>, K extends keyof E & string>(e: E, key: K): SecretSetting<E[K]> {
  const file = e[`${key}_FILE`];
  return { setting: key, value: e[key], ...(typeof file === 'string' && file.length > 0 ? { file } : {}) };
}

/** The `X_FILE` name of a setting, as operators set it. */
const fileSetting = (setting: string): string => `${setting}_FILE`;

/** A source that never changes (the secret came from X itself). */
export function staticSecret<T>(setting: string, value: T): SecretSource<T> {
  return { setting, current: () => value, onChange: () => () => undefined, refresh: () => false, close: () => undefined };
}

/** Opens the live source of a secret setting: static without `file`, else watched and re-read. */
export function openSecret<T = string>(options: OpenSecretOptions<T>): SecretSource<T> {
  const { setting, file, logger } = options;
  if (!file) return staticSecret(setting, options.value);
  const readFile = options.readFile ?? readSecretFile;
  const fileMode = options.fileMode ?? ((p: string) => statSync(p).mode);
  const parse = (text: string): { ok: true; value: T } | { ok: false } => {
    if (!options.schema) return text.length > 0 ? { ok: true, value: text as T } : { ok: false };
    const r = options.schema.safeParse(text);
    return r.success ? { ok: true, value: r.data } : { ok: false };
  };
  const where = { setting: fileSetting(setting), file };
  const listeners = new Set<(value: T) => void>();
  let value = options.value;
  let lastText: string | undefined;
  let failing: string | undefined; // the problem last logged, so it is logged once, not at every poll
  let warnedMode = false;
  let closed = false;

  const checkMode = (): void => {
    if (warnedMode) return;
    try {
      const mode = fileMode(file);
      if ((mode & 0o004) === 0) return;
      warnedMode = true;
      logger?.warn(
        { ...where, mode: `0${(mode & 0o777).toString(8)}` },
        'secret file is readable by every user of the host; restrict it (chmod 600, or defaultMode: 0400 on a Kubernetes secret volume)',
      );
    } catch {
      // unreadable now: the read reports it
    }
  };

  const fail = (problem: string, fields: object): void => {
    if (failing === problem) return;
    failing = problem;
    logger?.warn({ ...where, ...fields }, `${problem}; keeping the current value`);
  };

  const check = (initial: boolean): boolean => {
    if (closed) return false;
    let text: string;
    try {
      text = readFile(file);
    } catch (err) {
      fail('cannot re-read the secret file', { code: (err as { code?: string })?.code ?? 'unreadable' });
      return false;
    }
    if (text === lastText) {
      failing = undefined;
      return false;
    }
    const parsed = parse(text);
    if (!parsed.ok) {
      fail(`the secret file's new content is not a valid ${setting}`, {});
      return false;
    }
    failing = undefined;
    lastText = text;
    checkMode();
    value = parsed.value;
    if (initial) return false; // nobody listens yet
    logger?.info(where, `${setting} rotated: re-read from its file`);
    for (const listener of listeners) {
      try {
        listener(value);
      } catch (err) {
        logger?.warn({ ...where, err: { name: (err as Error)?.name, code: (err as { code?: string })?.code } }, 'a consumer of the rotated secret failed');
      }
    }
    return true;
  };

  let settle: NodeJS.Timeout | undefined;
  const onEvent = (): void => {
    if (closed || settle) return;
    settle = setTimeout(() => {
      settle = undefined;
      check(false);
    }, options.settleMs ?? 50);
    settle.unref();
  };

  let watcher: FSWatcher | undefined;
  const ensureWatch = (): void => {
    if (watcher || closed || options.watch === false) return;
    try {
      const w = watch(dirname(file), { persistent: false }, onEvent);
      // The directory went away (an unmounted volume): polling goes on and watches again when it can.
      w.on('error', () => {
        w.close();
        if (watcher === w) watcher = undefined;
      });
      watcher = w;
    } catch {
      watcher = undefined;
    }
  };

  check(true);
  checkMode();
  ensureWatch();
  const poll = setInterval(() => {
    ensureWatch();
    check(false);
  }, options.pollMs ?? 10_000);
  poll.unref();

  return {
    setting,
    file,
    current: () => value,
    onChange(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    refresh: () => check(false),
    close() {
      closed = true;
      clearInterval(poll);
      if (settle) clearTimeout(settle);
      watcher?.close();
      watcher = undefined;
      listeners.clear();
    },
  };
}
