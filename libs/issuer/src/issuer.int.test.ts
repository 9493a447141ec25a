// The issuer on real servers: apps/issuer as a child process on a private Kafka broker, the
// postgres adapter on embedded PostgreSQL, policy.yaml read at the merge commit from the GitLab
// sandbox. Approved -> granted with a sealed credential that logs in and writes what the scope
// grants; duplicates; a crash between issue and publish; a substrate outage; a replica paused past
// its session between issue and publish; and no issued password anywhere in logs, events or MR comments.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusUnavailable, createKafkaBus, createSigningBus, type EventBus, type Subscription } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createEventVerifier, parseElevationEvent, policyKey, producerTrust, type AnyElevationEvent } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createGitlabClient, type GitlabClient } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createChainHeads, createLedger } from '@jit/ledger';
import { createLogger } from '@jit/observability';
import { createPolicyStore } from '@jit/policy';
import { createMemorySubstrate } from '@jit/substrates/testing';
import { startKafka, startPostgres, uniqueName, waitFor, type KafkaHandle, type PostgresHandle } from '@jit/testing';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the suite logs in with the issued credential as its user would
import pg from 'pg';
import { mergedRequest, policyYaml } from './fixtures/merged-request';
import { createIssuer } from './issuer';
import { generateAgeIdentity, openCredential } from './seal';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'apps/issuer/src/main.ts');
const CRASH = join(ROOT, 'apps/issuer/src/testing/crash-after-issue.ts');
const HOLD = join(ROOT, 'apps/issuer/src/testing/hold-after-issue.ts');
const BOT_TOKEN = 'glpat-issuer-bot-token-0001';
const CAROL_TOKEN = 'glpat-carol-token-000001';
const PROJECT = 'ops/elevations';
/** The gate whose approvals the issuer trusts, a revoker it trusts, a stranger it does not; its own key. */
const gateKey = createTestSigningKey();
const revokerKey = createTestSigningKey();
const strangerKey = createTestSigningKey();
const issuerKey = createTestSigningKey();
const ISSUER_KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-issuer-int-')), 'signing-key.pem');
writeFileSync(ISSUER_KEY_FILE, issuerKey.pem, { mode: 0o600 });

const TARGETS = { 'orders-db': '{ secretRef: env:ORDERS_DB_ADMIN_URL }', 'flaky-db': '{ secretRef: env:FLAKY_DB_ADMIN_URL }' };

