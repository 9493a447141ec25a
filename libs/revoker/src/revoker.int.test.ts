// The revoker on real servers: apps/revoker as a child process on a private Kafka broker, grants
// issued by the real postgres adapter (embedded PostgreSQL) and vault adapter (a private OpenBao).
// TTL and requested revocation (open sessions end too), kill -9 with grants expiring while it is
// down, a substrate outage at expiry, orphans, duplicate granted events, and one grant issued twice
// with different handles (two OpenBao instances), across a kill -9.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, type EventBus, type Subscription } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, grantId as grantIdOf, parseElevationEvent, type AnyElevationEvent } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createLogger } from '@jit/observability';
import { SubstrateRegistry, type Issued, type Substrate } from '@jit/substrates';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the suite issues real credentials to revoke, as the issuer would
import { postgresSubstrate } from '@jit/substrate-postgres';
// eslint-disable-next-line @nx/enforce-module-boundaries -- as above
import { tokenRoleSettings, vaultSubstrate } from '@jit/substrate-vault';
import { startKafka, startOpenBao, startPostgres, uniqueName, waitFor, type KafkaHandle, type OpenBaoHandle, type PostgresHandle } from '@jit/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the suite logs in with the issued credential as its user would
import pg from 'pg';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The gate and the issuer whose events this revoker trusts, a stranger it does not, and its own key. */
const gateKey = createTestSigningKey();
const issuerKey = createTestSigningKey();
const strangerKey = createTestSigningKey();
const REVOKER_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-revoker-int-')), 'signing-key.pem');
writeFileSync(REVOKER_KEY_FILE, createTestSigningKey().pem, { mode: 0o600 });
const MAIN = join(ROOT, 'apps/revoker/src/main.ts');
const PROJECT_ID = 4242;
const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  url: string;
}

let kafka: KafkaHandle;
let pgServer: PostgresHandle;
let bao: OpenBaoHandle;
let dbUrl: string;
let issuers: SubstrateRegistry;
let observer: EventBus;
let observed: Subscription;
const events: AnyElevationEvent[] = [];
const children: Child[] = [];
const groupId = uniqueName('revoker-int');
let revoker: Child;
let nextIid = 1;
const quiet = createLogger({ name: 'revoker-int', level: 'fatal' });
/** Every password, URL and token issued during the suite. */
const secrets: string[] = [];

async function startRevoker(): Promise<Child> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_GROUP_ID: groupId,
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    JIT_SUBSTRATES: JSON.stringify({
      postgres: { adminUrlRef: 'env:PG_ADMIN_URL', connectTimeoutMs: 1500 },
      'vault:test': { addr: bao.addr, tokenRef: 'env:BAO_TOKEN', tokenRole: 'jit', requestTimeoutMs: 1500 },
      'vault:other': { addr: bao.addr, tokenRef: 'env:BAO_TOKEN', tokenRole: 'jit', requestTimeoutMs: 1500 },
    }),
    PG_ADMIN_URL: dbUrl,
    BAO_TOKEN: bao.token,
    JIT_SWEEP_INTERVAL_MS: '1000',
    JIT_ORPHAN_GRACE_MS: '60000',
    JIT_REVOKE_RETRY_BASE_MS: '300',
    JIT_REVOKE_RETRY_MAX_MS: '1000',
    JIT_SIGNING_KEY_FILE: REVOKER_KEY_FILE,
    JIT_TRUSTED_GATE_KEYS: gateKey.signer.publicKey.x,
    JIT_TRUSTED_ISSUER_KEYS: issuerKey.signer.publicKey.x,
    PORT: '0',
    JIT_OPS_PORT: '0',
    LOG_LEVEL: 'debug',
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (out += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await waitFor(() => /"ops":"http:\/\/127\.0\.0\.1:\d+"/.test(out) || proc.exitCode !== null, { timeoutMs: 60_000, what: 'revoker listening' });
  // health, readiness and metrics: the ops listener
  const url = out.match(/"ops":"(http:\/\/127\.0\.0\.1:\d+)"/)?.[1];
  if (!url) throw new Error(`revoker exited (${proc.exitCode}):\n${out.slice(-3000)}`);
  const child = { proc, output: () => out, exited, url };
  children.push(child);
  return child;
}

