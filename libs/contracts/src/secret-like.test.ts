import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as contracts from './index';
import { parseElevationEvent } from './cloud-event';
import { sampleEvent } from './testing';
import { EVENT_TYPES } from './topics';
import { SECRET_KINDS, detectAllSecretLike, detectSecretLike, findSecretLike, scanSecretLike, type SecretKind, type SecretLikeFinding } from './secret-like';

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Random text of `n` characters from `alphabet` (fresh per test run: no hard-coded secrets). */
const rand = (n: number, alphabet = BASE62) => [...randomBytes(n)].map((b) => alphabet[b % alphabet.length]).join('');
const URLSAFE = `${BASE62}_-`;
const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** An OpenBao service token as the server issues it: `s.` + 24 base62, with both cases and a digit. */
const openBaoToken = () => `s.${rand(21)}Aa7`;

const GITLAB_PREFIXES = ['glpat-', 'gloas-', 'gldt-', 'glrt-', 'glrtr-', 'glcbt-', 'glptt-', 'glft-', 'glimt-', 'glagent-', 'glsoat-', 'glffct-', 'glwt-'];

// [label, kind, secret]
const POSITIVES: [string, SecretKind, string][] = [
  ...GITLAB_PREFIXES.map((p): [string, SecretKind, string] => [`GitLab ${p}`, 'gitlab-token', `${p}${rand(20, URLSAFE)}`]),
  ['GitLab routable PAT', 'gitlab-token', `glpat-${rand(27, URLSAFE)}.01.${rand(9, BASE62.toLowerCase())}`],
  ['GitLab session cookie', 'gitlab-session-cookie', `_gitlab_session=${rand(32, '0123456789abcdef')}`],
  ['Vault service token', 'vault-token', `hvs.${rand(24)}`],
  ['Vault batch token', 'vault-token', `hvb.${rand(90, URLSAFE)}`],
  ['Vault recovery token', 'vault-token', `hvr.${rand(24)}`],
  ['OpenBao service token', 'vault-token', openBaoToken()],
  ['OpenBao service token in a namespace', 'vault-token', `${openBaoToken()}.${rand(5)}`],
  ['OpenBao batch token', 'vault-token', `b.AAAAAQ${rand(150, URLSAFE)}`],
  ['AWS access key id', 'aws-access-key-id', `AKIA${rand(16, UPPER_ALNUM)}`],
  ['AWS temporary access key id', 'aws-access-key-id', `ASIA${rand(16, UPPER_ALNUM)}`],
  ['AWS session token', 'aws-session-token', `IQoJb3JpZ2luX2Vj${rand(40)}`],
  ['AWS legacy session token', 'aws-session-token', `FwoGZXIvYXdzE${rand(40)}`],
  ['Standard Webhooks secret', 'webhook-secret', `whsec_${rand(32)}`],
  ['age identity', 'age-secret-key', `AGE-SECRET-KEY-1${rand(58, 'QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L')}`],
  ['age identity, lower case', 'age-secret-key', `age-secret-key-1${rand(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}`],
  ['PEM RSA private key', 'private-key', '-----BEGIN RSA PRIVATE KEY-----\nMIIE'],
  ['PEM PKCS#8 private key', 'private-key', '-----BEGIN PRIVATE KEY-----\nMIIE'],
  ['PEM encrypted private key', 'private-key', '-----BEGIN ENCRYPTED PRIVATE KEY-----'],
  ['OpenSSH private key', 'private-key', '-----BEGIN OPENSSH PRIVATE KEY-----'],
  ['PGP private key block', 'private-key', '-----BEGIN PGP PRIVATE KEY BLOCK-----'],
  ['URL with credentials', 'url-credentials', `postgres://jit_gl_42_7:${rand(16)}@db:5432/orders`],
  ['https URL with credentials', 'url-credentials', `https://oauth2:${rand(20)}@gitlab.example.com/g/p.git`],
  ['GitHub token', 'github-token', `ghp_${rand(36)}`],
  ['GitHub fine-grained token', 'github-token', `github_pat_${rand(22)}_${rand(59)}`],
  ['Google access token', 'google-access-token', `ya29.${rand(40, URLSAFE)}`],
];

