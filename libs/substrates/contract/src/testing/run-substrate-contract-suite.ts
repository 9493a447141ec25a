// The shared contract suite every substrate adapter's integration test runs against a real
// server: issue works, revoke ends it (twice is fine), listIssued sees it then not, issuing one
// grant id twice leaves one live credential, the optional safety checks (checkTtl,
// checkDefaultIsReadOnly, checkSetup) answer well-formed findings, no secret leaks into handles,
// errors or findings — and what the grantee will try (docs/adding-a-substrate.md) fails: going
// beyond the scope, keeping access past revoke, blocking the revoke, hijacking jit's admin session.
import { randomBytes, randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JitError } from '@jit/errors';
import type { CredentialShape } from '../credential-shape';
import type { SubstrateFacts } from '../define-substrate';
import type { Finding, IssueRequest, Issued, RevocationHandle, Substrate } from '../substrate';

export interface ContractHarness {
  substrate: Substrate;
  /** A valid request for `grantId` (scope, connection, ttl) against the real server. */
  makeRequest(grantId: string): IssueRequest;
  /** Use the credential against the real server: true = it works. Never throw for "denied". */
  probe(secret: Record<string, string>): Promise<boolean>;
  /** What the holder of a credential will try, as an attacker would, on the real server. */
  attacks?: GranteeAttacks;
  /**
   * The definition's static facts for the same config (`definition.facts(config)`): what the
   * distributed gate validates policies with must say what the instance says.
   */
  facts?: SubstrateFacts;
  teardown?(): Promise<void>;
}

/** Something the grantee left to keep access after revoke (a held session, a child token, a chained session). */
export interface Foothold {
  /** Secret-free, e.g. `session opened before revoke`. */
  name: string;
  /** true = it still gives access. Never throw for "denied". */
  works(): Promise<boolean>;
}

/**
 * The grantee-attack hooks ("what the grantee will try", docs/adding-a-substrate.md). Each uses a
 * live credential of the harness scope the way its holder could. Supply every hook the backend
 * lets a grantee attempt; skip a case only with the reason it cannot apply. A case whose hook is
 * missing and that is not skipped fails, so every adapter answers the whole checklist.
 */
export interface GranteeAttacks {
  /** Try what the scope does not allow (other objects, other verbs, identity and catalog changes); answer the names of the attempts that worked. */
  tryBeyondScope?(secret: Record<string, string>): Promise<string[]>;
  /** Leave footholds meant to outlive revoke; answer those established (each must work now). */
  tryOutliveRevoke?(secret: Record<string, string>): Promise<Foothold[]>;
  /** Try to make revoke fail or hang (hold connections, locks, quotas); release() frees what is left. */
  tryBlockRevoke?(secret: Record<string, string>): Promise<{ release(): Promise<void> }>;
  /** Plant something jit's own admin session could run while it issues, lists, checks or revokes; hijacked() says whether it ran. */
  tryHijackAdmin?(secret: Record<string, string>): Promise<{ hijacked(): Promise<boolean>; cleanup?(): Promise<void> }>;
}

export type ContractCase =
  | 'issue'
  | 'revoke'
  | 'revokeTwice'
  | 'verifyRevoked'
  | 'listIssued'
  | 'idempotentIssue'
  | 'notAfter'
  | 'pastNotAfter'
  | 'badHandle'
  | 'validateScope'
  | 'checks'
  | 'beyondScope'
  | 'outliveRevoke'
  | 'blockRevoke'
  | 'hijackAdmin';

export interface ContractSuiteOptions {
  /** Label for the describe block, e.g. `postgres`. */
  name: string;
  setup(): Promise<ContractHarness>;
  /** Secret keys whose values must never show up in a handle or error. Default: every key matching
   * /password|token|secret|key|credential|url/i (so `url` with an embedded password counts). */
  secretKeys?: string[];
  /** Lowest TTL the backend issues (STS: 900 s); the expiry bound allows up to max(ttl, this). */
  ttlFloorSeconds?: number;
  /** How long to wait for a revoke to take effect on the server (eventual consistency). Default 15 s. */
  revokeSettleMs?: number;
  /** The adapter's declared credential shape (`src/credential.ts`): every issued secret must fit it. */
  credential?: CredentialShape;
  /** Cases this adapter cannot honour, each with the reason (shown in the test name). */
  skip?: Partial<Record<ContractCase, string>>;
}

