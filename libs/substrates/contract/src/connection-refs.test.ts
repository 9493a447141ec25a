import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { envRefLookup, resolveConnectionRefs, secretRefLookup } from './connection-refs';

describe('resolveConnectionRefs', () => {
  const env = envRefLookup({ DB_URL: 'postgres://admin:pw@db/app', VAULT_TOKEN: 's.tok' });

  it('maps secretRef to url and <key>Ref to <key>, leaving plain keys', () => {
    expect(resolveConnectionRefs('t', { secretRef: 'env:DB_URL', tokenRef: 'env:VAULT_TOKEN', region: 'eu-west-1' }, env)).toEqual({
      url: 'postgres://admin:pw@db/app',
      token: 's.tok',
      region: 'eu-west-1',
    });
  });

  it.each([
    [{ secretRef: 'env:UNSET' }, /env:UNSET, which is not set/],
    [{ secretRef: 'vault:DB_URL' }, /vault:DB_URL, which is not set/],
    [{ secretRef: 'DB_URL' }, /must look like env:NAME/],
    [{ secretRef: 42 }, /must look like env:NAME/],
    [{ secretRef: 'env:$(rm -rf /)' }, /must look like env:NAME/],
  ])('refuses %j clearly without echoing values', (connection, message) => {
    let err: Error | undefined;
    try {
      resolveConnectionRefs('orders-db', connection as Record<string, unknown>, env);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    expect(err?.message).not.toContain('pw@db');
  });
});

describe('file: references', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jit-refs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'admin-url');
  writeFileSync(file, 'postgres://admin:first-pw@db/app\n', { mode: 0o600 });
  const lookup = secretRefLookup({ DB_URL: 'postgres://admin:env-pw@db/app' });

  it('reads the file at each resolution, so a rotated file is what the next one returns', () => {
    expect(resolveConnectionRefs('t', { secretRef: `file:${file}`, tokenRef: 'env:DB_URL' }, lookup)).toEqual({ url: 'postgres://admin:first-pw@db/app', token: 'postgres://admin:env-pw@db/app' });
    writeFileSync(file, 'postgres://admin:second-pw@db/app\n');
    expect(resolveConnectionRefs('t', { secretRef: `file:${file}` }, lookup)).toEqual({ url: 'postgres://admin:second-pw@db/app' });
  });

  it.each([
    ['file:relative/path', /must name an absolute path/],
    ['file:./x', /must name an absolute path/],
    ['file:', /must name an absolute path/],
    ['file:/run/secrets/../../etc/shadow', /must name a normalised path/],
    ['file:/run/secrets/./x', /must name a normalised path/],
    ['file://run/secrets/x', /must name a normalised path/],
    ['file:/run/secrets/', /must name a normalised path/],
    ['file:/run/secrets/a b', /letters, digits/],
    ['file:/run/secrets/$(id)', /letters, digits/],
    ['file:/run/secrets/x\n', /letters, digits/],
    ['file:/proc/self/environ', /not name a file under \/proc/],
    ['file:/dev/zero', /not name a file under \/proc, \/sys or \/dev/],
    ['file:/sys/kernel/notes', /not name a file under/],
    [`file:${'/a'.repeat(600)}`, /at most 1024/],
  ])('refuses %s with a clear message', (ref, message) => {
    expect(() => resolveConnectionRefs('orders-db', { secretRef: ref }, lookup)).toThrow(message);
  });

  it('a symlink into /proc, /sys or /dev is refused as the path itself would be (the tree check is on the file read, not the name)', () => {
    // Debian's /etc/mtab -> ../proc/self/mounts is one such link in every image; any link will do.
    for (const [link, into] of [
      ['to-environ', '/proc/self/environ'],
      ['to-status', '/proc/self/status'],
      ['to-sys', '/sys/kernel/notes'],
    ] as const) {
      symlinkSync(into, join(dir, link));
      let err: Error | undefined;
      try {
        resolveConnectionRefs('orders-db', { secretRef: `file:${join(dir, link)}` }, lookup);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message, link).toMatch(/cannot be read on this jit instance \(ENOTSECRET\)/);
    }
  });

  it('a missing, empty or non-regular file names the reference and the errno, never a value', () => {
    writeFileSync(join(dir, 'empty'), '');
    for (const [ref, message] of [
      [`file:${join(dir, 'missing')}`, /cannot be read on this jit instance \(ENOENT\)/],
      [`file:${dir}`, /cannot be read on this jit instance \(EISDIR\)/],
      [`file:${join(dir, 'empty')}`, /which is empty/],
    ] as const) {
      let err: Error | undefined;
      try {
        resolveConnectionRefs('orders-db', { secretRef: ref }, lookup);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).toMatch(message);
      expect(err?.message).toContain('connection.secretRef names file:');
    }
  });
});