async function sql<T extends pg.QueryResultRow = any>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

// a revoked grant's role is kept as its tombstone (NOLOGIN): "live" is a role that can still log in
const roleLogsIn = async (role: string) => (await sql(dbUrl, `SELECT 1 FROM pg_roles WHERE rolname = '${role.replace(/'/g, "''")}' AND rolcanlogin`)).length === 1;

const publish = (event: AnyElevationEvent) => observer.publish(TOPIC_ELEVATIONS, (event.data as { elevationId: string }).elevationId, event);
const of = (type: string, grantId: string) => events.filter((e) => e.type === type && (e.data as { grantId?: string }).grantId === grantId);
const revokedOnce = (grantId: string) => of(EVENT_TYPES.revoked, grantId).length === 1;

interface Grant {
  elevationId: string;
  grantId: string;
  issued: Issued;
  granted: AnyElevationEvent;
}

/** What the issuer does: approved, issue on the substrate, granted. */
async function grant(substrate: Substrate, ttlSeconds: number, scope: Record<string, unknown>, opts: { elevationId?: string; sha?: string } = {}): Promise<Grant> {
  const elevationId = opts.elevationId ?? `gl-${PROJECT_ID}-${nextIid++}`;
  const grantId = grantIdOf(elevationId, opts.sha ?? SHA);
  const time = () => ({ time: new Date().toISOString() });
  await publish(gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId, grantId, projectId: PROJECT_ID, mrIid: Number(elevationId.split('-')[2]), ttlSeconds }, time())));
  const issued = await substrate.issue({ grantId, elevationId, requester: 'carol', target: 't', scopeName: 'write', scope, connection: {}, ttlSeconds });
  // user names and accessors are identifiers, logged on purpose; these are the secrets
  for (const key of ['password', 'url', 'token']) if (issued.secret[key]) secrets.push(issued.secret[key]);
  const granted = issuerKey.signer.sign(
    sampleEvent(EVENT_TYPES.granted, { elevationId, grantId, substrate: substrate.name, handle: issued.handle as never, expiresAt: issued.expiresAt, issuedAt: new Date().toISOString() }, time()),
  );
  await publish(granted);
  return { elevationId, grantId, issued, granted };
}

const pgGrant = (ttlSeconds: number, opts?: { elevationId?: string; sha?: string }) => grant(issuers.get('postgres'), ttlSeconds, { grant: 'SELECT, INSERT ON ALL TABLES IN SCHEMA public' }, opts);

/**
 * Subscribes the suite's observer and proves it sees the topic: a probe published now must come
 * back. On a loaded machine a fresh broker can hand the group an assignment before the new topic's
 * metadata is there (no partitions; kafkajs looks again only minutes later), and every test then
 * waits on events the observer never gets: such a group is replaced by a fresh one.
 */
async function observe(): Promise<void> {
  for (let round = 1; ; round++) {
    events.length = 0; // a fresh group reads the topic from its start again
    observed = await observer.subscribe({
      topic: TOPIC_ELEVATIONS,
      groupId: uniqueName('revoker-int-observer'),
      startFrom: 'earliest',
      handler: async (m) => {
        const parsed = parseElevationEvent(m.event);
        if (parsed.ok) events.push(parsed.event);
      },
    });
    const mrIid = 900_000 + round;
    const probe = sampleEvent(EVENT_TYPES.withdrawn, { elevationId: `gl-${PROJECT_ID}-${mrIid}`, projectId: PROJECT_ID, mrIid }, { time: new Date().toISOString() });
    await publish(probe);
    try {
      await waitFor(() => events.some((e) => e.id === probe.id), { timeoutMs: 20_000, what: 'the observer sees the topic' });
      return;
    } catch (err) {
      await observed.stop();
      if (round === 3) throw err;
    }
  }
}

