import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { signCredential } from '@jit/contracts';
import { createTestSigningKey } from '@jit/contracts/testing';
import { sealCredential } from '@jit/issuer';
import type { FetchFn } from './api-client';
import { runCli, type CliIo } from './program';

interface Captured {
  out: string[];
  err: string[];
  io: CliIo;
  requests: string[];
}

function harness(routes: Record<string, { status?: number; body: unknown }> = {}, env: Record<string, string> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  const requests: string[] = [];
  const fetchFn: FetchFn = async (url) => {
    requests.push(url);
    const path = new URL(url).pathname + new URL(url).search;
    const route = routes[path] ?? routes[new URL(url).pathname];
    if (!route) return new Response(JSON.stringify({ message: `no route ${path}` }), { status: 404 });
    return new Response(JSON.stringify(route.body), { status: route.status ?? 200 });
  };
  return { out, err, requests, io: { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: '/nonexistent', JIT_ID_TOKEN: 'ci-id-token-of-the-test', ...env }, fetch: fetchFn } };
}

const issuerKey = createTestSigningKey();
const otherKey = createTestSigningKey();
const jwks = (...keys: Array<ReturnType<typeof createTestSigningKey>>) => ({
  body: { keys: keys.map((k) => ({ kty: 'OKP', crv: 'Ed25519', kid: k.signer.publicKey.kid, x: k.signer.publicKey.x, roles: ['issuer'] })) },
});
/** A credential route answer as the issuer serves it: the sealed blob and the issuer's signature of it. */
function signedBody(sealed: string, opts: { elevationId?: string; substrate?: string; expiresAt?: string; key?: ReturnType<typeof createTestSigningKey> } = {}) {
  const elevationId = opts.elevationId ?? 'gl-3-4';
  const statement = { elevationId, grantId: `${elevationId}-${'a'.repeat(40)}`, expiresAt: opts.expiresAt ?? '2026-11-26T10:00:00Z', sealedCredential: sealed };
  return { body: { ...statement, substrate: opts.substrate ?? 'postgres', credentialSignature: signCredential((opts.key ?? issuerKey).signer, statement) } };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jit-cli-'));
});

describe('jit CLI: bad flags give one clear line and a non-zero exit', () => {
  it.each([
    [['status', 'orders-db'], /elevation id like gl-42-7/],
    [['status'], /missing required argument/],
    [['audit', '--format', 'xml'], /Allowed choices are table, json, csv/],
    [['audit', '--since', 'yesterday-ish'], /ISO date/],
    [['request', '--target', 'orders-db', '--scope', 'write', '--tier', 't', '--justification', 'x'.repeat(30), '--ttl', '5x'], /ttl|duration/i],
    [['request', '--target', 'orders-db'], /required option/],
    [['frobnicate'], /unknown command/],
  ])('jit %j', async (argv, message) => {
    const h = harness();
    const code = await runCli(argv as string[], h.io);
    expect(code).not.toBe(0);
    const text = h.err.join('\n');
    expect(text).toMatch(message);
    expect(text.split('\n').filter((l) => l.trim()).length).toBeLessThanOrEqual(2);
    expect(h.requests).toEqual([]);
  });

  it('request without GitLab settings names every missing one', async () => {
    const h = harness();
    const code = await runCli(
      ['request', '--target', 'orders-db', '--scope', 'write', '--tier', 'reversible-write', '--ttl', '30m', '--justification', 'backfill totals after INC-4411', '--recipient', 'age1xyz'],
      h.io,
    );
    expect(code).toBe(1);
    expect(h.err.join('')).toMatch(/GITLAB_URL.*GITLAB_TOKEN.*JIT_ELEVATIONS_PROJECT/);
  });

  it('an unreachable jit is one line naming the URL', async () => {
    const h = harness();
    h.io.fetch = async () => {
      throw new Error('connect ECONNREFUSED');
    };
    const code = await runCli(['--url', 'http://127.0.0.1:9', 'status', 'gl-1-2'], h.io);
    expect(code).toBe(1);
    expect(h.err).toEqual([expect.stringMatching(/^jit: cannot reach jit at http:\/\/127\.0\.0\.1:9/)]);
  });

  it('credentials written into the jit URL are never printed', async () => {
    const h = harness();
    h.io.fetch = async (url) => {
      throw new Error(`connect ECONNREFUSED while fetching ${String(url)}`);
    };
    const code = await runCli(['--url', 'http://ops:s3cret-pw@127.0.0.1:9', 'status', 'gl-1-2'], h.io);
    expect(code).toBe(1);
    expect(h.err).toEqual([expect.stringMatching(/^jit: cannot reach jit at http:\/\/127\.0\.0\.1:9/)]);
    expect(h.err.join('\n')).not.toMatch(/s3cret-pw|ops:/);
  });

  it('an API error is passed through with its code', async () => {
    const h = harness({ '/v1/elevations/gl-1-2': { status: 404, body: { code: 'JIT_ERR_API_NOT_FOUND', message: 'no elevation gl-1-2' } } });
    expect(await runCli(['status', 'gl-1-2'], h.io)).toBe(1);
    expect(h.err).toEqual([
      'jit: elevation gl-1-2 not found, or not visible to you (jit shows an elevation only to its requester, its eligible approvers and auditors) [no elevation gl-1-2 (JIT_ERR_API_NOT_FOUND)]',
    ]);
  });
});