// [label, near-miss text]: shaped almost like a secret, must not be flagged
const NEAR_MISSES: [string, string][] = [
  ['a GitLab prefix named in prose', 'rotate every glpat- token and every gldt- token after the incident'],
  ['a GitLab prefix with a short body', 'token glpat-abc123 (placeholder)'],
  ['a GitLab prefix glued to a word', `myglpat-${rand(20, BASE62)}`],
  ['an unknown gl prefix', `glxyz-${rand(24, BASE62)}`],
  ['an underscore instead of the dash', `glpat_${rand(24, BASE62)}`],
  ['a GitLab elevation id', 'gl-12345-678-0123456789abcdef0123456789abcdef01234567'],
  ['a Vault prefix with a short body', 'hvs.short'],
  ['a Vault prefix glued to a word', `xhvs.${rand(24)}`],
  ['an SQL alias and a CamelCase column', 'SELECT s.CustomerAccountNumbersXyz FROM sales s'],
  ['an alias and a 24-letter column', 'UPDATE orders o SET total = s.OrderTotalAfterDiscountX FROM s'],
  ['an s. prefix with 23 characters', `s.${rand(20)}Aa7`.slice(0, 25)],
  ['an s. prefix with 25 characters', `s.${rand(22)}Aa7`],
  ['an s. prefix on an all-lower-case run', `s.${rand(24, 'abcdefghijklmnopqrstuvwxyz0123456789')}`],
  ['a sentence ending in s. before a long word', 'see the runbooks.Afterwards we re-run the backfill'],
  ['b. followed by a short run', `b.${rand(40, URLSAFE)}`],
  ['AKIA plus 15 characters', `AKIA${rand(15, UPPER_ALNUM)}`],
  ['AKIA plus 17 characters', `AKIA${rand(17, UPPER_ALNUM)}`],
  ['a lower-case akia', `akia${rand(16, UPPER_ALNUM.toLowerCase())}`],
  ['an AWS role unique id', `AROA${rand(17, UPPER_ALNUM)}:jit-gl-1-2-abc`],
  ['whsec_ named in prose', 'the whsec_ secret lives in the vault'],
  ['whsec_ with a short body', `whsec_${rand(10)}`],
  ['an age recipient (public key)', `age1${rand(58, 'qpzry9x8gf2tvdw0s3jn54khce6mua7l')}`],
  ['AGE-SECRET-KEY without the 1', 'the AGE-SECRET-KEY- line must never be pasted'],
  ['a PEM public key', '-----BEGIN PUBLIC KEY-----\nMIIB'],
  ['a PEM certificate', '-----BEGIN CERTIFICATE-----\nMIIC'],
  ['a URL without credentials', 'https://gitlab.example.com/group/project/-/merge_requests/12#note_3'],
  ['a URL with a user but no password', 'ssh://git@gitlab.example.com:2222/group/project.git'],
  ['a URL with a port only', 'postgres://db.internal:5432/orders'],
  ['a mail address', 'mailto:alice@example.com'],
  ['ghp_ with a short body', 'ghp_abc'],
  ['ya29. with a short body', 'ya29.abc'],
];

describe('detectSecretLike: each known shape, positive and near miss', () => {
  it.each(POSITIVES)('finds a %s', (_label, kind, secret) => {
    const text = `before ${secret} after`;
    expect(detectSecretLike(text)).toEqual({ kind, path: '(root)', index: 7 });
  });

  it.each(NEAR_MISSES)('does not flag %s', (_label, text) => {
    expect(detectSecretLike(text)).toBeUndefined();
    expect(findSecretLike({ spec: { justification: text } })).toBeUndefined();
  });

  it('finds a GitLab token behind an instance prefix (SIE-glpat-…), at the GitLab prefix', () => {
    expect(detectSecretLike(`x SIE-glpat-${rand(20, URLSAFE)}`)).toEqual({ kind: 'gitlab-token', path: '(root)', index: 6 });
  });

  it('knows every kind it names', () => {
    expect(new Set(POSITIVES.map(([, kind]) => kind))).toEqual(new Set(SECRET_KINDS));
  });
});

