import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { credentialEnv, defineCredentialShape } from './credential-shape';

const shape = defineCredentialShape('demo', { token: ['DEMO_TOKEN'], accessor: [] });

describe('defineCredentialShape', () => {
  it.each([['PATH'], ['NODE_OPTIONS'], ['LD_PRELOAD'], ['DYLD_INSERT_LIBRARIES'], ['PGSSLROOTCERT'], ['lower']])('no shape may set %s', (env) => {
    expect(() => defineCredentialShape('demo', { token: [env] })).toThrow(/may not set/);
  });

  it('refuses a bad kind or key name', () => {
    expect(() => defineCredentialShape('Demo', {})).toThrow(/kind/);
    expect(() => defineCredentialShape('demo', { 'a-b': [] })).toThrow(/key/);
  });
});

describe('credentialEnv', () => {
  it('maps the keys of the shape and keeps unexported ones out of the environment', () => {
    expect(credentialEnv(shape, { token: 't', accessor: 'a' })).toEqual({ ok: true, env: { DEMO_TOKEN: 't' } });
    expect(credentialEnv(shape, {})).toEqual({ ok: true, env: {} });
  });

  it('refuses any payload with a key outside the shape, naming printable keys and never a value', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 80 }), fc.string({ minLength: 12, maxLength: 40 }), { minKeys: 1 }), (extra) => {
        const foreign = Object.keys(extra).filter((k) => !['token', 'accessor'].includes(k));
        fc.pre(foreign.length > 0);
        const r = credentialEnv(shape, { token: 'tok-value-123456', ...extra });
        expect(r.ok).toBe(false);
        const problem = (r as { problem: string }).problem;
        expect(problem).not.toContain('tok-value-123456');
        for (const v of Object.values(extra)) if (!Object.keys(extra).includes(v)) expect(problem).not.toContain(v);
        // nothing but plain key names, commas and words: no control character reaches a terminal
        expect(problem).toMatch(/^[\x20-\x7e]+$/);
      }),
    );
  });

  it('refuses values that are not text and payloads that are not objects', () => {
    expect(credentialEnv(shape, { token: 1 })).toMatchObject({ ok: false, problem: expect.stringMatching(/not text \(token\)/) });
    for (const bad of [null, 'x', ['token'], 7]) expect(credentialEnv(shape, bad).ok).toBe(false);
  });
});