async function live(child: Child): Promise<number> {
  return ((await (await fetch(`${child.url}/readyz`)).json()) as { live: number }).live;
}

beforeAll(async () => {
  [kafka, pgServer, bao] = await Promise.all([startKafka(), startPostgres(), startOpenBao()]);
  dbUrl = await pgServer.createDatabase(uniqueName('app').replace(/-/g, '_'));
  await sql(dbUrl, 'CREATE TABLE public.items (id int PRIMARY KEY)');
  const policy = await fetch(`${bao.addr}/v1/sys/policies/acl/jit-test-read`, {
    method: 'PUT',
    headers: { 'x-vault-token': bao.token, 'content-type': 'application/json' },
    body: JSON.stringify({ policy: 'path "secret/*" { capabilities = ["read"] }\npath "auth/token/lookup-self" { capabilities = ["read"] }' }),
  });
  expect(policy.status).toBe(204);
  const role = await fetch(`${bao.addr}/v1/auth/token/roles/jit`, {
    method: 'POST',
    headers: { 'x-vault-token': bao.token, 'content-type': 'application/json' },
    body: JSON.stringify(tokenRoleSettings(['jit-test-read'])),
  });
  expect(role.status).toBe(204);
  issuers = new SubstrateRegistry({ logger: quiet, definitions: [postgresSubstrate, vaultSubstrate] });
  issuers.configure('postgres', { adminUrl: dbUrl });
  issuers.configure('vault:test', { addr: bao.addr, token: bao.token, tokenRole: 'jit', requestTimeoutMs: 1500 });
  issuers.configure('vault:other', { addr: bao.addr, token: bao.token, tokenRole: 'jit', requestTimeoutMs: 1500 });
  observer = await createKafkaBus({ brokers: kafka.brokers, clientId: 'revoker-int-observer', logger: quiet });
  await observer.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
  await observe();
  revoker = await startRevoker();
}, 240_000);

afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  if (process.env['JIT_TEST_KEEP_LOGS']) children.forEach((c, i) => writeFileSync(join(tmpdir(), `jit-revoker-int-${i}.log`), c.output()));
  await observed?.stop();
  await observer?.close();
  await issuers?.closeAll();
  await Promise.allSettled([kafka?.dispose(), pgServer?.dispose(), bao?.dispose()]);
});