describe('detectSecretLike: ordinary request text is not flagged', () => {
  const ordinary = {
    apiVersion: 'jit/v1',
    kind: 'ElevationRequest',
    spec: {
      target: 'orders-db',
      scope: 'write',
      ttl: '30m',
      riskTier: 'reversible-write',
      justification: 'Backfill order totals after INC-4411; see https://gitlab.example.com/ops/incidents/-/issues/4411 and runbook R-17.',
      rollbackPlan:
        'Restore from the 02:00 snapshot (s3://backups/orders/2026-11-26T02:00Z) via scripts/restore.sh; then run SELECT s.order_id, s.total FROM staging s; verify with psql postgres://db.internal:5432/orders.',
      recipient: 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p',
      breakGlass: false,
    },
    grants: ['INSERT, UPDATE ON ALL TABLES IN SCHEMA public', 'CREATE ON SCHEMA public', 'GRANT SELECT ON orders TO jit_gl_42_7'],
    ids: {
      elevation: 'gl-42-7',
      grant: 'gl-42-7-0123456789abcdef0123456789abcdef01234567',
      event: '2f1c9e4a-7b3d-8a21-9c4e-5d6f7a8b9c0d',
      accessor: rand(24),
      lease: `database/creds/orders_rw/${rand(24)}`,
      roleId: `AROA${rand(17, UPPER_ALNUM)}`,
      sha256: randomBytes(32).toString('hex'),
    },
    prose: 'We need s.t. the job finishes; e.g. 5 s. Mr. Smith approved. Tokens (glpat-, hvs.) are never pasted here.',
    when: '2026-11-26T04:00:00.000Z',
  };
  it('finds nothing in a realistic request, event ids, hashes, accessors and lease ids', () => {
    expect(detectAllSecretLike(ordinary)).toEqual([]);
  });
});

describe('detectSecretLike: never echoes the secret', () => {
  it.each(POSITIVES)('a %s is reported by kind and position only', (_label, _kind, secret) => {
    const value = { spec: { justification: `see ${secret}` }, list: [secret] };
    const all = detectAllSecretLike(value);
    expect(all.length).toBeGreaterThanOrEqual(2);
    const text = JSON.stringify([all, detectSecretLike(value), findSecretLike(value), scanSecretLike(secret)]);
    // the distinctive part of the secret (its random tail) never appears in any answer
    expect(text).not.toContain(secret.slice(-10));
  });

  it('a secret used as an object key is found and kept out of the path', () => {
    const secret = `glpat-${rand(20, URLSAFE)}`;
    const value = { spec: { [secret]: { inner: `hvs.${rand(24)}` } } };
    expect(detectSecretLike(value)).toEqual({ kind: 'gitlab-token', path: 'spec.[secret-like key]', index: 0 });
    const all = detectAllSecretLike(value);
    expect(all.map((f) => [f.kind, f.path])).toEqual([
      ['gitlab-token', 'spec.[secret-like key]'],
      ['vault-token', 'spec.[secret-like key].inner'],
    ]);
    expect(JSON.stringify(all)).not.toContain(secret.slice(6));
  });

  it.each(POSITIVES)('an event carrying a %s is refused, built or parsed, without echoing it', (_label, _kind, secret) => {
    let err: unknown;
    try {
      sampleEvent(EVENT_TYPES.revoked, { verifyDetail: `probe said ${secret}` });
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'JIT_ERR_CONTRACTS_SECRET_IN_EVENT' });
    expect(JSON.stringify(err) + String(err)).not.toContain(secret.slice(-10));
    const ev = sampleEvent(EVENT_TYPES.revoked);
    const parsed = parseElevationEvent({ ...ev, data: { ...ev.data, verifyDetail: `probe said ${secret}` } });
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('JIT_ERR_CONTRACTS_SECRET_IN_EVENT');
      expect(JSON.stringify(parsed.error) + String(parsed.error)).not.toContain(secret.slice(-10));
    }
  });
});

