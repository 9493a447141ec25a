// A hostile (or compromised) jit server answers with terminal escape sequences, carriage returns,
// line separators and bidi controls in every field. Nothing of it may reach the terminal, and no
// value may add a line to the output.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signCredential } from '@jit/contracts';
import { createTestSigningKey } from '@jit/contracts/testing';
import { sealCredential } from '@jit/issuer';
import { runCli } from './program';

const EVIL = [
  '\u001b[2J\u001b[H',
  '\u001b]8;;http://evil\u0007link\u001b]8;;\u0007',
  '\u009b31m',
  '\r  2026-01-01T00:00:00Z  granted  forged',
  '\n  forged line',
  '\u2028forged',
  '\u202e\u2066',
  '\u0007\u0008\u007f',
  '\ud800',
];
const evil = fc.array(fc.oneof(fc.constantFrom(...EVIL), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 8 }).map((a) => a.join(''));
/** What a terminal would act on or render deceptively: any control but LF, any format or separator character. */
const UNSAFE = /(?![\n])[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]|[\ud800-\udbff](?![\udc00-\udfff])/u;

async function run(argv: string[], routes: Record<string, { status?: number; body: unknown }>, env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    env: { HOME: '/nonexistent', JIT_ID_TOKEN: 'ci-id-token-of-the-test', ...env },
    fetch: async (url) => {
      const route = routes[new URL(url).pathname];
      return route ? new Response(JSON.stringify(route.body), { status: route.status ?? 200 }) : new Response('{}', { status: 404 });
    },
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const elevation = (x: string) => ({
  id: `gl-1-2${x}`,
  state: `granted${x}`,
  requester: `dev${x}`,
  target: `orders-db${x}`,
  scope: `write${x}`,
  tier: `t${x}`,
  expiresAt: `2026-11-26T10:00:00Z${x}`,
  updatedAt: x,
  timeline: [
    { type: `dev.jit.elevation.requested.v1${x}`, time: `2026-11-26T09:00:00Z${x}`, summary: `requested ${x}` },
    { type: 'dev.jit.elevation.granted.v1', time: '2026-11-26T09:30:00Z', summary: `granted on postgres${x}` },
  ],
});

describe('jit prints nothing a terminal acts on, whatever the server says', () => {
  it('status: one line per timeline entry, no escape, CR, separator or bidi control', async () => {
    await fc.assert(
      fc.asyncProperty(evil, async (x) => {
        const r = await run(['status', 'gl-1-2'], { '/v1/elevations/gl-1-2': { body: elevation(x) } });
        expect(r.code).toBe(0);
        expect(r.out).not.toMatch(UNSAFE);
        expect(r.out.split('\n')).toHaveLength(3);
        expect(r.out).not.toMatch(/\n {2}2026-01-01T00:00:00Z {2}granted {2}forged/);
      }),
      { numRuns: 100 },
    );
  });

  it('audit (table, csv) and catalog: one row per entry; --json keeps the values, escaped', async () => {
    await fc.assert(
      fc.asyncProperty(evil, async (x) => {
        const routes = { '/v1/elevations': { body: { elevations: [elevation(x), elevation(x)] } }, '/v1/catalog': { body: { entries: [{ target: x, scope: x, substrate: x, tier: x }] } } };
        for (const argv of [['audit'], ['audit', '--format', 'csv'], ['catalog']]) {
          const r = await run(argv, routes);
          expect(r.code, argv.join(' ')).toBe(0);
          expect(r.out, argv.join(' ')).not.toMatch(UNSAFE);
          expect(r.out.split('\n'), argv.join(' ')).toHaveLength(argv[0] === 'catalog' ? 2 : 3);
        }
        const json = await run(['--json', 'audit'], routes);
        expect(json.out).not.toMatch(UNSAFE);
        expect(JSON.parse(json.out)[0].requester).toBe(JSON.parse(JSON.stringify(`dev${x}`)));
      }),
      { numRuns: 60 },
    );
  });

  it("an error echoing the server's message is one clean line", async () => {
    await fc.assert(
      fc.asyncProperty(evil, async (x) => {
        const r = await run(['status', 'gl-1-2'], { '/v1/elevations/gl-1-2': { status: 500, body: { message: `boom ${x}`, code: `JIT_ERR_X${x}` } } });
        expect(r.code).toBe(1);
        expect(r.err).not.toMatch(UNSAFE);
        expect(r.err.split('\n')).toHaveLength(1);
        expect(r.err).toMatch(/^jit: boom/);
      }),
      { numRuns: 100 },
    );
  });

  it('credential: the substrate, expiry and every key and value print as one line each', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jit-hostile-'));
    const identity = join(dir, 'id.txt');
    const k = await run(['--json', 'keygen', '--identity', identity], {});
    const { recipient } = JSON.parse(k.out) as { recipient: string };
    const x = EVIL.join('');
    const sealed = await sealCredential({ password: `pw${x}`, [`user${x}`]: 'u' }, recipient);
    // signed by the issuer key the CLI trusts: what it prints is then the issuer's own text, still made inert
    const issuer = createTestSigningKey();
    const statement = { elevationId: 'gl-1-2', grantId: `gl-1-2-${'a'.repeat(40)}`, sealedCredential: sealed, expiresAt: `soon${x}` };
    const r = await run(
      ['credential', 'gl-1-2', '--identity', identity],
      { '/v1/elevations/gl-1-2/credential': { body: { ...statement, substrate: `postgres${x}`, credentialSignature: signCredential(issuer.signer, statement) } } },
      { JIT_ISSUER_KEY: issuer.signer.publicKey.x },
    );
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(UNSAFE);
    expect(r.out.split('\n')).toHaveLength(3);
  });
});