describe('jit keygen, credential and exec', () => {
  it('writes a private identity, refuses to overwrite it, and opens a credential sealed to it', async () => {
    const identity = join(dir, 'id.txt');
    const h = harness();
    expect(await runCli(['--json', 'keygen', '--identity', identity], h.io)).toBe(0);
    const { recipient } = JSON.parse(h.out.join('')) as { recipient: string };
    expect(recipient).toMatch(/^age1[a-z0-9]{58}$/);
    expect((await stat(identity)).mode & 0o777).toBe(0o600);
    expect(await runCli(['keygen', '--identity', identity], h.io)).toBe(1);
    expect(h.err.at(-1)).toMatch(/already exists; pass --force/);

    const sealed = await sealCredential({ url: 'postgres://jit_x:pw-123@127.0.0.1:5432/app', password: 'pw-123' }, recipient);
    const c = harness({ '/v1/elevations/gl-3-4/credential': signedBody(sealed), '/v1/keys': jwks(issuerKey) }, { HOME: dir });
    expect(await runCli(['--json', 'credential', 'gl-3-4', '--identity', identity], c.io)).toBe(0);
    expect(JSON.parse(c.out.join('')).credential.password).toBe('pw-123');

    let seenEnv: Record<string, string> = {};
    c.io.run = async (cmd, args, env) => {
      seenEnv = env;
      expect([cmd, ...args]).toEqual(['psql', '-c', 'select 1']);
      return 3;
    };
    expect(await runCli(['exec', 'gl-3-4', '--identity', identity, '--', 'psql', '-c', 'select 1'], c.io)).toBe(3);
    expect(seenEnv.DATABASE_URL).toBe('postgres://jit_x:pw-123@127.0.0.1:5432/app');
    expect(seenEnv.PGPASSWORD).toBe('pw-123');
  });

  it('a credential sealed to someone else is refused clearly', async () => {
    const identity = join(dir, 'mine.txt');
    const other = join(dir, 'other.txt');
    const h = harness();
    await runCli(['keygen', '--identity', identity], h.io);
    await runCli(['--json', 'keygen', '--identity', other], h.io);
    const otherRecipient = JSON.parse(h.out.at(-1)!).recipient as string;
    const sealed = await sealCredential({ token: 's.secret' }, otherRecipient);
    const c = harness({ '/v1/elevations/gl-1-1/credential': signedBody(sealed, { elevationId: 'gl-1-1', substrate: 'vault' }), '/v1/keys': jwks(issuerKey) }, { HOME: dir });
    expect(await runCli(['credential', 'gl-1-1', '--identity', identity], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/cannot decrypt/);
    expect(c.err.join('')).not.toContain('s.secret');
  });

  it('an identity file without a key is refused', async () => {
    const identity = join(dir, 'broken.txt');
    await writeFile(identity, 'garbage\n');
    const c = harness({ '/v1/elevations/gl-1-1/credential': signedBody('x', { elevationId: 'gl-1-1' }), '/v1/keys': jwks(issuerKey) }, { HOME: dir });
    expect(await runCli(['credential', 'gl-1-1', '--identity', identity], c.io)).toBe(1);
    expect(c.err.join('')).toMatch(/no AGE-SECRET-KEY/);
    expect(await readFile(identity, 'utf8')).toBe('garbage\n');
  });
});

describe('jit exec: only the keys the substrate defines reach the child', () => {
  let n = 0;
  const setup = async (substrate: string, payload: Record<string, unknown>) => {
    const identity = join(dir, `id-${(n += 1)}.txt`);
    const k = harness();
    await runCli(['--json', 'keygen', '--identity', identity], k.io);
    const { recipient } = JSON.parse(k.out.join('')) as { recipient: string };
    const sealed = await sealCredential(payload as Record<string, string>, recipient);
    const c = harness({ '/v1/elevations/gl-5-6/credential': signedBody(sealed, { elevationId: 'gl-5-6', substrate }), '/v1/keys': jwks(issuerKey) }, { HOME: dir });
    const runs: Array<Record<string, string>> = [];
    c.io.run = async (_cmd, _args, env) => {
      runs.push(env);
      return 0;
    };
    const code = await runCli(['exec', 'gl-5-6', '--identity', identity, '--', 'psql'], c.io);
    return { code, runs, err: c.err.join('\n') };
  };

  it.each([
    ['postgres', { url: 'postgres://jit_x:pw-hostile-1@127.0.0.1/app', password: 'pw-hostile-1', NODE_OPTIONS: '--require /tmp/evil.js' }, 'NODE_OPTIONS'],
    ['postgres', { password: 'pw-hostile-1', LD_PRELOAD: '/tmp/evil.so' }, 'LD_PRELOAD'],
    ['vault:prod', { token: 'hvs.hostile-token-1', PATH: '/tmp/evil-bin' }, 'PATH'],
    ['aws-sts', { AWS_ACCESS_KEY_ID: 'ASIAHOSTILE1', AWS_SECRET_ACCESS_KEY: 'hostile-secret-key-1', AWS_SESSION_TOKEN: 'hostile-session-1', AWS_CA_BUNDLE: '/tmp/evil.pem' }, 'AWS_CA_BUNDLE'],
    ['gcp-iam', { GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.hostile-token-1', password: 'pw-hostile-1' }, 'password'],
  ])('a %s payload with a foreign key is refused whole, nothing run, no secret in the error', async (substrate, payload, foreign) => {
    const { code, runs, err } = await setup(substrate, payload);
    expect(code).toBe(1);
    expect(runs).toEqual([]);
    expect(err).toMatch(/refusing to run/);
    expect(err).toContain(foreign);
    for (const v of Object.values(payload)) expect(err).not.toContain(v);
  });

  it('a payload of an unknown substrate, or with a value that is not text, is refused', async () => {
    expect((await setup('memory', { token: 'hostile-token-1' })).err).toMatch(/does not know substrate "memory"/);
    const notText = await setup('postgres', { password: 'pw-hostile-1', port: { toString: 1 } });
    expect(notText.code).toBe(1);
    expect(notText.runs).toEqual([]);
    expect(notText.err).toMatch(/not text \(port\)/);
  });

  it("each substrate's own keys map to the variables its tools read", async () => {
    const aws = await setup('aws-sts', { AWS_ACCESS_KEY_ID: 'ASIAOK', AWS_SECRET_ACCESS_KEY: 'sk', AWS_SESSION_TOKEN: 'st', AWS_REGION: 'eu-west-1' });
    expect(aws.runs).toEqual([{ AWS_ACCESS_KEY_ID: 'ASIAOK', AWS_SECRET_ACCESS_KEY: 'sk', AWS_SESSION_TOKEN: 'st', AWS_REGION: 'eu-west-1' }]);
    const vault = await setup('vault:prod', { token: 'hvs.x', accessor: 'acc' });
    expect(vault.runs).toEqual([{ VAULT_TOKEN: 'hvs.x' }]);
    const pg = await setup('postgres', { url: 'postgres://u:p@h:5/d', user: 'u', password: 'p', host: 'h', port: '5', database: 'd' });
    expect(pg.runs).toEqual([{ DATABASE_URL: 'postgres://u:p@h:5/d', PGUSER: 'u', PGPASSWORD: 'p', PGHOST: 'h', PGPORT: '5', PGDATABASE: 'd' }]);
    const gcp = await setup('gcp-iam', { GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.x' });
    expect(gcp.runs).toEqual([{ GOOGLE_OAUTH_ACCESS_TOKEN: 'ya29.x' }]);
  });
});

describe('jit credential and exec check where a credential came from', () => {
  async function world() {
    const identity = join(dir, 'id.txt');
    const h = harness({}, { HOME: dir });
    await runCli(['--json', 'keygen', '--identity', identity], h.io);
    const { recipient } = JSON.parse(h.out.join('')) as { recipient: string };
    const sealed = await sealCredential({ url: 'postgres://jit_x:pw-pinned-123@127.0.0.1:5432/app', password: 'pw-pinned-123' }, recipient);
    return { identity, sealed };
  }

  it('pins the issuer key at first use, then refuses a credential signed by a different key and says how to reset', async () => {
    const { identity, sealed } = await world();
    const first = harness({ '/v1/elevations/gl-3-4/credential': signedBody(sealed), '/v1/keys': jwks(issuerKey) }, { HOME: dir });
    expect(await runCli(['--json', 'credential', 'gl-3-4', '--identity', identity], first.io)).toBe(0);
    expect(first.err.join('\n')).toMatch(new RegExp(`trusting issuer key ${issuerKey.signer.publicKey.kid} for http://127.0.0.1:8080`));
    const pins = join(dir, '.config', 'jit', 'known-issuers.json');
    expect((await stat(pins)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(pins, 'utf8'))).toEqual({ 'http://127.0.0.1:8080': expect.objectContaining({ kid: issuerKey.signer.publicKey.kid, x: issuerKey.signer.publicKey.x }) });

    // the same URL now answers with a credential another key signed (and lists that key as its issuer's)
    const impostor = harness({ '/v1/elevations/gl-3-4/credential': signedBody(sealed, { key: otherKey }), '/v1/keys': jwks(otherKey) }, { HOME: dir });
    for (const argv of [
      ['credential', 'gl-3-4'],
      ['exec', 'gl-3-4', '--', 'psql'],
    ]) {
      let ran = false;
      impostor.io.run = async () => ((ran = true), 0);
      expect(await runCli([argv[0]!, '--identity', identity, ...argv.slice(1)], impostor.io)).toBe(1);
      expect(ran).toBe(false);
    }
    const message = impostor.err.join('\n');
    expect(message).toMatch(new RegExp(`signed by issuer key ${otherKey.signer.publicKey.kid}, not by the key pinned for http://127.0.0.1:8080`));
    expect(message).toContain(`delete the "http://127.0.0.1:8080" entry from ${pins}`);
    expect(impostor.out.join('')).not.toContain('pw-pinned-123');
    // an altered blob under the pinned key's id is refused as well
    const tampered = signedBody(sealed);
    tampered.body.expiresAt = '2099-01-01T00:00:00Z';
    const t = harness({ '/v1/elevations/gl-3-4/credential': tampered }, { HOME: dir });
    expect(await runCli(['credential', 'gl-3-4', '--identity', identity], t.io)).toBe(1);
  });

  it("refuses a credential the issuer genuinely signed for another elevation (a server answering for gl-3-4 with gl-9-9's)", async () => {
    const { identity, sealed } = await world();
    for (const env of [{}, { JIT_ISSUER_KEY: issuerKey.signer.publicKey.x }] as Array<Record<string, string>>) {
      const h = harness({ '/v1/elevations/gl-3-4/credential': signedBody(sealed, { elevationId: 'gl-9-9' }), '/v1/keys': jwks(issuerKey) }, { HOME: dir, ...env });
      let ran = false;
      h.io.run = async () => ((ran = true), 0);
      expect(await runCli(['exec', 'gl-3-4', '--identity', identity, '--', 'psql'], h.io)).toBe(1);
      expect(ran).toBe(false);
      expect(h.err.join('\n')).toMatch(/signed for gl-9-9, not for gl-3-4/);
      expect(await runCli(['credential', 'gl-3-4', '--identity', identity], h.io)).toBe(1);
      expect(h.out.join('')).not.toContain('pw-pinned-123');
    }
  });

  it('takes the issuer key from JIT_ISSUER_KEY instead of a pin, and refuses an unsigned credential', async () => {
    const { identity, sealed } = await world();
    const withKey = harness({ '/v1/elevations/gl-3-4/credential': signedBody(sealed) }, { HOME: dir, JIT_ISSUER_KEY: issuerKey.signer.publicKey.x });
    expect(await runCli(['--json', 'credential', 'gl-3-4', '--identity', identity], withKey.io)).toBe(0);
    expect(withKey.requests.some((r) => r.endsWith('/v1/keys'))).toBe(false);
    const wrong = harness({ '/v1/elevations/gl-3-4/credential': signedBody(sealed) }, { HOME: dir, JIT_ISSUER_KEY: otherKey.signer.publicKey.x });
    expect(await runCli(['credential', 'gl-3-4', '--identity', identity], wrong.io)).toBe(1);
    expect(wrong.err.join('')).toMatch(/not signed by the issuer key in JIT_ISSUER_KEY/);
    const { credentialSignature: _sig, ...unsigned } = signedBody(sealed).body;
    const none = harness({ '/v1/elevations/gl-3-4/credential': { body: unsigned }, '/v1/keys': jwks(issuerKey) }, { HOME: dir });
    expect(await runCli(['credential', 'gl-3-4', '--identity', identity], none.io)).toBe(1);
    expect(none.err.join('')).toMatch(/carries no issuer signature/);
  });
});

describe('jit audit', () => {
  const rows = [
    { id: 'gl-1-1', state: 'revoked', requester: 'deploy-agent', target: 'orders-db', scope: 'write', tier: 'reversible-write', updatedAt: '2026-11-26T01:00:00Z' },
    { id: 'gl-1-2', state: 'rejected', requester: '=cmd|calc', target: 'orders-db', scope: 'ddl', tier: 'semi-destructive', updatedAt: '2026-11-26T02:00:00Z' },
  ];

  it('passes filters to the API and renders csv safe for spreadsheets', async () => {
    const h = harness({ '/v1/elevations': { body: { elevations: rows } } });
    expect(await runCli(['audit', '--state', 'revoked', '--target', 'orders-db', '--since', '2026-11-01', '--format', 'csv'], h.io)).toBe(0);
    const url = new URL(h.requests[0]!);
    expect(Object.fromEntries(url.searchParams)).toEqual({ state: 'revoked', target: 'orders-db', since: '2026-11-01T00:00:00.000Z' });
    const csv = h.out.join('\n').split('\n');
    expect(csv[0]).toBe('id,state,requester,target,scope,tier,expiresAt,updatedAt');
    expect(csv[2]).toContain(`"'=cmd|calc"`);
  });

  it('renders a table and json', async () => {
    const h = harness({ '/v1/elevations': { body: { elevations: rows } } });
    expect(await runCli(['audit'], h.io)).toBe(0);
    expect(h.out.join('\n')).toMatch(/^ID\s+STATE\s+REQUESTER/);
    expect(await runCli(['audit', '--format', 'json'], h.io)).toBe(0);
    expect(JSON.parse(h.out.at(-1)!)).toHaveLength(2);
  });
});
