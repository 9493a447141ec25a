import { chmodSync, mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError } from './config-error';
import { envSchemas as s } from './env-schemas';
import { parseEnv } from './parse-env';
import { MAX_SECRET_FILE_BYTES, readSecretFile, secretEnv } from './secret-file';
import { rmSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'jit-secret-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TOKEN = 'glpat-Secret0123456789abcd';

function file(name: string, content: string, mode = 0o600): string {
  const p = join(dir, name);
  writeFileSync(p, content, { mode });
  chmodSync(p, mode);
  return p;
}

const schema = z.object({ ...secretEnv('GITLAB_TOKEN', s.gitlabToken()), ...secretEnv('OPTIONAL_SECRET', z.string().min(16, 'needs at least 16 characters').optional()) });

function problems(env: Record<string, string | undefined>): string {
  try {
    parseEnv(schema, env, { service: 'test' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('secretEnv: X or X_FILE', () => {
  it('reads X from X_FILE, without the trailing newline, and keeps the path', () => {
    const e = parseEnv(schema, { GITLAB_TOKEN_FILE: file('token', `${TOKEN}\n`) });
    expect(e.GITLAB_TOKEN).toBe(TOKEN);
    expect(e.GITLAB_TOKEN_FILE).toBe(join(dir, 'token'));
  });

  it('still reads X itself', () => {
    expect(parseEnv(schema, { GITLAB_TOKEN: TOKEN }).GITLAB_TOKEN).toBe(TOKEN);
  });

  it('refuses X and X_FILE together, naming both', () => {
    const msg = problems({ GITLAB_TOKEN: TOKEN, GITLAB_TOKEN_FILE: file('both', TOKEN) });
    expect(msg).toContain('GITLAB_TOKEN_FILE: set GITLAB_TOKEN or GITLAB_TOKEN_FILE, not both');
    expect(msg).not.toContain(TOKEN);
  });

  it('a missing file fails naming the setting', () => {
    expect(problems({ GITLAB_TOKEN_FILE: join(dir, 'nope') })).toContain('GITLAB_TOKEN_FILE: cannot read the file (ENOENT)');
  });

  it('an unreadable file fails naming the setting', () => {
    const p = file('locked', TOKEN, 0o000);
    // root reads anything: the check is about what jit is told, so only assert where it applies
    if (process.getuid?.() === 0) return void expect(parseEnv(schema, { GITLAB_TOKEN_FILE: p }).GITLAB_TOKEN).toBe(TOKEN);
    expect(problems({ GITLAB_TOKEN_FILE: p })).toContain('GITLAB_TOKEN_FILE: cannot read the file (EACCES)');
  });

  it('a directory, a huge file and a relative path are refused', () => {
    mkdirSync(join(dir, 'adir'), { recursive: true });
    expect(problems({ GITLAB_TOKEN_FILE: join(dir, 'adir') })).toContain('GITLAB_TOKEN_FILE: cannot read the file (EISDIR)');
    expect(problems({ GITLAB_TOKEN_FILE: file('huge', 'x'.repeat(MAX_SECRET_FILE_BYTES + 1)) })).toContain('GITLAB_TOKEN_FILE: cannot read the file (EFBIG)');
    expect(problems({ GITLAB_TOKEN_FILE: 'secrets/token' })).toContain('GITLAB_TOKEN_FILE: must be an absolute path');
  });

  it('a symlink is followed (kubelet ..data), but never into /proc, /sys or /dev', () => {
    mkdirSync(join(dir, 'mounted'), { recursive: true });
    const real = file('mounted/token', `${TOKEN}\n`);
    symlinkSync(real, join(dir, 'token-link'));
    expect(readSecretFile(join(dir, 'token-link'))).toBe(TOKEN);
    // /proc/self/environ holds every secret of this process; its file stats as empty and regular
    symlinkSync('/proc/self/environ', join(dir, 'environ-link'));
    expect(() => readSecretFile(join(dir, 'environ-link'))).toThrow(expect.objectContaining({ code: 'ENOTSECRET' }));
    expect(problems({ GITLAB_TOKEN_FILE: join(dir, 'environ-link') })).toContain('GITLAB_TOKEN_FILE: cannot read the file (ENOTSECRET)');
    symlinkSync('/dev/zero', join(dir, 'zero-link'));
    expect(() => readSecretFile(join(dir, 'zero-link'))).toThrow(expect.objectContaining({ code: 'ENOTSECRET' }));
  });

  it('a bad content is reported against X_FILE, without the content', () => {
    const msg = problems({ GITLAB_TOKEN_FILE: file('short', 'abc') });
    expect(msg).toContain("GITLAB_TOKEN_FILE: the file's content must be a GitLab access token");
    expect(msg).not.toMatch(/^\s*GITLAB_TOKEN:/m);
    const twoLines = problems({ GITLAB_TOKEN_FILE: file('two-lines', `${TOKEN}\nsecond-line-secret\n`) });
    expect(twoLines).toContain("GITLAB_TOKEN_FILE: the file's content contains a control character");
    expect(twoLines).not.toContain('second-line-secret');
  });

  it('a required secret that is missing names both ways to set it', () => {
    expect(problems({})).toContain('GITLAB_TOKEN: is required: a GitLab access token with api scope (or GITLAB_TOKEN_FILE: a file holding it)');
  });

  it('an optional secret may be neither', () => {
    expect(parseEnv(schema, { GITLAB_TOKEN: TOKEN }).OPTIONAL_SECRET).toBeUndefined();
    expect(parseEnv(schema, { GITLAB_TOKEN: TOKEN, OPTIONAL_SECRET_FILE: file('opt', 'sixteen-chars-or-more') }).OPTIONAL_SECRET).toBe('sixteen-chars-or-more');
  });

  it('X_FILE without a matching X in the schema is an ordinary setting', () => {
    const other = z.object({ JIT_SIGNING_KEY_FILE: z.string().optional() });
    expect(parseEnv(other, { JIT_SIGNING_KEY_FILE: '/does/not/exist' }).JIT_SIGNING_KEY_FILE).toBe('/does/not/exist');
  });
});