describe('detectSecretLike: paths, positions and the sealed credential', () => {
  it('reports the first finding in document order with its path and offset', () => {
    const hvs = `hvs.${rand(24)}`;
    const value = { a: 'plain', b: [{ c: 'x' }, { d: `token: ${hvs}` }], e: `AKIA${rand(16, UPPER_ALNUM)}` };
    expect(detectSecretLike(value)).toEqual({ kind: 'vault-token', path: 'b[1].d', index: 7 });
    expect(findSecretLike(value)).toBe('b[1].d');
    expect(detectAllSecretLike(value).map((f) => f.path)).toEqual(['b[1].d', 'e']);
    expect(detectAllSecretLike(value, 1)).toHaveLength(1);
  });

  it('reports several kinds in one string, earliest first', () => {
    const s = `a whsec_${rand(32)} then glpat-${rand(20, URLSAFE)}`;
    expect(scanSecretLike(s).map((f) => [f.kind, f.index])).toEqual([
      ['webhook-secret', 2],
      ['gitlab-token', s.indexOf('glpat-')],
    ]);
  });

  it('skips sealedCredential at the top level only', () => {
    const secret = `hvs.${rand(24)}`;
    expect(findSecretLike({ sealedCredential: secret })).toBeUndefined();
    expect(findSecretLike({ nested: { sealedCredential: secret } })).toBe('nested.sealedCredential');
  });

  it('finds a secret anywhere in ordinary text (property)', () => {
    const word = fc.stringMatching(/^[a-z]{1,12}$/);
    fc.assert(
      fc.property(fc.array(word, { maxLength: 30 }), fc.array(word, { maxLength: 30 }), fc.constantFrom(...POSITIVES), (before, after, [, kind, secret]) => {
        const head = before.length ? `${before.join(' ')} ` : '';
        const found = detectSecretLike(`${head}${secret} ${after.join(' ')}`);
        expect(found).toEqual({ kind, path: '(root)', index: head.length });
      }),
      { numRuns: 300 },
    );
  });

  it('never throws and never flags text made only of lower-case words and spaces (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.stringMatching(/^[a-z]{1,30}$/), { maxLength: 50 }), (words) => {
        expect(detectSecretLike(words.join(' '))).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true, maxDepth: 4 }), (v) => {
        expect(() => detectAllSecretLike(v)).not.toThrow();
      }),
    );
  });
});

describe('detectSecretLike: findings and paths as a plain recursive walk gives them (property)', () => {
  /** The walk spelled out naively (paths built eagerly, every string scanned in full): what the fast walk must equal. */
  function reference(value: unknown): SecretLikeFinding[] {
    const out: SecretLikeFinding[] = [];
    const seen = new WeakSet<object>();
    const segment = (k: string) => (scanSecretLike(k).length > 0 ? '[secret-like key]' : k.length > 64 ? `${k.slice(0, 64)}…` : k);
    const visit = (v: unknown, path: string, top: boolean): void => {
      if (typeof v === 'string') {
        for (const { kind, index } of scanSecretLike(v)) out.push({ kind, path: path || '(root)', index });
        return;
      }
      if (!v || typeof v !== 'object' || seen.has(v)) return;
      seen.add(v);
      if (Array.isArray(v)) {
        v.forEach((item, i) => visit(item, `${path}[${i}]`, false));
        return;
      }
      const children: [unknown, string][] = [];
      for (const [k, child] of Object.entries(v)) {
        if (top && k === 'sealedCredential') continue;
        const childPath = path ? `${path}.${segment(k)}` : segment(k);
        for (const { kind, index } of scanSecretLike(k)) out.push({ kind, path: childPath, index });
        children.push([child, childPath]);
      }
      for (const [child, childPath] of children) visit(child, childPath, false);
    };
    visit(value, '', true);
    return out;
  }

  it('finds the same secrets, in the same order, at the same paths and offsets', () => {
    const text = fc.oneof(
      fc.stringMatching(/^[a-z .:_/-]{0,20}$/),
      fc.constantFrom(...POSITIVES.map(([, , secret]) => secret)),
      fc.tuple(fc.stringMatching(/^[a-z ]{0,8}$/), fc.constantFrom(...POSITIVES.map(([, , secret]) => secret))).map(([a, b]) => `${a}${b}`),
    );
    const key = fc.oneof(fc.constantFrom('sealedCredential', 'a', 'b', 'x'.repeat(70)), text);
    const { tree } = fc.letrec((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.constant(null), fc.array(tie('tree'), { maxLength: 4 }), fc.dictionary(key, tie('tree'), { maxKeys: 4 })),
    }));
    fc.assert(
      fc.property(tree, (value) => {
        expect(detectAllSecretLike(value, 1000)).toEqual(reference(value));
      }),
      { numRuns: 500 },
    );
  });
});

