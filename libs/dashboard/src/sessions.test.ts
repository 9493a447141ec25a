// Sealed sessions: any sealer holding the key opens them, nothing else does (another key, one
// altered byte, a sign-in cookie passed off as a session, an expired one), rotation keeps old
// sessions open while new ones use the new key, and a session fits a browser cookie.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import { createSessionSealer, MAX_COOKIE_BYTES } from './sessions';

const key = () => randomBytes(32).toString('base64url');
const TOKEN = 'a'.repeat(64);
const REFRESH = 'b'.repeat(64);
const newSession = { token: TOKEN, refreshToken: REFRESH, tokenExpiresAt: Date.now() + 7200_000, username: 'carol', ttlMs: 3600_000 };
const kidOf = (cookie: string) => (JSON.parse(Buffer.from(cookie.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('sealed dashboard sessions', () => {
  it('two sealers with the same key open each other’s sessions; the browser sees no token', async () => {
    const k = key();
    const a = createSessionSealer({ keys: () => [k] });
    const b = createSessionSealer({ keys: () => [k] });
    const { session, cookie } = await a.create(newSession);
    expect(await b.get(cookie)).toEqual(session);
    expect(session).toMatchObject({ token: TOKEN, refreshToken: REFRESH, username: 'carol' });
    // encrypted, not merely signed: neither token nor name is readable in any part of it
    const readable = cookie
      .split('.')
      .map((part) => Buffer.from(part, 'base64url').toString('latin1'))
      .join(' ');
    for (const s of [TOKEN, REFRESH, 'carol', session.csrf]) expect(readable).not.toContain(s);
  });

  it('refuses a cookie sealed with another key, or with any byte altered', async () => {
    const k = key();
    const mine = createSessionSealer({ keys: () => [k] });
    const foreign = createSessionSealer({ keys: () => [key()] });
    const { cookie } = await mine.create(newSession);
    expect(await foreign.get(cookie)).toBeUndefined();
    const parts = cookie.split('.');
    for (let i = 0; i < parts.length; i++) {
      if (parts[i] === '') continue; // `dir` has no encrypted key
      const flipped = [...parts];
      const p = flipped[i]!;
      const at = Math.floor(p.length / 2);
      flipped[i] = `${p.slice(0, at)}${p[at] === 'A' ? 'B' : 'A'}${p.slice(at + 1)}`;
      expect(await mine.get(flipped.join('.')), `part ${i}`).toBeUndefined();
    }
    // a header naming the algorithm `none`, or a key id of the other key
    const header = Buffer.from(JSON.stringify({ alg: 'none', enc: 'A256GCM' })).toString('base64url');
    expect(await mine.get([header, ...parts.slice(1)].join('.'))).toBeUndefined();
    for (const junk of [undefined, '', 'A'.repeat(43), 'x'.repeat(MAX_COOKIE_BYTES + 1)]) expect(await mine.get(junk)).toBeUndefined();
  });

  it('rotation: a previous key still opens, new sessions are sealed with the first key', async () => {
    const oldKey = key();
    const newKey = key();
    const before = createSessionSealer({ keys: () => [oldKey] });
    const after = createSessionSealer({ keys: () => [newKey, oldKey] });
    const onlyNew = createSessionSealer({ keys: () => [newKey] });
    const old = await before.create(newSession);
    expect((await after.get(old.cookie))?.id).toBe(old.session.id);
    const fresh = await after.create(newSession);
    expect(kidOf(fresh.cookie)).not.toBe(kidOf(old.cookie));
    expect((await onlyNew.get(fresh.cookie))?.id).toBe(fresh.session.id);
    expect(await before.get(fresh.cookie)).toBeUndefined();
    // the old key dropped: its sessions end
    expect(await onlyNew.get(old.cookie)).toBeUndefined();
    // the key list is read at each use (a rotated file takes effect without a restart)
    let keys = [oldKey];
    const live = createSessionSealer({ keys: () => keys });
    keys = [newKey, oldKey];
    expect(kidOf((await live.create(newSession)).cookie)).toBe(kidOf(fresh.cookie));
  });

  it('a sign-in cookie is no session and a session no sign-in; both end when they expire', async () => {
    let now = Date.now();
    const k = key();
    const s = createSessionSealer({ keys: () => [k], now: () => now });
    const flow = await s.startSignIn({ codeVerifier: 'v'.repeat(43), returnTo: '/ui/live' });
    expect(await s.openSignIn(flow.cookie)).toEqual({ state: flow.state, codeVerifier: 'v'.repeat(43), returnTo: '/ui/live' });
    expect(await s.get(flow.cookie)).toBeUndefined();
    const { cookie } = await s.create(newSession);
    expect(await s.openSignIn(cookie)).toBeUndefined();
    now += 601_000;
    expect(await s.openSignIn(flow.cookie)).toBeUndefined();
    expect(await s.get(cookie)).toBeDefined();
    now += 3600_000;
    expect(await s.get(cookie)).toBeUndefined();
  });

  it('a signed-out session no longer opens in the process that signed it out', async () => {
    const k = key();
    const s = createSessionSealer({ keys: () => [k] });
    const { session, cookie } = await s.create(newSession);
    s.destroy(session);
    expect(await s.get(cookie)).toBeUndefined();
  });

  it('fits a browser cookie with GitLab-sized tokens and the longest username; refuses rather than sets a larger one', async () => {
    const s = createSessionSealer({ keys: () => [key()] });
    const { cookie } = await s.create({ ...newSession, token: 'g'.repeat(1024), refreshToken: 'r'.repeat(1024), username: 'u'.repeat(255) });
    expect(`__Host-jit_session=${cookie}`.length).toBeLessThanOrEqual(MAX_COOKIE_BYTES + 20);
    const err = await s.create({ ...newSession, token: 'g'.repeat(3000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JitError);
    expect((err as JitError).code).toBe('JIT_ERR_UI_SESSION_TOO_LARGE');
    expect((err as JitError).message).not.toContain('ggg');
  });
});
