import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openSecret, secretSetting, staticSecret, type SecretSource } from './secret-source';
import { atomicSecretDir } from './testing';

const root = mkdtempSync(join(tmpdir(), 'jit-secret-source-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `case-${n++}`);

const opened: SecretSource<unknown>[] = [];
afterEach(() => opened.splice(0).forEach((s) => s.close()));
function open<T>(o: Parameters<typeof openSecret<T>>[0]): SecretSource<T> {
  const s = openSecret(o);
  opened.push(s as SecretSource<unknown>);
  return s;
}

function recorder() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  return {
    lines,
    logger: { info: (obj: object, msg: string) => void lines.push({ level: 'info', obj, msg }), warn: (obj: object, msg: string) => void lines.push({ level: 'warn', obj, msg }) },
    text: () => JSON.stringify(lines),
  };
}

const next = <T>(s: SecretSource<T>): Promise<T> => new Promise((resolve) => s.onChange(resolve));

describe('openSecret', () => {
  it('without a file the value never changes', () => {
    const s = staticSecret('X', 'v');
    expect(s.current()).toBe('v');
    expect(s.refresh()).toBe(false);
    expect(open({ setting: 'X', value: 'v' }).current()).toBe('v');
  });

  it('follows a kubelet-style ..data symlink swap (watch)', async () => {
    const vol = atomicSecretDir(fresh(), { token: 'first-secret-value' });
    const log = recorder();
    const s = open({ setting: 'GITLAB_TOKEN', value: 'first-secret-value', file: vol.path('token'), logger: log.logger, pollMs: 3_600_000 });
    const changed = next(s);
    vol.write({ token: 'second-secret-value' });
    await expect(changed).resolves.toBe('second-secret-value');
    expect(s.current()).toBe('second-secret-value');
    // and again: the watch survives the old version directory being removed
    const again = next(s);
    vol.write({ token: 'third-secret-value' });
    await expect(again).resolves.toBe('third-secret-value');
    expect(log.lines.filter((l) => l.level === 'info')).toHaveLength(2);
    expect(log.text()).not.toMatch(/first-secret|second-secret|third-secret/);
  });

  it('the periodic re-read alone finds a rotation (no watch)', async () => {
    const vol = atomicSecretDir(fresh(), { pw: 'old-password' });
    const s = open({ setting: 'PG_PASSWORD', value: 'old-password', file: vol.path('pw'), watch: false, pollMs: 20 });
    const changed = next(s);
    vol.write({ pw: 'new-password' });
    await expect(changed).resolves.toBe('new-password');
  });

  it('a file rewritten in place is picked up too', async () => {
    const dir = fresh();
    const vol = atomicSecretDir(dir, {});
    const p = join(vol.dir, 'plain');
    writeFileSync(p, 'before-rotation\n', { mode: 0o600 });
    const s = open({ setting: 'X', value: 'before-rotation', file: p, pollMs: 3_600_000 });
    const changed = next(s);
    writeFileSync(p, 'after-rotation\n');
    await expect(changed).resolves.toBe('after-rotation');
  });

  it('content the schema refuses keeps the current value, warned once without the content', async () => {
    const vol = atomicSecretDir(fresh(), { s: 'whsec_c2VjcmV0LW9uZQ==' });
    const log = recorder();
    const schema = z.string().regex(/^whsec_/);
    const s = open({ setting: 'JIT_WEBHOOK_SIGNING_SECRET', value: 'whsec_c2VjcmV0LW9uZQ==', file: vol.path('s'), schema, logger: log.logger, watch: false, pollMs: 3_600_000 });
    vol.write({ s: 'not-a-signing-secret' });
    expect(s.refresh()).toBe(false);
    expect(s.refresh()).toBe(false);
    expect(s.current()).toBe('whsec_c2VjcmV0LW9uZQ==');
    const warns = log.lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]!.obj).toMatchObject({ setting: 'JIT_WEBHOOK_SIGNING_SECRET_FILE', file: vol.path('s') });
    expect(log.text()).not.toContain('not-a-signing-secret');
    vol.write({ s: 'whsec_c2VjcmV0LXR3bw==' });
    expect(s.refresh()).toBe(true);
    expect(s.current()).toBe('whsec_c2VjcmV0LXR3bw==');
  });

  it('an empty file (a truncating rewrite caught half-way) keeps the current value', () => {
    const vol = atomicSecretDir(fresh(), { t: 'the-value' });
    const s = open({ setting: 'X', value: 'the-value', file: vol.path('t'), watch: false });
    vol.write({ t: '' });
    expect(s.refresh()).toBe(false);
    expect(s.current()).toBe('the-value');
  });

  it('a file that disappears keeps the current value and is warned about once', () => {
    const dir = fresh();
    const vol = atomicSecretDir(dir, {});
    const p = join(vol.dir, 'gone');
    writeFileSync(p, 'kept-value', { mode: 0o600 });
    const log = recorder();
    const s = open({ setting: 'X', value: 'kept-value', file: p, logger: log.logger, watch: false });
    unlinkSync(p);
    s.refresh();
    s.refresh();
    expect(s.current()).toBe('kept-value');
    expect(log.lines).toEqual([{ level: 'warn', obj: { setting: 'X_FILE', file: p, code: 'ENOENT' }, msg: 'cannot re-read the secret file; keeping the current value' }]);
  });

  it('warns once about a world-readable file', async () => {
    const vol = atomicSecretDir(fresh(), { t: 'readable-by-all' }, 0o644);
    const log = recorder();
    const s = open({ setting: 'X', value: 'readable-by-all', file: vol.path('t'), logger: log.logger, watch: false });
    vol.write({ t: 'still-readable' });
    expect(s.refresh()).toBe(true);
    const warns = log.lines.filter((l) => l.level === 'warn');
    expect(warns).toHaveLength(1);
    expect(warns[0]).toMatchObject({ obj: { setting: 'X_FILE', mode: '0644' } });
    expect(warns[0]!.msg).toContain('readable by every user');
    expect(log.text()).not.toMatch(/readable-by-all|still-readable/);
  });

  it('does not warn about a file only its owner (or group) can read', () => {
    const vol = atomicSecretDir(fresh(), { t: 'private' }, 0o440);
    chmodSync(join(vol.dir, '..data', 't'), 0o440);
    const log = recorder();
    open({ setting: 'X', value: 'private', file: vol.path('t'), logger: log.logger, watch: false });
    expect(log.lines).toEqual([]);
  });

  it('a failing consumer does not stop the others', () => {
    const vol = atomicSecretDir(fresh(), { t: 'a-value' });
    const log = recorder();
    const s = open({ setting: 'X', value: 'a-value', file: vol.path('t'), logger: log.logger, watch: false });
    const seen: string[] = [];
    s.onChange(() => {
      throw new Error('consumer broke with b-value');
    });
    s.onChange((v) => void seen.push(v));
    vol.write({ t: 'b-value' });
    s.refresh();
    expect(seen).toEqual(['b-value']);
    expect(log.text()).not.toContain('b-value');
  });

  it('after close nothing is read any more', () => {
    const vol = atomicSecretDir(fresh(), { t: 'one' });
    const s = open({ setting: 'X', value: 'one', file: vol.path('t'), watch: false });
    s.close();
    vol.write({ t: 'two' });
    expect(s.refresh()).toBe(false);
    expect(s.current()).toBe('one');
  });

  it('secretSetting picks X and X_FILE out of a parsed env', () => {
    expect(secretSetting({ GITLAB_TOKEN: 'v', GITLAB_TOKEN_FILE: '/run/secrets/t' }, 'GITLAB_TOKEN')).toEqual({ setting: 'GITLAB_TOKEN', value: 'v', file: '/run/secrets/t' });
    expect(secretSetting({ GITLAB_TOKEN: 'v', GITLAB_TOKEN_FILE: undefined }, 'GITLAB_TOKEN')).toEqual({ setting: 'GITLAB_TOKEN', value: 'v' });
  });
});