describe('revoker on Kafka + PostgreSQL + OpenBao', () => {
  it('TTL: the credential works before expiry and is refused right after, an open session included', async () => {
    const g = await pgGrant(4);
    const session = new pg.Client({ connectionString: g.issued.secret.url! });
    session.on('error', () => undefined); // the server ends it; queries report it below
    await session.connect();
    await session.query('INSERT INTO public.items VALUES (1)');
    expect(Date.now()).toBeLessThan(Date.parse(g.issued.expiresAt));

    await waitFor(() => revokedOnce(g.grantId), { timeoutMs: 30_000, what: 'revoked at TTL' });
    const revoked = of(EVENT_TYPES.revoked, g.grantId)[0]!.data as { verified: boolean; cause: string; latenessMs: number; revokedAt: string };
    expect(revoked).toMatchObject({ verified: true, cause: 'ttl' });
    expect(Date.parse(revoked.revokedAt)).toBeGreaterThanOrEqual(Date.parse(g.issued.expiresAt));
    // on time: well inside one sweep of slack even on a loaded 2-core CI machine (p99 is in bench/revoke)
    expect(revoked.latenessMs).toBeLessThan(5000);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    await expect(sql(g.issued.secret.url!, 'SELECT 1')).rejects.toMatchObject({ code: expect.stringMatching(/^28/) });
    expect(await roleLogsIn(g.issued.handle.ref.role as string)).toBe(false);
  });

  it('explicit revoke via elevation.revoke.requested ends a long grant now', async () => {
    const g = await pgGrant(3600);
    await waitFor(async () => (await live(revoker)) >= 1, { what: 'grant scheduled' });
    expect(await sql(g.issued.secret.url!, 'SELECT count(*)::int AS n FROM public.items')).toEqual([{ n: expect.any(Number) }]);
    await publish(sampleEvent(EVENT_TYPES.revokeRequested, { elevationId: g.elevationId, grantId: g.grantId }, { time: new Date().toISOString() }));
    await waitFor(() => revokedOnce(g.grantId), { timeoutMs: 30_000, what: 'revoked on request' });
    expect(of(EVENT_TYPES.revoked, g.grantId)[0]!.data).toMatchObject({ cause: 'requested', verified: true });
    await expect(sql(g.issued.secret.url!, 'SELECT 1')).rejects.toMatchObject({ code: expect.stringMatching(/^28/) });
  });

  it('duplicate granted events -> one revocation, no error', async () => {
    const g = await pgGrant(3);
    await publish(g.granted); // redelivered
    await publish(issuerKey.signer.sign(sampleEvent(EVENT_TYPES.granted, g.granted.data as never, { time: new Date().toISOString(), idKey: `${g.grantId}:again` })));
    await waitFor(() => revokedOnce(g.grantId), { timeoutMs: 30_000, what: 'revoked' });
    await publish(g.granted); // a late redelivery after the revocation
    // A later grant on the same elevation (same key, same partition) is handled after them all.
    const later = await pgGrant(1, { elevationId: g.elevationId, sha: 'b'.repeat(40) });
    await waitFor(() => revokedOnce(later.grantId), { timeoutMs: 30_000, what: 'later grant revoked' });
    expect(of(EVENT_TYPES.revoked, g.grantId)).toHaveLength(1);
    expect(of(EVENT_TYPES.revokeFailed, g.grantId)).toHaveLength(0);
  });

  it('one grant issued twice with different handles (two OpenBao instances): both tokens refused after the TTL, across a kill -9; reported once', async () => {
    const elevationId = `gl-${PROJECT_ID}-${nextIid++}`;
    const grantId = grantIdOf(elevationId, SHA);
    const ttlSeconds = 12;
    const approvedAt = new Date().toISOString();
    await publish(gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId, grantId, projectId: PROJECT_ID, mrIid: Number(elevationId.split('-')[2]), ttlSeconds }, { time: approvedAt })));
    // two issuer replicas both issued the grant (each on the instance its policy read named): the
    // tokens outlive the approved TTL by far, so only the revoker ends them on time
    const tokens: string[] = [];
    for (const instance of ['vault:test', 'vault:other']) {
      const issued = await issuers
        .get(instance)
        .issue({ grantId, elevationId, requester: 'carol', target: 't', scopeName: 'read', scope: { mode: 'token', policies: ['jit-test-read'] }, connection: {}, ttlSeconds: 600 });
      secrets.push(issued.secret.token!);
      tokens.push(issued.secret.token!);
      await publish(
        issuerKey.signer.sign(
          sampleEvent(
            EVENT_TYPES.granted,
            { elevationId, grantId, substrate: instance, handle: issued.handle as never, expiresAt: issued.expiresAt, issuedAt: approvedAt },
            { time: new Date().toISOString() },
          ),
        ),
      );
    }
    const works = async (token: string) => (await fetch(`${bao.addr}/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': token } })).status === 200;
    expect(await Promise.all(tokens.map(works))).toEqual([true, true]);
    await waitFor(() => of(EVENT_TYPES.grantDuplicated, grantId).length === 1, { timeoutMs: 30_000, what: 'the duplicate reported' });
    expect(of(EVENT_TYPES.grantDuplicated, grantId)[0]).toMatchObject({ severity: 'high', data: { issues: 2, afterEnd: false, handles: [{ instance: 'vault:test' }, { instance: 'vault:other' }] } });
    // the schedule is rebuilt from the log by the next process
    revoker.proc.kill('SIGKILL');
    await revoker.exited;
    revoker = await startRevoker();
    await waitFor(() => revokedOnce(grantId), { timeoutMs: 60_000, what: 'revoked at the approved TTL' });
    expect(of(EVENT_TYPES.revoked, grantId)[0]!.data).toMatchObject({ verified: true });
    expect(Date.parse((of(EVENT_TYPES.revoked, grantId)[0]!.data as { revokedAt: string }).revokedAt)).toBeLessThan(Date.parse(approvedAt) + (ttlSeconds + 30) * 1000);
    expect(await Promise.all(tokens.map(works))).toEqual([false, false]);
    expect(of(EVENT_TYPES.grantDuplicated, grantId)).toHaveLength(1);
    expect(of(EVENT_TYPES.revokeFailed, grantId)).toEqual([]);
  });

  it('orphan: a role the adapter created with no granted event is found and dropped', async () => {
    const elevationId = `gl-${PROJECT_ID}-${nextIid++}`;
    const grantId = grantIdOf(elevationId, SHA);
    const issued = await issuers
      .get('postgres')
      .issue({ grantId, elevationId, requester: 'carol', target: 't', scopeName: 'w', scope: { grant: 'SELECT ON ALL TABLES IN SCHEMA public' }, connection: {}, ttlSeconds: 3600 });
    secrets.push(issued.secret.password!);
    const role = issued.handle.ref.role as string;
    expect(await roleLogsIn(role)).toBe(true);
    await waitFor(() => of(EVENT_TYPES.orphanRevoked, grantId).length === 1, { timeoutMs: 30_000, what: 'orphan revoked' });
    expect(await roleLogsIn(role)).toBe(false);
    expect(of(EVENT_TYPES.orphanRevoked, grantId)[0]!.data).toMatchObject({ substrate: 'postgres', elevationId });
  });

  it('vault unavailable at expiry: retried (revoke.failed, retriable) until it is back, then revoked and verified', async () => {
    const g = await grant(issuers.get('vault:test'), 4, { mode: 'token', policies: ['jit-test-read'] });
    const self = await fetch(`${bao.addr}/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': g.issued.secret.token! } });
    expect(self.status).toBe(200); // works before expiry
    await waitFor(async () => (await live(revoker)) >= 1, { what: 'grant scheduled' });
    await bao.stop();
    try {
      await waitFor(() => of(EVENT_TYPES.revokeFailed, g.grantId).length >= 2, { timeoutMs: 30_000, what: 'failed attempts while down' });
      const failed = of(EVENT_TYPES.revokeFailed, g.grantId).map((e) => e.data as { attempt: number; error: { retriable: boolean } });
      expect(failed.map((f) => f.attempt).slice(0, 2)).toEqual([1, 2]);
      expect(failed.every((f) => f.error.retriable)).toBe(true);
      expect(of(EVENT_TYPES.revoked, g.grantId)).toHaveLength(0);
    } finally {
      await bao.start();
    }
    const backAt = Date.now();
    await waitFor(() => revokedOnce(g.grantId), { timeoutMs: 30_000, what: 'revoked once vault is back' });
    const revoked = of(EVENT_TYPES.revoked, g.grantId)[0]!.data as { verified: boolean; cause: string; latenessMs: number };
    expect(revoked).toMatchObject({ verified: true, cause: 'ttl' });
    // lateness counts from the expiry, retries included
    expect(revoked.latenessMs).toBeGreaterThanOrEqual(backAt - Date.parse(g.issued.expiresAt));
    const after = await fetch(`${bao.addr}/v1/auth/token/lookup-self`, { headers: { 'x-vault-token': g.issued.secret.token! } });
    expect(after.status).toBe(403);
  });

  it('a forged granted on Kafka with a far expiry (unsigned, or by a key it does not trust) does not postpone the revocation, also across a restart', async () => {
    const g = await pgGrant(15);
    await waitFor(async () => (await live(revoker)) >= 1, { what: 'grant scheduled' });
    const far = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
    const forged = sampleEvent(
      EVENT_TYPES.granted,
      { ...(g.granted.data as object), expiresAt: far, handle: { ...(g.granted.data as { handle: object }).handle, expiresAt: far } as never },
      { time: new Date().toISOString(), idKey: `${g.grantId}:forged` },
    );
    await publish(forged);
    await publish(strangerKey.signer.sign({ ...forged, id: 'forged-by-a-stranger' }));
    const refused = async () =>
      (await (await fetch(`${revoker.url}/metrics`)).text()).match(/^jit_events_refused_total\{consumer="revoker",type="granted",reason="(unsigned|untrusted_key)"\} 1$/gm)?.length ?? 0;
    await waitFor(async () => (await refused()) === 2, { timeoutMs: 30_000, what: 'both forgeries refused' });
    expect(revoker.output()).toMatch(/refused an elevation\.granted not signed by a trusted issuer key \(unsigned\)/);
    // a restart rebuilds the schedule from the whole log, the forgeries included
    revoker.proc.kill('SIGTERM');
    expect(await revoker.exited).toBe(0);
    revoker = await startRevoker();
    await waitFor(() => revokedOnce(g.grantId), { timeoutMs: 60_000, what: 'revoked at the real TTL' });
    const revoked = of(EVENT_TYPES.revoked, g.grantId)[0]!.data as { revokedAt: string; verified: boolean };
    expect(revoked.verified).toBe(true);
    expect(Date.parse(revoked.revokedAt) - Date.parse(g.issued.expiresAt)).toBeLessThan(5000);
    expect(await roleLogsIn(g.issued.handle.ref.role as string)).toBe(false);
  });

  it('kill -9 with live grants, some expiring while it is down: after restart all revoked once, lateness reported', async () => {
    const before = await live(revoker);
    // TTLs leave room to schedule them and kill the revoker before the first one is due.
    const soon = await pgGrant(6);
    const during = await pgGrant(8);
    const after = await pgGrant(35);
    await waitFor(async () => (await live(revoker)) >= before + 3, { what: 'three grants scheduled' });
    expect(Date.now()).toBeLessThan(Date.parse(soon.issued.expiresAt));
    revoker.proc.kill('SIGKILL');
    await revoker.exited;
    // Both short grants expire while nothing is running.
    await waitFor(() => Date.now() > Date.parse(during.issued.expiresAt) + 500, { timeoutMs: 10_000, what: 'expiry while down' });
    expect(await roleLogsIn(soon.issued.handle.ref.role as string)).toBe(true);
    const restartAt = Date.now();
    revoker = await startRevoker();
    await waitFor(() => revokedOnce(soon.grantId) && revokedOnce(during.grantId), { timeoutMs: 60_000, what: 'overdue grants revoked' });
    for (const g of [soon, during]) {
      const d = of(EVENT_TYPES.revoked, g.grantId)[0]!.data as { cause: string; latenessMs: number; verified: boolean };
      expect(d).toMatchObject({ cause: 'reconciliation', verified: true });
      // revoked by the new process, so at least as late as its start
      expect(d.latenessMs).toBeGreaterThanOrEqual(restartAt - Date.parse(g.issued.expiresAt));
    }
    await waitFor(() => revokedOnce(after.grantId), { timeoutMs: 60_000, what: 'the live grant revoked at its TTL' });
    expect(of(EVENT_TYPES.revoked, after.grantId)[0]!.data).toMatchObject({ cause: 'ttl', verified: true });
    for (const g of [soon, during, after]) {
      expect(of(EVENT_TYPES.revoked, g.grantId)).toHaveLength(1);
      // Nothing was revoked twice into an error, and no revocation failed: two DROP OWNED at once on
      // the same tables meet PostgreSQL's XX000 (tuple concurrently updated), which the postgres
      // adapter retries quietly, inside the revoke.
      expect(of(EVENT_TYPES.revokeFailed, g.grantId)).toEqual([]);
      expect(await roleLogsIn(g.issued.handle.ref.role as string)).toBe(false);
    }
    expect(await (await fetch(`${revoker.url}/metrics`)).text()).toMatch(/jit_expiry_to_revoked_seconds_count \d+/);
    revoker.proc.kill('SIGTERM');
    expect(await revoker.exited).toBe(0);
  });

  it('two replicas share the partitions: each grant is owned and revoked once; a killed replica hands its grants over', async () => {
    /** The partitions a replica rebuilt its schedule for, per its log (one line per assignment). */
    const rebuilds = (c: Child): Array<number[] | 'all'> =>
      c
        .output()
        .split('\n')
        .filter((l) => l.includes('"schedule rebuilt from the log"'))
        .map((l) => (JSON.parse(l) as { partitions: number[] | 'all' }).partitions);
    const owns = (c: Child) => rebuilds(c).at(-1);
    const a = await startRevoker();
    const b = await startRevoker();
    await waitFor(
      () => {
        const [pa, pb] = [owns(a), owns(b)];
        if (!Array.isArray(pa) || !Array.isArray(pb) || pa.length === 0 || pb.length === 0) return false;
        return pa.length + pb.length === 12 && new Set([...pa, ...pb]).size === 12;
      },
      { timeoutMs: 90_000, what: 'the 12 partitions split between the two replicas' },
    );
    const before = (await live(a)) + (await live(b));
    const shared: Grant[] = [];
    for (let i = 0; i < 8; i++) shared.push(await pgGrant(12));
    // each grant is scheduled by exactly one replica
    await waitFor(async () => (await live(a)) + (await live(b)) === before + 8, { what: 'eight grants scheduled once across the replicas' });
    await waitFor(() => shared.every((g) => revokedOnce(g.grantId)), { timeoutMs: 90_000, what: 'every shared grant revoked' });

    // kill -9 one replica while it holds live grants: the survivor takes its partitions over
    const handed: Grant[] = [];
    for (let i = 0; i < 4; i++) handed.push(await pgGrant(30));
    await waitFor(async () => (await live(a)) + (await live(b)) === before + 4, { what: 'four grants scheduled once across the replicas' });
    const rebuildsBefore = rebuilds(a).length;
    b.proc.kill('SIGKILL');
    await b.exited;
    await waitFor(() => rebuilds(a).length > rebuildsBefore && owns(a) !== undefined && (owns(a) as number[]).length === 12, {
      timeoutMs: 90_000,
      what: 'the survivor owns all 12 partitions',
    });
    await waitFor(() => handed.every((g) => revokedOnce(g.grantId)), { timeoutMs: 90_000, what: 'every handed-over grant revoked' });

    for (const g of [...shared, ...handed]) {
      expect(of(EVENT_TYPES.revoked, g.grantId)).toHaveLength(1);
      expect(of(EVENT_TYPES.revoked, g.grantId)[0]!.data).toMatchObject({ verified: true });
      // no replica revoked into an error, and none failed: the XX000 race of concurrent catalog
      // updates (privilege-strip or drop step) is retried quietly inside the postgres adapter
      expect(of(EVENT_TYPES.revokeFailed, g.grantId)).toEqual([]);
      expect(await roleLogsIn(g.issued.handle.ref.role as string)).toBe(false);
    }
    a.proc.kill('SIGTERM');
    expect(await a.exited).toBe(0);
  }, 300_000);

  it('no issued password, token or admin secret appears in the revoker logs or the events', () => {
    const logs = children.map((c) => c.output()).join('\n');
    const published = JSON.stringify(events);
    expect(logs).toMatch(/"msg":"revoked"/);
    expect(secrets.length).toBeGreaterThanOrEqual(12);
    const all = [...secrets.map((s) => ['issued', s] as const), ['bao root token', bao.token] as const, ['admin password', new URL(dbUrl).password] as const];
    for (const [kind, secret] of all) {
      expect(logs.includes(secret), `logs leak an ${kind} secret`).toBe(false);
      expect(published.includes(secret), `events leak an ${kind} secret`).toBe(false);
    }
  });
});