describe('detectSecretLike: hostile input', () => {
  it('is linear on a long run of scheme characters before "://" (was quadratic: 160 KB took > 1 min)', () => {
    const started = performance.now();
    expect(detectSecretLike(`${'a'.repeat(1024 * 1024)}://`)).toBeUndefined();
    expect(detectSecretLike(`${'a.'.repeat(300_000)}://x:y`)).toBeUndefined();
    expect(detectSecretLike(`${'a://b:'.repeat(100_000)}`)).toBeUndefined();
    expect(detectSecretLike(`${'-----BEGIN '.repeat(50_000)}`)).toBeUndefined();
    expect(detectSecretLike(`${'s.'.repeat(200_000)}`)).toBeUndefined();
    expect(detectSecretLike(`${'glpat- '.repeat(100_000)}`)).toBeUndefined();
    expect(detectSecretLike(`${'AKIA'.repeat(100_000)}`)).toBeUndefined();
    // generous for a loaded 2-core CI box; the quadratic version needed minutes for the first line alone
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('still finds a secret at the end of a 1 MB string', () => {
    const secret = `glpat-${rand(20, URLSAFE)}`;
    const s = `${'x '.repeat(512 * 1024)}${secret}`;
    expect(detectSecretLike(s)).toEqual({ kind: 'gitlab-token', path: '(root)', index: s.length - secret.length });
  });

  it('walks 100 000 levels of nesting without a stack overflow, and survives cycles', () => {
    const secret = `ASIA${rand(16, UPPER_ALNUM)}`;
    let deep: unknown = { leaf: secret };
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(detectSecretLike(deep)?.kind).toBe('aws-access-key-id');
    const cyclic: Record<string, unknown> = { a: 'plain' };
    cyclic.self = cyclic;
    cyclic.list = [cyclic, { k: secret }];
    expect(detectSecretLike(cyclic)).toEqual({ kind: 'aws-access-key-id', path: 'list[1].k', index: 0 });
  });

  it('bounds keys in paths', () => {
    const key = 'k'.repeat(10_000);
    const found = detectSecretLike({ [key]: `hvs.${rand(24)}` });
    expect(found?.path.length).toBeLessThanOrEqual(65);
  });

  it('ignores non-string leaves', () => {
    expect(detectSecretLike([1, true, null, undefined, 3n, Symbol('s'), () => 'hvs.x', new Date()])).toBeUndefined();
  });
});

describe('public surface', () => {
  it('is exported from @jit/contracts with its types', () => {
    expect(contracts.detectSecretLike).toBe(detectSecretLike);
    expect(contracts.detectAllSecretLike).toBe(detectAllSecretLike);
    expect(contracts.findSecretLike).toBe(findSecretLike);
    expect(contracts.scanSecretLike).toBe(scanSecretLike);
    expectTypeOf(detectSecretLike).returns.toEqualTypeOf<SecretLikeFinding | undefined>();
    expectTypeOf(findSecretLike).returns.toEqualTypeOf<string | undefined>();
    expectTypeOf<SecretLikeFinding>().toEqualTypeOf<{ kind: SecretKind; path: string; index: number }>();
  });
});