interface Child {
  proc: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Resolves with the first match of `re` in the output. */
  waitOutput(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

let kafka: KafkaHandle;
let pgMain: PostgresHandle;
let pgFlaky: PostgresHandle;
let sandbox: Sandbox;
let observer: EventBus;
let observed: Subscription;
const events: AnyElevationEvent[] = [];
const rawEvents: string[] = [];
const children: Child[] = [];
let ordersUrl: string;
let flakyUrl: string;
let projectId: number;
let policyVersion: string;
let bot: GitlabClient;
let carol: GitlabClient;
let identity: string;
let recipient: string;
const groupId = uniqueName('issuer-int');
let issuer: Child;
let issuerUrl: string;
let issuerOpsUrl: string;
let nextIid = 1;

function spawnIssuer(entry: string): Child {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    KAFKA_BROKERS: kafka.brokers.join(','),
    KAFKA_GROUP_ID: groupId,
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    GITLAB_URL: sandbox.url,
    GITLAB_TOKEN: BOT_TOKEN,
    JIT_ELEVATIONS_PROJECT: PROJECT,
    // jit issues only where it can revoke: both servers are the instance's admin URLs
    JIT_SUBSTRATES: JSON.stringify({ postgres: { connectTimeoutMs: 1500, adminUrls: [ordersUrl, flakyUrl] } }),
    ORDERS_DB_ADMIN_URL: ordersUrl,
    FLAKY_DB_ADMIN_URL: flakyUrl,
    JIT_ISSUE_ATTEMPTS: '3',
    JIT_ISSUE_RETRY_BASE_MS: '200',
    JIT_PUBLIC_URL: 'https://jit.example.com',
    JIT_SIGNING_KEY_FILE: ISSUER_KEY_FILE,
    JIT_TRUSTED_GATE_KEYS: gateKey.signer.publicKey.x,
    JIT_TRUSTED_REVOKER_KEYS: revokerKey.signer.publicKey.x,
    PORT: '0',
    JIT_OPS_PORT: '0',
    LOG_LEVEL: 'debug',
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (out += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const child: Child = {
    proc,
    output: () => out,
    exited,
    async waitOutput(re, timeoutMs = 60_000) {
      await waitFor(() => re.test(out) || proc.exitCode !== null, { timeoutMs, what: `issuer output ${re}` });
      const m = out.match(re);
      if (!m) throw new Error(`issuer exited (${proc.exitCode}) before ${re}:\n${out.slice(-3000)}`);
      return m;
    },
  };
  children.push(child);
  return child;
}

/** Stops every issuer process the suite started (gracefully). */
async function stopChildren(): Promise<void> {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
}

async function startIssuer(): Promise<void> {
  issuer = spawnIssuer(MAIN);
  const listening = await issuer.waitOutput(/"address":"(http:\/\/127\.0\.0\.1:\d+)","ops":"(http:\/\/127\.0\.0\.1:\d+)"/);
  issuerUrl = listening[1]!;
  issuerOpsUrl = listening[2]!;
}

async function sql<T extends pg.QueryResultRow = any>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

const jitRoles = async (url: string) => (await sql<{ rolname: string }>(url, "SELECT rolname FROM pg_roles WHERE rolname LIKE 'jit\\_%' ORDER BY 1")).map((r) => r.rolname);

/** A request merged in the sandbox and the approval the gate would sign for it (what the issuer re-checks with GitLab). */
async function approvedData(target: string, ttl: { ttl: string; ttlSeconds: number } = { ttl: '10m', ttlSeconds: 600 }) {
  const n = nextIid++;
  return mergedRequest({ sandbox, merger: bot, project: PROJECT, author: 'carol', target, scope: 'write', tier: 'reversible-write', ...ttl, recipient, policyVersion, branch: `req-${n}` }, carol);
}

async function approved(target: string, overrides: { idKey?: string; ttl?: { ttl: string; ttlSeconds: number }; from?: Awaited<ReturnType<typeof approvedData>> } = {}) {
  const data = overrides.from ?? (await approvedData(target, overrides.ttl));
  const event = sampleEvent(EVENT_TYPES.approved, data, { time: new Date().toISOString(), ...(overrides.idKey ? { idKey: overrides.idKey } : {}) });
  return gateKey.signer.sign(event);
}

const publish = (event: AnyElevationEvent) => observer.publish(TOPIC_ELEVATIONS, (event.data as { elevationId: string }).elevationId, event);

/** A test entry (CRASH, HOLD) started as the only issuer, with an approval it has issued (and holds). */
async function issuedBy(entry: string) {
  const child = spawnIssuer(entry);
  await child.waitOutput(/JIT_TEST_LISTENING/);
  const event = await approved('orders-db');
  const gid = event.data.grantId;
  const rolesBefore = await jitRoles(ordersUrl);
  await publish(event);
  await child.waitOutput(new RegExp(`JIT_TEST_ISSUED ${gid}`));
  return { child, gid, rolesBefore };
}
const of = (type: string, grantId: string) => events.filter((e) => e.type === type && (e.data as { grantId?: string }).grantId === grantId);

async function notes(iid: number): Promise<string[]> {
  const res = await fetch(`${sandbox.url}/api/v4/projects/${projectId}/merge_requests/${iid}/notes`, { headers: { 'private-token': BOT_TOKEN } });
  return ((await res.json()) as Array<{ body: string }>).map((n) => n.body);
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${issuerOpsUrl}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

beforeAll(async () => {
  [kafka, pgMain, pgFlaky] = await Promise.all([startKafka(), startPostgres(), startPostgres()]);
  ordersUrl = await pgMain.createDatabase(uniqueName('orders').replace(/-/g, '_'));
  flakyUrl = await pgFlaky.createDatabase(uniqueName('flaky').replace(/-/g, '_'));
  await sql(ordersUrl, 'CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL); INSERT INTO public.orders VALUES (1, 10)');
  await sql(flakyUrl, 'CREATE TABLE public.events (id int PRIMARY KEY)');
  ({ identity, recipient } = await generateAgeIdentity());
  sandbox = await startSandbox({
    seed: {
      users: [
        { username: 'jit-bot', token: BOT_TOKEN, bot: true },
        { username: 'carol', token: CAROL_TOKEN },
      ],
      groups: [{ path: 'ops', members: [{ username: 'carol', access_level: 30 }] }],
      projects: [
        {
          path: PROJECT,
          files: { 'policy.yaml': policyYaml(TARGETS, { carol: [recipient] }) },
          members: [
            { username: 'jit-bot', access_level: 40 },
            { username: 'carol', access_level: 30 },
          ],
        },
      ],
    },
  });
  projectId = sandbox.project(PROJECT).id;
  bot = createGitlabClient({ url: sandbox.url, token: BOT_TOKEN });
  carol = createGitlabClient({ url: sandbox.url, token: CAROL_TOKEN });
  const store = createPolicyStore({ gitlab: bot, projectId, substrates: { postgres: { validateScope: () => [] } } });
  const atMain = await store.atRef('main');
  policyVersion = atMain.version;
  const mainSha = atMain.commitId;
  observer = await createKafkaBus({ brokers: kafka.brokers, clientId: 'issuer-int-observer', logger: createLogger({ name: 'observer', level: 'fatal' }) });
  await observer.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
  observed = await observer.subscribe({
    topic: TOPIC_ELEVATIONS,
    groupId: uniqueName('issuer-int-observer'),
    startFrom: 'earliest',
    handler: async (m) => {
      rawEvents.push(JSON.stringify(m.event));
      const parsed = parseElevationEvent(m.event);
      if (parsed.ok) events.push(parsed.event);
    },
  });
  // The issuer issues only under a version the log ratified (the gate records it; here, by hand).
  const ratified = gateKey.signer.sign(sampleEvent(EVENT_TYPES.policyRatified, { projectId, version: policyVersion, commitSha: mainSha, how: 'pin', approvers: [], mrIid: undefined }));
  await observer.publish(TOPIC_ELEVATIONS, policyKey(projectId), ratified);
  await startIssuer();
}, 240_000);

afterAll(async () => {
  for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  await observed?.stop();
  await observer?.close();
  await sandbox?.close();
  await Promise.allSettled([kafka?.dispose(), pgMain?.dispose(), pgFlaky?.dispose()]);
});

describe('issuer on Kafka + PostgreSQL', () => {
  it('approved -> granted: the sealed credential opens with the identity, logs in and can do what the scope grants, no more', async () => {
    const event = await approved('orders-db');
    await publish(event);
    const gid = event.data.grantId;
    await waitFor(() => of(EVENT_TYPES.granted, gid).length === 1, { timeoutMs: 60_000, what: 'granted' });
    const granted = of(EVENT_TYPES.granted, gid)[0]!;
    expect(granted.data).toMatchObject({ elevationId: event.data.elevationId, substrate: 'postgres', handle: { kind: 'postgres' } });

    const res = await fetch(`${issuerUrl}/v1/elevations/${event.data.elevationId}/credential`, { headers: { authorization: `Bearer ${CAROL_TOKEN}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { sealedCredential: string; grantId: string };
    expect(body.grantId).toBe(gid);
    const secret = await openCredential(body.sealedCredential, identity);
    await sql(secret.url!, 'INSERT INTO public.orders VALUES (2, 20)');
    await sql(secret.url!, 'UPDATE public.orders SET total = 11 WHERE id = 1');
    expect(await sql(secret.url!, 'SELECT id, total FROM public.orders ORDER BY id')).toEqual([
      { id: 1, total: 11 },
      { id: 2, total: 20 },
    ]);
    await expect(sql(secret.url!, 'DELETE FROM public.orders')).rejects.toMatchObject({ code: '42501' });
    await expect(sql(secret.url!, 'CREATE TABLE public.nope (x int)')).rejects.toMatchObject({ code: '42501' });

    await waitFor(async () => (await notes(event.data.mrIid)).some((n) => n.includes('jit: granted')), { what: 'granted comment' });
    expect((await fetch(`${issuerUrl}/v1/elevations/gl-1-999999/credential`, { headers: { authorization: `Bearer ${CAROL_TOKEN}` } })).status).toBe(404);
    expect((await fetch(`${issuerUrl}/v1/elevations/not-an-id/credential`, { headers: { authorization: `Bearer ${CAROL_TOKEN}` } })).status).toBe(400);
    expect((await fetch(`${issuerOpsUrl}/readyz`)).status).toBe(200);
  });

  it('duplicate approved events (redelivered and re-sent) -> one role, one granted event', async () => {
    const first = await approved('orders-db');
    const again = await approved('orders-db', { from: first.data, idKey: 'a-second-approval-event' });
    expect(again.id).not.toBe(first.id);
    const rolesBefore = (await jitRoles(ordersUrl)).length;
    const dupBefore = await metric('jit_grants_total{outcome="duplicate"');
    await publish(first);
    await publish(first);
    await publish(again);
    const gid = first.data.grantId;
    await waitFor(async () => (await metric('jit_grants_total{outcome="duplicate"')) >= dupBefore + 2, { timeoutMs: 60_000, what: 'two duplicates seen' });
    expect(of(EVENT_TYPES.granted, gid)).toHaveLength(1);
    expect(await jitRoles(ordersUrl)).toHaveLength(rolesBefore + 1);
  });

  it('substrate down -> retried, then grant.failed (the retry budget spent, the last error named) with nothing issued', async () => {
    await pgFlaky.stop();
    try {
      const event = await approved('flaky-db');
      await publish(event);
      const gid = event.data.grantId;
      await waitFor(() => of(EVENT_TYPES.grantFailed, gid).length === 1, { timeoutMs: 60_000, what: 'grant.failed' });
      const failed = of(EVENT_TYPES.grantFailed, gid)[0]!.data as { attempts: number; error: { code: string; retriable: boolean; message: string } };
      expect(failed.attempts).toBe(3);
      // the operator's attempt cap (JIT_ISSUE_ATTEMPTS) came first: the budget is spent, the last error named
      expect(failed.error).toMatchObject({ code: 'JIT_ERR_ISSUER_RETRY_BUDGET_SPENT', retriable: false });
      expect(failed.error.message).toMatch(/\(3 attempts; last: JIT_ERR_[A-Z_]+: /);
      expect(of(EVENT_TYPES.granted, gid)).toHaveLength(0);
      const tries = issuer
        .output()
        .split('\n')
        .filter((l) => l.includes(gid) && /substrate \S+ issue failed/.test(l));
      expect(tries).toHaveLength(3);
      await waitFor(async () => (await notes(event.data.mrIid)).some((n) => n.includes('jit: grant failed')), { what: 'failure comment' });
      expect((await fetch(`${issuerUrl}/v1/elevations/${event.data.elevationId}/credential`, { headers: { authorization: `Bearer ${CAROL_TOKEN}` } })).status).toBe(409);
    } finally {
      await pgFlaky.start();
    }
    expect(await jitRoles(flakyUrl)).toEqual([]);
  });

  it('killed between issue and publish -> after restart exactly one role, granted once, and its credential works', async () => {
    issuer.proc.kill('SIGTERM');
    expect(await issuer.exited).toBe(0); // graceful stop
    const { child: crashing, gid, rolesBefore } = await issuedBy(CRASH);
    crashing.proc.kill('SIGKILL');
    await crashing.exited;
    const rolesAfterCrash = await jitRoles(ordersUrl);
    expect(rolesAfterCrash).toHaveLength(rolesBefore.length + 1); // issued, never published
    expect(of(EVENT_TYPES.granted, gid)).toHaveLength(0);

    await startIssuer(); // same group: `approved` was never committed, so it comes again
    await waitFor(() => of(EVENT_TYPES.granted, gid).length === 1, { timeoutMs: 90_000, what: 'granted after restart' });
    expect(await jitRoles(ordersUrl)).toEqual(rolesAfterCrash); // the retry found its own role
    const granted = of(EVENT_TYPES.granted, gid)[0]!.data as { sealedCredential: string };
    const secret = await openCredential(granted.sealedCredential, identity);
    expect(await sql(secret.url!, 'SELECT count(*)::int AS n FROM public.orders')).toEqual([{ n: expect.any(Number) }]);
  });

  it('a forged approval on Kafka — unsigned, or signed by a key the issuer does not trust — gets no credential; it is logged and counted', async () => {
    // Everything in it is true (a merged MR, its request file, the policy version): only the signature is missing or wrong.
    const data = await approvedData('orders-db');
    const unsigned = sampleEvent(EVENT_TYPES.approved, { ...data, ttlSeconds: 600 }, { time: new Date().toISOString() });
    const stranger = strangerKey.signer.sign(sampleEvent(EVENT_TYPES.approved, data, { time: new Date().toISOString(), idKey: 'by-a-stranger' }));
    const rolesBefore = await jitRoles(ordersUrl);
    const refused = (reason: string) => metric(`jit_events_refused_total{consumer="issuer",type="approved",reason="${reason}"}`);
    const [unsignedBefore, strangerBefore] = [await refused('unsigned'), await refused('untrusted_key')];
    await publish(unsigned);
    await publish(stranger);
    await waitFor(async () => (await refused('unsigned')) === unsignedBefore + 1 && (await refused('untrusted_key')) === strangerBefore + 1, { timeoutMs: 60_000, what: 'both refusals counted' });
    expect(of(EVENT_TYPES.granted, data.grantId)).toHaveLength(0);
    expect(of(EVENT_TYPES.grantFailed, data.grantId)).toHaveLength(0); // a forger cannot make a real approval look handled either
    expect(await jitRoles(ordersUrl)).toEqual(rolesBefore);
    expect(issuer.output()).toMatch(/refused an elevation\.approved not signed by a trusted gate key \(unsigned\)/);
    expect((await fetch(`${issuerUrl}/v1/elevations/${data.elevationId}/credential`, { headers: { authorization: `Bearer ${CAROL_TOKEN}` } })).status).not.toBe(200);
    // the real approval of the same MR, signed by the gate, is still served
    await publish(await approved('orders-db', { from: data, idKey: 'the-gate-s-own' }));
    await waitFor(() => of(EVENT_TYPES.granted, data.grantId).length === 1, { timeoutMs: 60_000, what: 'granted' });
  });

  it('a gate-signed approval whose recipient or TTL GitLab contradicts gets no credential: grant.failed names the difference', async () => {
    const mallory = await generateAgeIdentity();
    const real = await approvedData('orders-db');
    const rolesBefore = await jitRoles(ordersUrl);
    const forged = gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { ...real, recipient: mallory.recipient, ttlSeconds: 30 * 24 * 3600 }, { time: new Date().toISOString() }));
    await publish(forged);
    await waitFor(() => of(EVENT_TYPES.grantFailed, real.grantId).length === 1, { timeoutMs: 60_000, what: 'grant.failed' });
    const failed = of(EVENT_TYPES.grantFailed, real.grantId)[0]!.data as { error: { code: string; message: string } };
    expect(failed.error.code).toBe('JIT_ERR_ISSUER_APPROVAL_MISMATCH');
    expect(failed.error.message).toMatch(/recipient is not the request file.*TTL is not the request file.*above the policy's ceiling/);
    expect(of(EVENT_TYPES.granted, real.grantId)).toHaveLength(0);
    expect(await jitRoles(ordersUrl)).toEqual(rolesBefore);
  });

  it('signs what it publishes and what it seals, with the key GET /v1/keys lists', async () => {
    const keys = ((await (await fetch(`${issuerUrl}/v1/keys`, { headers: { authorization: `Bearer ${CAROL_TOKEN}` } })).json()) as { keys: Array<{ x: string; roles: string[] }> }).keys;
    expect(keys).toEqual([expect.objectContaining({ x: issuerKey.signer.publicKey.x, roles: ['issuer'] })]);
    const raw = rawEvents.map((t) => JSON.parse(t) as { type: string }).filter((e) => e.type === EVENT_TYPES.granted);
    expect(raw.length).toBeGreaterThan(0);
    for (const e of raw) expect(createEventVerifier([issuerKey.signer.publicKey]).verify(e).ok).toBe(true);
  });

  it('no issued password (nor the admin password) appears in any log line, event or MR comment', async () => {
    const granted = events.filter((e) => e.type === EVENT_TYPES.granted);
    expect(granted.length).toBeGreaterThanOrEqual(3);
    const secrets = [new URL(ordersUrl).password, new URL(flakyUrl).password];
    for (const g of granted) {
      const s = await openCredential((g.data as { sealedCredential: string }).sealedCredential, identity);
      secrets.push(s.password!, s.url!);
    }
    const comments: string[] = [];
    for (let iid = 1; iid < nextIid; iid++) comments.push(...(await notes(iid)));
    expect(comments.length).toBeGreaterThan(0);
    const haystacks = { logs: children.map((c) => c.output()).join('\n'), events: rawEvents.join('\n'), comments: comments.join('\n') };
    expect(haystacks.logs.length).toBeGreaterThan(1000);
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThan(8);
      for (const [where, text] of Object.entries(haystacks)) expect(text.includes(secret), `${where} leaks a secret`).toBe(false);
    }
  });
});

describe('issuer on Kafka: a `granted` whose ack was lost (issue 17: a broker kill -9 between the write and its ack)', () => {
  // only this suite's in-process issuer handles approvals from here on
  beforeAll(stopChildren);

  it('is announced again with the same event id, never issued twice: one credential, one `granted` for every consumer', async () => {
    const kafkaBus = await createKafkaBus({ brokers: kafka.brokers, clientId: uniqueName('issuer-lost-ack'), logger: createLogger({ name: 'lost-ack', level: 'fatal' }) });
    // The record reaches Kafka; the acknowledgement of the first `granted` never comes back.
    let acksLost = 0;
    const lossy: EventBus = {
      kind: kafkaBus.kind,
      ensureTopics: (t) => kafkaBus.ensureTopics(t),
      subscribe: (o) => kafkaBus.subscribe(o),
      replay: (t, h, o) => kafkaBus.replay(t, h, o),
      isReady: () => kafkaBus.isReady(),
      close: () => kafkaBus.close(),
      async publish(topic, key, event) {
        await kafkaBus.publish(topic, key, event);
        if (event.type === EVENT_TYPES.granted && acksLost++ === 0) throw BusUnavailable('no acknowledgement from the broker (test: the record was written)');
      },
    };
    const substrate = createMemorySubstrate();
    const issuer = createIssuer({
      bus: createSigningBus(lossy, issuerKey.signer, [TOPIC_ELEVATIONS], createChainHeads()), // chained, as apps/issuer composes it
      trust: producerTrust({ gate: [gateKey.signer.publicKey] }, { key: issuerKey.signer.publicKey, roles: ['issuer'] }),
      signer: issuerKey.signer,
      approvalCheck: { check: async () => undefined },
      substrates: { get: () => substrate },
      targets: { resolve: async () => ({ substrate: 'memory', scope: { access: 'write' }, connection: {}, recipients: { carol: [recipient] } }) },
      ledger: createLedger(),
      logger: createLogger({ name: 'lost-ack', level: 'fatal' }),
      groupId: uniqueName('issuer-lost-ack'),
      retry: { attempts: 2, baseMs: 10, maxMs: 20 },
    });
    await issuer.start();
    try {
      const elevationId = `gl-${projectId}-${9000 + Math.floor(Math.random() * 999)}`;
      const grantId = `${elevationId}-${'c'.repeat(40)}`;
      const approved = gateKey.signer.sign(sampleEvent(EVENT_TYPES.approved, { elevationId, grantId, recipient }, { time: new Date().toISOString() }));
      await observer.publish(TOPIC_ELEVATIONS, elevationId, approved);
      const ofGrant = () => events.filter((e) => e.type === EVENT_TYPES.granted && (e.data as { grantId: string }).grantId === grantId);
      await waitFor(() => ofGrant().length >= 2, { timeoutMs: 60_000, what: 'the granted event and its copy (the lost ack, then the retry)' });
      const granted = ofGrant();
      expect(acksLost).toBeGreaterThanOrEqual(2);
      expect(substrate.calls.filter((c) => c === `issue:${grantId}`)).toEqual([`issue:${grantId}`]);
      // both records are the same event: every consumer (the ledger, the revoker, a SIEM) keeps one
      expect(new Set(granted.map((e) => e.id)).size).toBe(1);
      const ledger = createLedger();
      for (const e of granted) ledger.apply(e);
      expect(ledger.get(elevationId)?.state).toBe('granted');
      const secret = await openCredential((granted[0]!.data as { sealedCredential: string }).sealedCredential, identity);
      expect(substrate.works(secret as Record<string, string>)).toBe(true);
    } finally {
      await issuer.stop();
      await kafkaBus.close();
    }
  });
});

describe('issuer on Kafka: a replica paused past its Kafka session between issue and `granted` (issue 17)', () => {
  beforeAll(stopChildren);

  it('leaves the grant to the replica that took its partition over: one `granted`, one role, and the credential it names is the one that works', async () => {
    const { child: held, gid, rolesBefore } = await issuedBy(HOLD);
    // SIGSTOP, as a stalled VM or a debugger would: no heartbeat, so its session (6 s) expires and a
    // second replica of the group gets the partition, the approval, and issues the grant itself.
    held.proc.kill('SIGSTOP');
    try {
      await startIssuer();
      await waitFor(() => of(EVENT_TYPES.granted, gid).length === 1, { timeoutMs: 90_000, what: 'granted by the replica that took over' });
    } finally {
      held.proc.kill('SIGUSR2'); // delivered on SIGCONT: the paused replica goes on from its issued credential
      held.proc.kill('SIGCONT');
    }
    const gaveUp = /another replica holds this approval now/;
    await waitFor(() => gaveUp.test(held.output()) || of(EVENT_TYPES.granted, gid).length > 1, { timeoutMs: 60_000, what: 'the resumed replica giving the grant up (or announcing it too)' });
    expect(of(EVENT_TYPES.granted, gid)).toHaveLength(1);
    expect(held.output()).toMatch(gaveUp);
    // Both replicas issued the grant, on the same role: the later password replaced the earlier one,
    // so the only credential that logs in is the one the log announced.
    expect(await jitRoles(ordersUrl)).toHaveLength(rolesBefore.length + 1);
    const granted = of(EVENT_TYPES.granted, gid)[0]!.data as { sealedCredential: string };
    const secret = await openCredential(granted.sealedCredential, identity);
    expect(await sql(secret.url!, 'SELECT count(*)::int AS n FROM public.orders')).toEqual([{ n: expect.any(Number) }]);
  });
});