const DEFAULT_SECRET_KEY = /password|token|secret|key|credential|url/i;

/** A grant id shaped like the real ones: `gl-<project>-<mr>-<merge sha>`. */
export function contractGrantId(): string {
  return `gl-${randomInt(1, 999_999)}-${randomInt(1, 99_999)}-${randomBytes(20).toString('hex')}`;
}

/** Every string form an error can take on its way to a log, an event or a GitLab comment. */
function errorTexts(err: unknown, depth = 0): string[] {
  if (depth > 4 || err === undefined || err === null) return [];
  const out: string[] = [];
  try {
    out.push(JSON.stringify(err));
  } catch {
    /* circular: covered by the other forms */
  }
  out.push(String(err));
  if (err instanceof Error) {
    out.push(err.message, err.stack ?? '');
    if (err instanceof JitError) out.push(...errorTexts(err.details, depth + 1));
  }
  return out;
}

export function runSubstrateContractSuite(options: ContractSuiteOptions): void {
  const settleMs = options.revokeSettleMs ?? 15_000;
  const skip = options.skip ?? {};

  describe(`substrate contract: ${options.name}`, () => {
    let h: ContractHarness;
    const issued: Issued[] = [];
    /** Errors seen anywhere in the suite; the last case checks none carries a secret. */
    const errors: unknown[] = [];
    /** Findings of the safety checks; the last case checks none carries a secret. */
    const findings: Finding[] = [];

    const secretValues = (secret: Record<string, string>): string[] =>
      Object.entries(secret)
        .filter(([k]) => (options.secretKeys ? options.secretKeys.includes(k) : DEFAULT_SECRET_KEY.test(k)))
        .map(([, v]) => v)
        .filter((v) => v.length >= 8);

    const issue = async (grantId = contractGrantId()): Promise<{ req: IssueRequest; out: Issued }> => {
      const req = h.makeRequest(grantId);
      const out = await h.substrate.issue(req);
      issued.push(out);
      return { req, out };
    };

    /** `from`: when the settling starts (default now), e.g. a credential's notAfter. */
    const waitUntil = async (cond: () => Promise<boolean>, what: string, from = Date.now()): Promise<void> => {
      const deadline = Math.max(from, Date.now()) + settleMs;
      for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
        if (await cond()) return;
        if (Date.now() > deadline) throw new Error(`timed out after ${settleMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, delay));
      }
    };

    const listed = async (grantId: string): Promise<RevocationHandle[]> => ((await h.substrate.listIssued?.()) ?? []).filter((x) => x.grantId === grantId);

    const caseIt = (c: ContractCase, title: string, fn: () => Promise<void>): void => {
      if (skip[c]) it.skip(`${title} (skipped: ${skip[c]})`, fn);
      else it(title, fn);
    };

    beforeAll(async () => {
      h = await options.setup();
    });

    afterAll(async () => {
      // Leave nothing live on the shared server, whatever failed above.
      for (const x of issued) await h?.substrate.revoke(x.handle).catch(() => undefined);
      await h?.teardown?.();
    });

    caseIt('validateScope', 'validateScope accepts the harness scope and turns hostile input into problems', async () => {
      const req = h.makeRequest(contractGrantId());
      expect(h.substrate.validateScope(req.scope, req.connection)).toEqual([]);
      for (const bad of [null, undefined, 42, 'x', [], { __proto__: { admin: true } }, { mode: 'x'.repeat(100_000) }]) {
        const problems = h.substrate.validateScope(bad, req.connection);
        expect(Array.isArray(problems), `validateScope(${typeof bad})`).toBe(true);
        expect(problems.length, `validateScope(${JSON.stringify(bad)?.slice(0, 40)})`).toBeGreaterThan(0);
        for (const p of problems) {
          expect(typeof p.path).toBe('string');
          expect(p.message.length).toBeGreaterThan(0);
          expect(p.message.length).toBeLessThan(2000);
        }
        if (h.facts) expect(h.facts.validateScope(bad, req.connection), 'the static facts refuse it too').toEqual(problems);
      }
      if (h.facts) {
        expect(h.facts.validateScope(req.scope, req.connection), 'the static facts accept the harness scope').toEqual([]);
        expect(h.facts.maxTtlSeconds, 'the static facts name the instance TTL ceiling').toBe(h.substrate.maxTtlSeconds);
      }
    });

    caseIt('issue', 'issue returns a working credential, a secret-free handle named after the grant, and its expiry', async () => {
      const before = Date.now();
      const { req, out } = await issue();
      expect(await h.probe(out.secret)).toBe(true);
      expect(out.handle.kind).toBe(h.substrate.kind);
      expect(out.handle.grantId).toBe(req.grantId);
      if (h.substrate.name !== h.substrate.kind) expect(out.handle.instance).toBe(h.substrate.name);
      expect(out.handle.expiresAt).toBe(out.expiresAt);
      const exp = Date.parse(out.expiresAt);
      const ceiling = Math.max(req.ttlSeconds, options.ttlFloorSeconds ?? 0);
      expect(exp).toBeGreaterThan(before);
      expect(exp).toBeLessThanOrEqual(Date.now() + ceiling * 1000 + 5_000);
      const handleText = JSON.stringify(out.handle);
      expect(JSON.parse(handleText)).toEqual(out.handle); // plain JSON, nothing lost
      const secrets = secretValues(out.secret);
      expect(secrets.length, 'the secret has at least one secret-looking value to guard').toBeGreaterThan(0);
      if (options.credential) {
        expect(options.credential.kind, "the credential shape is this adapter's").toBe(h.substrate.kind);
        const undeclared = Object.keys(out.secret).filter((k) => !Object.hasOwn(options.credential!.keys, k));
        expect(undeclared, 'secret keys missing from the credential shape (jit exec would refuse the credential)').toEqual([]);
      }
      for (const s of secrets) expect(handleText).not.toContain(s);
    });

    caseIt('revoke', 'revoke ends the credential before its expiry', async () => {
      const { out } = await issue();
      expect(await h.probe(out.secret)).toBe(true);
      await h.substrate.revoke(out.handle);
      await waitUntil(async () => !(await h.probe(out.secret)), 'the revoked credential to stop working');
    });

    caseIt('revokeTwice', 'revoking twice (and revoking what is already gone) succeeds', async () => {
      const { out } = await issue();
      await h.substrate.revoke(out.handle);
      await h.substrate.revoke(out.handle);
      await h.substrate.revoke(JSON.parse(JSON.stringify(out.handle)) as RevocationHandle);
    });

    caseIt('verifyRevoked', 'verifyRevoked says no while the credential lives and yes once revoked', async () => {
      const verify = h.substrate.verifyRevoked?.bind(h.substrate);
      if (!verify) return;
      const { out } = await issue();
      expect((await verify(out.handle)).verified).toBe(false);
      await h.substrate.revoke(out.handle);
      await waitUntil(async () => (await verify(out.handle)).verified, 'verifyRevoked to confirm');
    });

    caseIt('listIssued', 'listIssued shows a live credential and stops showing it once revoked', async () => {
      if (!h.substrate.listIssued) return;
      const { req, out } = await issue();
      const found = await listed(req.grantId);
      expect(found).toHaveLength(1);
      expect(found[0]?.kind).toBe(h.substrate.kind);
      // the sweep must be able to revoke from what it lists alone
      await h.substrate.revoke(found[0] as RevocationHandle);
      await waitUntil(async () => (await listed(req.grantId)).length === 0, 'listIssued to drop the grant');
      await waitUntil(async () => !(await h.probe(out.secret)), 'the credential revoked via its listed handle to stop working');
      const all = (await h.substrate.listIssued()) ?? [];
      for (const x of all) for (const s of secretValues(out.secret)) expect(JSON.stringify(x)).not.toContain(s);
    });

    caseIt('idempotentIssue', 'issuing the same grant id twice leaves at most one live credential', async () => {
      const grantId = contractGrantId();
      const first = await issue(grantId);
      let second: Issued | undefined;
      try {
        second = (await issue(grantId)).out;
      } catch (err) {
        errors.push(err);
        expect(err, 'a refused re-issue must be a catalogue error').toBeInstanceOf(JitError);
      }
      if (second) {
        const a = await h.probe(first.out.secret);
        const b = await h.probe(second.secret);
        const same = JSON.stringify(first.out.secret) === JSON.stringify(second.secret);
        expect(same || !(a && b), 'two different credentials for one grant are both live').toBe(true);
        expect(b, 'the credential returned last must work').toBe(true);
      }
      if (h.substrate.listIssued) expect(await listed(grantId)).toHaveLength(1);
      await h.substrate.revoke((second ?? first.out).handle);
      await waitUntil(async () => !(await h.probe(first.out.secret)) && !(second && (await h.probe(second.secret))), 'every credential of the grant to stop working');
    });

    caseIt('notAfter', "a credential is bounded by the grant's notAfter: 5 s ahead with a TTL of 5 min, it stops working at notAfter, unrevoked", async () => {
      const notAfter = Date.now() + 5_000; // room for a loaded machine: backends count whole seconds
      const req = { ...h.makeRequest(contractGrantId()), ttlSeconds: 300, notAfter: new Date(notAfter).toISOString() };
      const out = await h.substrate.issue(req);
      issued.push(out);
      expect(Date.parse(out.expiresAt), 'the announced expiry is not after notAfter').toBeLessThanOrEqual(notAfter);
      expect(out.handle.expiresAt).toBe(out.expiresAt);
      expect(await h.probe(out.secret), 'it works before notAfter').toBe(true);
      // (backends count whole seconds, so it may stop up to ~2 s before notAfter; never after + settle)
      await waitUntil(async () => !(await h.probe(out.secret)), 'the credential to stop working at notAfter (never revoked)', notAfter);
    });

    caseIt('pastNotAfter', "an issue at or past the grant's notAfter is refused (not retriable) and creates nothing", async () => {
      const grantId = contractGrantId();
      const req = { ...h.makeRequest(grantId), notAfter: new Date(Date.now() - 1_000).toISOString() };
      const err = await h.substrate.issue(req).then(
        (out) => (issued.push(out), undefined),
        (e: unknown) => e,
      );
      errors.push(err);
      expect(err).toMatchObject({ code: 'JIT_ERR_SUBSTRATE_GRANT_EXPIRED', retriable: false });
      if (h.substrate.listIssued) expect(await listed(grantId)).toEqual([]);
    });

    caseIt('badHandle', 'revoke refuses a handle it cannot identify, with a non-retriable catalogue error', async () => {
      const { out } = await issue();
      const bad: RevocationHandle[] = [
        { ...out.handle, kind: `${h.substrate.kind}-other` },
        { ...out.handle, ref: {} },
      ];
      for (const handle of bad) {
        const err = await h.substrate.revoke(handle).then(
          () => undefined,
          (e: unknown) => e,
        );
        errors.push(err);
        expect(err, `revoke(${JSON.stringify(handle).slice(0, 80)}) must reject`).toBeInstanceOf(JitError);
        expect((err as JitError).retriable).toBe(false);
      }
      expect(await h.probe(out.secret), 'a refused revoke must not have touched the credential').toBe(true);
    });

    caseIt('checks', 'the safety checks it implements answer well-formed findings, and a hostile scope is an error finding, not a throw', async () => {
      const wellFormed = (got: unknown, what: string): Finding[] => {
        expect(Array.isArray(got), `${what} answers a list`).toBe(true);
        for (const f of got as Finding[]) {
          expect(['info', 'warning', 'error'], `${what} severity`).toContain(f.severity);
          expect(typeof f.message === 'string' && f.message.length > 0 && f.message.length < 2000, `${what} message`).toBe(true);
        }
        findings.push(...(got as Finding[]));
        return got as Finding[];
      };
      // the harness scope with a live credential around, so a check that quotes one is caught below
      const { req } = await issue();
      const { tier: _tier, ...scope } = req.scope;
      if (h.substrate.checkTtl) {
        wellFormed(await h.substrate.checkTtl(scope, req.ttlSeconds), 'checkTtl(harness scope)');
        for (const bad of [null, undefined, 42, 'x', [], { mode: 'x'.repeat(100_000) }]) {
          const got = wellFormed(await h.substrate.checkTtl(bad, 3600), `checkTtl(${JSON.stringify(bad)?.slice(0, 40)})`);
          expect(
            got.some((f) => f.severity === 'error'),
            `checkTtl(${JSON.stringify(bad)?.slice(0, 40)}) reports an error`,
          ).toBe(true);
        }
      }
      if (h.substrate.checkDefaultIsReadOnly) wellFormed(await h.substrate.checkDefaultIsReadOnly(), 'checkDefaultIsReadOnly()');
      if (h.substrate.checkSetup) wellFormed(await h.substrate.checkSetup(), 'checkSetup()');
    });

    const attack = <K extends keyof GranteeAttacks>(hook: K, c: ContractCase): NonNullable<GranteeAttacks[K]> => {
      const fn = h.attacks?.[hook];
      if (!fn) throw new Error(`supply attacks.${hook} in the harness (docs/adding-a-substrate.md, "What the grantee will try"), or skip '${c}' with the reason it cannot apply`);
      return fn.bind(h.attacks) as NonNullable<GranteeAttacks[K]>;
    };

    caseIt('beyondScope', 'the grantee cannot use the credential beyond its scope', async () => {
      const tryBeyondScope = attack('tryBeyondScope', 'beyondScope');
      const { out } = await issue();
      expect(await h.probe(out.secret), 'the credential works within its scope').toBe(true);
      expect(await tryBeyondScope(out.secret), 'attempts beyond the scope that worked').toEqual([]);
      await h.substrate.revoke(out.handle);
    });

    caseIt('outliveRevoke', 'nothing the grantee set up keeps access once revoked', async () => {
      const tryOutliveRevoke = attack('tryOutliveRevoke', 'outliveRevoke');
      const { out } = await issue();
      const footholds = await tryOutliveRevoke(out.secret);
      for (const f of footholds) expect(await f.works(), `foothold "${f.name}" works before revoke`).toBe(true);
      await h.substrate.revoke(out.handle);
      const alive = async () => {
        const names: string[] = [];
        for (const f of footholds) if (await f.works()) names.push(f.name);
        if (await h.probe(out.secret)) names.push('the credential itself');
        return names;
      };
      await waitUntil(async () => (await alive()).length === 0, 'every foothold to stop working').catch(async (err: Error) => {
        throw new Error(`${err.message}; still working: ${(await alive()).join(', ')}`);
      });
    });

    caseIt('blockRevoke', 'the grantee cannot keep revoke from ending the credential', async () => {
      const tryBlockRevoke = attack('tryBlockRevoke', 'blockRevoke');
      const { out } = await issue();
      const block = await tryBlockRevoke(out.secret);
      try {
        let timer: NodeJS.Timeout | undefined;
        const hung = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`revoke did not finish within ${settleMs} ms while the grantee tried to block it`)), settleMs);
        });
        await Promise.race([h.substrate.revoke(out.handle), hung]).finally(() => clearTimeout(timer));
        await waitUntil(async () => !(await h.probe(out.secret)), 'the credential to stop working despite the attempt');
      } finally {
        await block.release();
      }
    });

    caseIt('hijackAdmin', "nothing the grantee plants runs in jit's admin session", async () => {
      const tryHijackAdmin = attack('tryHijackAdmin', 'hijackAdmin');
      const { out } = await issue();
      const plant = await tryHijackAdmin(out.secret);
      try {
        // everything jit's admin does on the server, with the plant in place
        const other = await issue();
        await h.substrate.listIssued?.();
        await h.substrate.verifyRevoked?.(out.handle);
        await h.substrate.checkDefaultIsReadOnly?.();
        await h.substrate.checkSetup?.();
        await h.substrate.revoke(other.out.handle);
        await h.substrate.revoke(out.handle);
        await h.substrate.verifyRevoked?.(out.handle);
        await h.substrate.listIssued?.();
        expect(await plant.hijacked(), "jit's admin session ran what the grantee planted").toBe(false);
      } finally {
        await plant.cleanup?.();
      }
    });

    it('no secret appears in any handle, error or finding the suite saw', () => {
      const secrets = issued.flatMap((x) => secretValues(x.secret));
      const texts = [...issued.map((x) => JSON.stringify(x.handle)), ...errors.flatMap((e) => errorTexts(e)), ...findings.map((f) => JSON.stringify(f))];
      for (const t of texts) for (const s of secrets) expect(t).not.toContain(s);
    });
  });
}
