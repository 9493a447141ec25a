// `npm run chaos`: distributed mode under faults. The four services (two replicas of the issuer and
// of the revoker) on a private Kafka broker of the harness, driven through the GitLab sandbox the
// way users drive GitLab (branch, request file, MR, approvals, merge), against real substrates —
// PostgreSQL (through a TCP proxy this run controls), OpenBao's database engine and AWS STS on moto —
// with adversarial merges mixed in, while faults are injected at random: kill -9 of any service
// (and of both issuer or both revoker replicas at once), a broker restart (SIGTERM and kill -9), a
// service paused (SIGSTOP) past its Kafka session timeout, the PostgreSQL target unreachable.
// At the end it prints lost / duplicates / wrongly granted / credentials alive after expiry + bound,
// revocation lateness, dead-lettered events and recovery times, and exits 1 on any loss,
// duplicate, wrong grant or live credential. Settings: see test/chaos/README.md.
import { Writable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import pg from 'pg';
import { GetPolicyCommand, GetPolicyVersionCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { createKafkaBus, type CloudEventJson, type EventBus } from '@jit/bus';
import { TOPIC_ELEVATIONS, TOPIC_GITLAB, createEventSigner, generateSigningKeyPem } from '@jit/contracts';
import { createGitlabClient } from '@jit/gitlab';
import { startSandbox } from '@jit/gitlab-sandbox';
import { createLedger } from '@jit/ledger';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { startLedgerProjection, type LedgerProjection } from '@jit/read-api';
import { createVaultSubstrate, vaultConfigSchema } from '@jit/substrate-vault';
import { freePort, getMoto, getPostgres, getVault, startKafka, uniqueName, waitFor, type KafkaHandle } from '@jit/testing';
import { GATE_TOPIC_SPECS } from '../../apps/approval-gate/src/server';
import { runCli } from '../../apps/jit/src/cli/program';
import { startApp, type AppName, type AppProcess } from '../e2e/distributed/app-process';
import { AWS_ADMIN, AWS_REGION, createOrdersDatabase, createStsRole, demoSeed, dropDatabase, removeVaultDatabase, setupVaultDatabase } from '../e2e/distributed/fixtures';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

const PROJECT = 'ops/elevations';
const TOKENS = { agent: 'deploy-agent-token', bot: 'review-bot-token', alice: 'alice-token-0001', bob: 'bob-token-00001', carol: 'carol-token-0001', jit: 'jit-bot-token-0001' };

const env = process.env;
const N = Number(env.CHAOS_N ?? 12);
const CONCURRENCY = Number(env.CHAOS_CONCURRENCY ?? 4);
const FAULT_EVERY_MS = Number(env.CHAOS_FAULT_EVERY_MS ?? 12_000);
const TTL_S = Number(env.CHAOS_TTL_S ?? 30);
/** A credential still working this long after its expiry is a failure (faults included). */
const BOUND_MS = Number(env.CHAOS_REVOKE_BOUND_MS ?? 60_000);
/** How long one lifecycle step may take under faults before it is counted as lost. */
const STEP_MS = Number(env.CHAOS_STEP_TIMEOUT_MS ?? 240_000);
const SESSION_TIMEOUT_MS = 10_000;
const SEED = Number(env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** Mean pause between a user's steps (open, approve, merge): lifecycles spread over the faults. */
const THINK_MS = Number(env.CHAOS_THINK_MS ?? 8_000);
/** No lifecycle starts later than this after set-up (a long run fitted to a time budget); default: no limit. */
const DRIVE_FOR_MS = Number(env.CHAOS_DRIVE_FOR_MS ?? Infinity);
const FAULT_KINDS = ['kill9', 'kill9', 'kill9-pair', 'broker-term', 'broker-kill', 'pause', 'substrate-down'] as const;
type FaultKind = (typeof FAULT_KINDS)[number];
/** Which faults to inject (comma list; default all). */
const FAULTS: readonly FaultKind[] = env.CHAOS_FAULTS
  ? FAULT_KINDS.filter((k) =>
      env
        .CHAOS_FAULTS!.split(',')
        .map((s) => s.trim())
        .includes(k),
    )
  : FAULT_KINDS;
/** Slots (`webhook-ingest`, `issuer#1`, …) no fault ever stops (comma list; default none). */
const SPARE = new Set(
  (env.CHAOS_SPARE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
if (FAULTS.length === 0) throw new Error(`CHAOS_FAULTS names none of ${[...new Set(FAULT_KINDS)].join(', ')}`);

/** mulberry32: a seeded PRNG, so a run's choices can be replayed with CHAOS_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(SEED);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const log = (line: string) => process.stdout.write(`chaos: ${line}\n`);

type Kind = 'pg-write' | 'pg-read' | 'vault' | 'aws';
type Adversary = 'bot-approval-only' | 'one-of-two' | 'over-ceiling';
interface Lifecycle {
  n: number;
  kind: Kind;
  adversary?: Adversary;
  id?: string;
  mrIid?: number;
  merged: boolean;
  error?: string;
}
interface Fault {
  kind: string;
  target: string;
  at: number;
  endedAt?: number;
  recoveredMs?: number;
}

const cleanup: Array<() => Promise<unknown>> = [];
const events: CloudEventJson[] = [];
const ledger = createLedger();
const faults: Fault[] = [];
const lifecycles: Lifecycle[] = [];
/** Every running instance, by slot (`issuer#1`, …); `stopping` while a fault (or the end) stops it on purpose. */
const instances = new Map<string, { name: AppName; port: number; opsPort: number; env: Record<string, string>; app?: AppProcess; stopping?: boolean }>();
/** Restarts the supervisor made: a start that failed, or a process that exited on its own. */
const restarts: Array<{ slot: string; at: number; why: string }> = [];
let finishing = false;

async function main(): Promise<number> {
  log(
    `seed ${SEED}, ${N} lifecycles, ${CONCURRENCY} at a time, ~${THINK_MS} ms between a user's steps, a fault every ~${FAULT_EVERY_MS} ms, TTL ${TTL_S} s, bound ${BOUND_MS} ms, faults ${[...new Set(FAULTS)].join('/')}${SPARE.size ? `, sparing ${[...SPARE].join(', ')}` : ''}`,
  );
  const started = Date.now();
  const [kafka, vault, pgAdmin, moto] = await Promise.all([startKafka(), getVault(), getPostgres(), getMoto()]);
  cleanup.push(() => kafka.dispose());
  const dbUrl = await createOrdersDatabase(pgAdmin);
  cleanup.push(() => dropDatabase(pgAdmin, dbUrl));
  const [vaultDb, stsRole] = await Promise.all([setupVaultDatabase(vault, dbUrl), createStsRole(moto)]);
  cleanup.push(() => removeVaultDatabase(vault, vaultDb));
  // jit's PostgreSQL substrate reaches the database through the proxy; the checks go direct.
  const db = new URL(dbUrl);
  const proxy = await startTcpProxy({ host: db.hostname, port: Number(db.port || 5432) });
  cleanup.push(() => proxy.close());
  const viaProxy = new URL(dbUrl);
  viaProxy.host = `127.0.0.1:${proxy.port}`;

  const home = await tempDir();
  const identity = join(home, 'agent-identity.txt');
  const key = await cli(home, ['keygen', '--identity', identity]);
  const policy = `tiers:
  cosmetic: { ttlMax: 4h, approvals: 1, approvers: { groups: [platform] } }
  reversible-write: { ttlMax: 2h, approvals: 2, approvers: { groups: [platform] } }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, requesters: { groups: [oncall] }, reviewWithin: 24h }
agents: [deploy-agent]
recipients:
  deploy-agent: [${String(key.recipient)}]
policyApprovers: { groups: [security], approvals: 2 }
targets:
  orders-pg:
    substrate: postgres
    connection: { secretRef: env:CHAOS_PG_URL }
    scopes:
      read: { tier: cosmetic, grant: "SELECT ON ALL TABLES IN SCHEMA public" }
      write: { tier: reversible-write, grant: "SELECT, INSERT ON ALL TABLES IN SCHEMA public" }
  orders-vault:
    substrate: vault
    scopes:
      write: { tier: reversible-write, mode: database, role: ${vaultDb.role}, loginUrl: "${vaultDb.loginUrl}" }
  orders-aws:
    substrate: aws-sts
    scopes:
      write:
        tier: reversible-write
        roleArn: "${stsRole.arn}"
        sessionPolicy: { Version: "2012-10-17", Statement: [{ Effect: Allow, Action: "s3:PutObject", Resource: "*" }] }
`;
  const sandbox = await startSandbox({ seed: await demoSeed(policy) });
  cleanup.push(() => sandbox.close());

  // The observer's consumer crashes are printed (one that stops reading would stall every lifecycle);
  // kafkajs's connection errors during a broker restart are not.
  const observerLog = createLogger({
    name: 'chaos-observer',
    level: 'error',
    destination: new Writable({ write: (c, _e, cb) => (/consumer (crashed|stopped)/.test(String(c)) && process.stderr.write(`chaos: observer: ${String(c)}`), cb()) }),
  });
  const observer = await createKafkaBus({ brokers: kafka.brokers, clientId: 'chaos-observer', logger: observerLog });
  cleanup.push(() => observer.close());
  await observer.ensureTopics([...GATE_TOPIC_SPECS, ...GATE_TOPIC_SPECS.map((t) => ({ topic: `${t.topic}.dlq`, partitions: 3, retentionMs: -1 }))]);
  for (const topic of GATE_TOPIC_SPECS.map((t) => t.topic)) {
    await waitFor(() => observer.replay(topic, () => undefined).then(() => true), { timeoutMs: 90_000, intervalMs: 250, what: `${topic} to have partition leaders` });
  }
  let projection: LedgerProjection | undefined;
  await waitFor(
    async () => {
      projection = await startLedgerProjection({
        bus: observer,
        ledger,
        logger: observerLog,
        groupId: uniqueName('chaos-observer'),
        onEvent: (e) => void events.push(e),
      });
      return true;
    },
    { timeoutMs: 90_000, intervalMs: 250, what: 'the observer to join its consumer group' },
  );
  cleanup.push(() => projection!.stop());

  const dataDir = await tempDir();
  const brokers = kafka.brokers.join(',');
  const webhookSecret = randomBytes(24).toString('base64url');
  const gitlab = { GITLAB_URL: sandbox.url, GITLAB_TOKEN: TOKENS.jit, JIT_ELEVATIONS_PROJECT: PROJECT };
  const substrates = JSON.stringify({
    postgres: { adminUrlRef: 'env:CHAOS_PG_URL' },
    vault: { addr: vault.addr, tokenRef: 'env:CHAOS_VAULT_TOKEN', tokenRole: vaultDb.tokenRole, databaseMount: vaultDb.mount, carrierPolicies: [vaultDb.carrierPolicy] },
    'aws-sts': { region: AWS_REGION, endpoint: moto, credentials: AWS_ADMIN, roles: [stsRole.arn] },
  });
  const kafkaEnv = { KAFKA_BROKERS: brokers, KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) };
  const keys = Object.fromEntries(
    await Promise.all(
      (['gate', 'issuer', 'revoker'] as const).map(async (role) => {
        const pem = generateSigningKeyPem();
        const file = join(dataDir, `${role}-signing-key.pem`);
        await writeFile(file, pem, { mode: 0o600 });
        return [role, { file, x: createEventSigner(pem).publicKey.x }];
      }),
    ),
  ) as Record<'gate' | 'issuer' | 'revoker', { file: string; x: string }>;
  const targets = { CHAOS_PG_URL: viaProxy.toString(), CHAOS_VAULT_TOKEN: vault.token };
  const plan: Array<[string, AppName, Record<string, string>]> = [
    ['webhook-ingest#1', 'webhook-ingest', { ...kafkaEnv, JIT_WEBHOOK_SECRET: webhookSecret, JIT_DATA_DIR: join(dataDir, 'ingest') }],
    ['approval-gate#1', 'approval-gate', { ...kafkaEnv, ...gitlab, JIT_POLICY_PIN: policyBlobSha(policy), JIT_SIGNING_KEY_FILE: keys.gate.file, JIT_RECONCILE_INTERVAL_MS: '15000' }],
  ];
  for (const i of [1, 2]) {
    plan.push([
      `issuer#${i}`,
      'issuer',
      {
        ...kafkaEnv,
        ...gitlab,
        ...targets,
        JIT_SUBSTRATES: substrates,
        JIT_SIGNING_KEY_FILE: keys.issuer.file,
        JIT_TRUSTED_GATE_KEYS: keys.gate.x,
        JIT_TRUSTED_REVOKER_KEYS: keys.revoker.x,
        // retried through a substrate outage until the grant's whole window is gone (the adapters issue nothing past it)
        JIT_ISSUE_RETRY_TTL_PERCENT: '100',
        JIT_ISSUE_RETRY_MAX_MS: '5000',
      },
    ]);
    plan.push([
      `revoker#${i}`,
      'revoker',
      {
        ...kafkaEnv,
        ...gitlab,
        ...targets,
        JIT_SUBSTRATES: substrates,
        JIT_SWEEP_INTERVAL_MS: '0',
        JIT_REVOKE_RETRY_BASE_MS: '500',
        JIT_REVOKE_RETRY_MAX_MS: '5000',
        JIT_SIGNING_KEY_FILE: keys.revoker.file,
        JIT_TRUSTED_GATE_KEYS: keys.gate.x,
        JIT_TRUSTED_ISSUER_KEYS: keys.issuer.x,
      },
    ]);
  }
  for (const [slot, name, e] of plan) {
    const port = await freePort();
    instances.set(slot, { name, port, opsPort: await freePort(), env: { ...e, ...(name === 'issuer' ? { JIT_PUBLIC_URL: `http://127.0.0.1:${port}` } : {}) } });
  }
  cleanup.push(async () => {
    finishing = true;
    for (const i of instances.values()) {
      await Promise.race([i.app?.stop('SIGCONT').then(() => undefined), delay(0)]);
      await Promise.race([i.app?.stop('SIGTERM'), delay(30_000)]);
      await i.app?.stop('SIGKILL');
    }
  });
  await Promise.all([...instances.keys()].map((slot) => launch(slot)));
  sandbox.addHook(PROJECT, { url: `http://127.0.0.1:${instances.get('webhook-ingest#1')!.port}/webhooks/gitlab`, token: webhookSecret, push_events: true });
  log(`set up in ${Date.now() - started} ms`);

  // --- lifecycles and faults, concurrently
  const projectId = sandbox.project(PROJECT).id;
  for (let n = 1; n <= N; n++) {
    const adversarial = rnd() < 0.2;
    lifecycles.push({
      n,
      kind: pick(['pg-write', 'pg-read', 'vault', 'aws'] as const),
      ...(adversarial ? { adversary: pick(['bot-approval-only', 'one-of-two', 'over-ceiling'] as const) } : {}),
      merged: false,
    });
  }
  let driving = true;
  const chaos = (async () => {
    await delay(FAULT_EVERY_MS / 2);
    while (driving) {
      await inject(kafka, proxy).catch((err: unknown) => log(`fault injection failed: ${(err as Error).message}`));
      const wait = FAULT_EVERY_MS * (0.5 + rnd());
      for (let t = 0; t < wait && driving; t += 250) await delay(250);
    }
  })();
  const queue = [...lifecycles];
  const drivingSince = Date.now();
  const next = (): Lifecycle | undefined => (Date.now() - drivingSince < DRIVE_FOR_MS ? queue.shift() : undefined);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let l = next(); l; l = next()) {
        await drive(l, projectId, sandbox.url, String(key.recipient)).catch((err: unknown) => {
          l.error = (err as Error).message;
          log(`lifecycle ${l.n} ${l.id ?? ''} ${l.kind}: not driven to the end: ${l.error.slice(0, 300)}`);
        });
      }
    }),
  );
  driving = false;
  await chaos;
  if (queue.length > 0) {
    // the time budget ran out: the report covers the lifecycles that were started
    log(`CHAOS_DRIVE_FOR_MS (${DRIVE_FOR_MS} ms) reached: ${N - queue.length} of ${N} lifecycles started`);
    lifecycles.splice(lifecycles.length - queue.length);
  }
  log(`lifecycles driven in ${Date.now() - drivingSince} ms; ${faults.length} faults injected; waiting for every grant to end`);

  // --- every valid merged request granted, then revoked (or its bound passed)
  const valid = lifecycles.filter((l) => !l.adversary && l.merged && l.id);
  await waitFor(() => valid.every((l) => ['granted', 'revoked', 'expired', 'grant_failed', 'bypassed'].includes(ledger.get(l.id!)?.state ?? '')), {
    timeoutMs: STEP_MS,
    intervalMs: 500,
    what: 'every valid merge to reach a verdict',
  }).catch(() => undefined);
  const lastExpiry = Math.max(0, ...lifecycles.map((l) => Date.parse(ledger.get(l.id ?? '')?.expiresAt ?? '') || 0));
  await waitFor(() => valid.every((l) => ['revoked', 'expired', 'grant_failed', 'bypassed'].includes(ledger.get(l.id!)?.state ?? '')) || Date.now() > lastExpiry + BOUND_MS, {
    timeoutMs: Math.max(0, lastExpiry + BOUND_MS - Date.now()) + 5_000,
    intervalMs: 500,
    what: 'every grant to be revoked',
  }).catch(() => undefined);
  await delay(Math.max(0, lastExpiry + BOUND_MS - Date.now()));

  return report({ vault, vaultDb, stsRole, moto, dbUrl, observer });
}

// ------------------------------------------------------------------ the services

/**
 * Starts a slot as a supervisor (Kubernetes) would: a start that fails (the process exits before it
 * is ready) is retried with a growing back-off, and a process that later exits on its own (not
 * stopped by a fault) is started again.
 */
async function launch(slot: string): Promise<void> {
  const i = instances.get(slot)!;
  i.stopping = false;
  const deadline = Date.now() + 300_000;
  for (let backoff = 1_000; ; backoff = Math.min(backoff * 2, 10_000)) {
    try {
      i.app = await startApp(i.name, { port: i.port, opsPort: i.opsPort }, i.env, 180_000);
      break;
    } catch (err) {
      if (Date.now() + backoff > deadline) throw err;
      const why = (err as Error).message.split('\n')[0]!.slice(0, 200);
      restarts.push({ slot, at: Date.now(), why: `failed start: ${why}` });
      log(`supervisor: ${slot} failed to start (${why}); restarting in ${backoff} ms`);
      await delay(backoff);
    }
  }
  const app = i.app;
  void app.exited.then(async (code) => {
    if (i.stopping || finishing || i.app !== app) return;
    restarts.push({ slot, at: Date.now(), why: `exited ${code}` });
    // what it said last (pino lines at warn and above, else its last lines): why it exited
    const lines = app.output().trimEnd().split('\n');
    const loud = lines.filter((l) => /"level":(4|5|6)\d/.test(l) || !l.startsWith('{'));
    log(`supervisor: ${slot} exited ${code} on its own; restarting it. Its last words:\n  ${(loud.length ? loud : lines).slice(-6).join('\n  ').slice(0, 4000)}`);
    await delay(1_000);
    if (!i.stopping && !finishing && i.app === app) await launch(slot).catch((err: unknown) => log(`supervisor: ${slot} could not be restarted: ${(err as Error).message.slice(0, 300)}`));
  });
}

/** SIGKILL on purpose (a fault): the supervisor leaves it down until the fault restarts it. */
async function kill9(slot: string): Promise<void> {
  const i = instances.get(slot)!;
  i.stopping = true;
  await i.app!.stop('SIGKILL');
}

async function allReady(): Promise<void> {
  await waitFor(
    async () => {
      for (const i of instances.values()) {
        const ok = await fetch(`${i.app!.opsUrl}/readyz`, { signal: AbortSignal.timeout(2000) })
          .then((r) => r.status === 200)
          .catch(() => false);
        if (!ok) return false;
      }
      return true;
    },
    { timeoutMs: 180_000, intervalMs: 250, what: 'every service ready again' },
  );
}

async function inject(kafka: KafkaHandle, proxy: TcpProxy): Promise<void> {
  const kind = pick(FAULTS);
  const f: Fault = { kind, target: '', at: Date.now() };
  faults.push(f);
  if (kind === 'kill9') {
    const slot = pick([...instances.keys()].filter((k) => !SPARE.has(k)));
    f.target = slot;
    await kill9(slot);
    await delay(500 + rnd() * 2000);
    await launch(slot);
  } else if (kind === 'kill9-pair') {
    const name = pick(['issuer', 'revoker'] as const);
    f.target = `${name}#1+${name}#2`;
    const slots = [`${name}#1`, `${name}#2`];
    await Promise.all(slots.map((s) => kill9(s)));
    await delay(500 + rnd() * 2000);
    await Promise.all(slots.map((s) => launch(s)));
  } else if (kind === 'broker-term' || kind === 'broker-kill') {
    f.target = 'kafka';
    if (kind === 'broker-term') await kafka.stop();
    else await kafka.kill();
    await delay(1000 + rnd() * 4000);
    await kafka.start();
  } else if (kind === 'pause') {
    const slot = pick([...instances.keys()].filter((k) => !SPARE.has(k)));
    f.target = slot;
    const pid = instances.get(slot)!.app!.pid;
    process.kill(pid, 'SIGSTOP');
    await delay(SESSION_TIMEOUT_MS + 5000);
    process.kill(pid, 'SIGCONT');
  } else {
    f.target = 'postgres (proxy)';
    await proxy.down();
    await delay(5000 + rnd() * 15_000);
    await proxy.up();
  }
  f.endedAt = Date.now();
  log(`fault ${faults.length}: ${kind} ${f.target} (${f.endedAt - f.at} ms)`);
  await allReady();
  f.recoveredMs = Date.now() - f.endedAt;
}

// ------------------------------------------------------------------ one lifecycle, as users do it

async function drive(l: Lifecycle, projectId: number, gitlabUrl: string, recipient: string): Promise<void> {
  const as = (token: string) => createGitlabClient({ url: gitlabUrl, token });
  const agent = as(TOKENS.agent);
  const branch = `chaos-${SEED}-${l.n}`;
  const [target, scope, tier] =
    l.kind === 'pg-read'
      ? ['orders-pg', 'read', 'cosmetic']
      : l.kind === 'pg-write'
        ? ['orders-pg', 'write', 'reversible-write']
        : l.kind === 'vault'
          ? ['orders-vault', 'write', 'reversible-write']
          : ['orders-aws', 'write', 'reversible-write'];
  const ttl = l.adversary === 'over-ceiling' ? (tier === 'cosmetic' ? '5h' : '3h') : `${TTL_S}s`;
  const body = [
    'apiVersion: jit/v1',
    'kind: ElevationRequest',
    'spec:',
    `  target: ${target}`,
    `  scope: ${scope}`,
    `  ttl: ${ttl}`,
    `  riskTier: ${tier}`,
    `  justification: "chaos run ${SEED} lifecycle ${l.n} (INC-${1000 + l.n})"`,
    `  recipient: ${recipient}`,
    '',
  ].join('\n');
  await agent.branches.create(projectId, branch, 'main');
  await agent.commits.create(projectId, branch, `request ${target}/${scope}`, [{ action: 'create', filePath: `elevations/${branch}.yaml`, content: body }]);
  const mr = await agent.mergeRequests.create(projectId, { sourceBranch: branch, targetBranch: 'main', title: `chaos ${l.n}: ${target}/${scope}` });
  l.mrIid = mr.iid;
  l.id = `gl-${projectId}-${mr.iid}`;
  const id = l.id;
  const state = () => ledger.get(id)?.state ?? '';
  await waitFor(() => ['pending', 'rejected'].includes(state()), { timeoutMs: STEP_MS, intervalMs: 250, what: `${id} validated` });
  await delay(rnd() * 2 * THINK_MS); // reading the jit comment
  const approvers =
    l.adversary === 'bot-approval-only'
      ? [TOKENS.bot]
      : l.adversary === 'one-of-two' && tier !== 'cosmetic'
        ? [TOKENS.alice]
        : tier === 'cosmetic' && l.adversary
          ? [TOKENS.bot]
          : tier === 'cosmetic'
            ? [TOKENS.carol]
            : [TOKENS.alice, TOKENS.bob];
  for (const t of approvers) await as(t).mergeRequests.approve(projectId, mr.iid);
  const humans = approvers.filter((t) => t !== TOKENS.bot).length;
  await delay(rnd() * 2 * THINK_MS); // before merging
  if (state() === 'pending' && humans > 0) {
    // as a careful approver would: merge once jit shows the approvals (a late webhook is no reason to wait forever)
    await waitFor(() => (ledger.get(id)?.approvals.filter((a) => a.counted).length ?? 0) >= humans, { timeoutMs: 60_000, intervalMs: 250, what: `${id} approvals` }).catch(() => undefined);
  }
  if (l.adversary && state() === 'pending') {
    // GitLab enforces jit's approval rule; the adversary (a maintainer) deletes it, and merges.
    const rules = await rest<Array<{ id: number; name: string }>>(gitlabUrl, `/projects/${projectId}/merge_requests/${mr.iid}/approval_rules`);
    for (const r of rules.filter((x) => x.name.startsWith('jit:'))) await rest(gitlabUrl, `/projects/${projectId}/merge_requests/${mr.iid}/approval_rules/${r.id}`, 'DELETE');
  }
  await as(TOKENS.alice).mergeRequests.merge(projectId, mr.iid);
  l.merged = true;
  await waitFor(() => ['granted', 'bypassed', 'grant_failed', 'revoked', 'expired'].includes(state()), { timeoutMs: STEP_MS, intervalMs: 250, what: `${id} verdict` }).catch(() => undefined);
  log(`lifecycle ${l.n} ${id} ${l.kind}${l.adversary ? ` (adversarial: ${l.adversary})` : ''}: ${state() || 'no verdict yet'}`);
}

// ------------------------------------------------------------------ the verdict

async function report(ctx: {
  vault: { addr: string; token: string };
  vaultDb: Awaited<ReturnType<typeof setupVaultDatabase>>;
  stsRole: { name: string };
  moto: string;
  dbUrl: string;
  observer: EventBus;
}): Promise<number> {
  const of = (id: string, type: string) => events.filter((e) => e.type === `dev.jit.elevation.${type}.v1` && (e.subject === id || (e.data as { elevationId?: string }).elevationId === id));
  const valid = lifecycles.filter((l) => !l.adversary && l.merged && l.id);
  const adversarial = lifecycles.filter((l) => l.adversary && l.merged && l.id);
  // Refused because no issue came before the grant's notAfter (approval + TTL: jit was down or cut off
  // past the whole TTL): by design a credential never outlives its grant, so these are not lost.
  const expiredBeforeIssue = valid.filter(
    (l) => of(l.id!, 'granted').length === 0 && of(l.id!, 'grant.failed').some((e) => (e.data as { error?: { code?: string } }).error?.code === 'JIT_ERR_SUBSTRATE_GRANT_EXPIRED'),
  );
  const lost = valid.filter((l) => of(l.id!, 'granted').length === 0 && !expiredBeforeIssue.includes(l));
  const duplicates = lifecycles.filter((l) => l.id && new Set(of(l.id, 'granted').map((e) => (e.data as { grantId: string }).grantId)).size < of(l.id, 'granted').length);
  const doubleGrants = lifecycles.filter((l) => l.id && new Set(of(l.id, 'granted').map((e) => (e.data as { grantId: string }).grantId)).size > 1);
  const wrong = adversarial.filter((l) => of(l.id!, 'granted').length > 0 || of(l.id!, 'approved').length > 0);
  const notDriven = lifecycles.filter((l) => !l.merged);

  // Credentials alive after expiry + bound, checked on the substrates themselves.
  const alive: string[] = [];
  const pgc = new pg.Client({ connectionString: ctx.dbUrl });
  await pgc.connect();
  const vault = createVaultSubstrate(
    vaultConfigSchema.parse({ addr: ctx.vault.addr, token: ctx.vault.token, tokenRole: ctx.vaultDb.tokenRole, databaseMount: ctx.vaultDb.mount, carrierPolicies: [ctx.vaultDb.carrierPolicy] }),
    {
      name: 'vault',
      logger: createLogger({ name: 'chaos-vault-scan', level: 'silent' }),
    },
  );
  const vaultLive = new Set((await vault.listIssued()).map((h) => h.grantId));
  await vault.close?.();
  const iam = new IAMClient({ region: AWS_REGION, endpoint: ctx.moto, credentials: { ...AWS_ADMIN } });
  const denies: string[] = [];
  try {
    const names = (await iam.send(new ListRolePoliciesCommand({ RoleName: ctx.stsRole.name }))).PolicyNames ?? [];
    for (const name of names) {
      const doc = await iam.send(new GetRolePolicyCommand({ RoleName: ctx.stsRole.name, PolicyName: name }));
      denies.push(decodeURIComponent(doc.PolicyDocument ?? ''));
    }
    // and the deny shards jit keeps in managed policies it attached to the role (ADR 0015)
    for (const p of (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: ctx.stsRole.name }))).AttachedPolicies ?? []) {
      if (!p.PolicyArn?.includes(':policy/jit/')) continue;
      const policy = await iam.send(new GetPolicyCommand({ PolicyArn: p.PolicyArn }));
      const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: p.PolicyArn, VersionId: policy.Policy?.DefaultVersionId }));
      denies.push(decodeURIComponent(version.PolicyVersion?.Document ?? ''));
    }
    for (const l of lifecycles) {
      for (const e of of(l.id ?? '', 'granted')) {
        const d = e.data as { grantId: string; expiresAt: string; issuedAt: string; substrate: string };
        if (Date.now() < Date.parse(d.expiresAt) + BOUND_MS) continue;
        if (d.substrate === 'postgres') {
          const r = await pgc.query('SELECT rolcanlogin FROM pg_roles WHERE rolname = $1', [`jit_${d.grantId}`]);
          if (r.rows.some((row: { rolcanlogin: boolean }) => row.rolcanlogin)) alive.push(`${l.id} (postgres role can log in)`);
        } else if (d.substrate === 'vault') {
          if (vaultLive.has(d.grantId)) alive.push(`${l.id} (vault credential live)`);
        } else if (d.substrate === 'aws-sts') {
          // An STS session lives at least 900 s (AssumeRole's minimum DurationSeconds, taken before
          // issuedAt); once that has passed it is dead on its own and the adapter drops its deny when
          // it compacts the role's policies: no deny needed (runs longer than 15 min saw this).
          const natural = Date.parse(d.issuedAt) + Math.max(Date.parse(d.expiresAt) - Date.parse(d.issuedAt), 900_000);
          if (Date.now() > natural) continue;
          // the deny is the grant's own policy (jit-revoke-<grant>) or folded into a shard, inline or managed
          if (!denies.some((doc) => doc.includes(`jit-${d.grantId}"`))) alive.push(`${l.id} (no session deny on the STS role)`);
        }
      }
    }
  } finally {
    iam.destroy();
    await pgc.end();
  }

  const lateness = valid
    .map((l) => ledger.get(l.id!)?.latenessMs)
    .filter((x): x is number => typeof x === 'number')
    .sort((a, b) => a - b);
  const q = (p: number) => (lateness.length ? lateness[Math.min(lateness.length - 1, Math.floor(p * lateness.length))]! : NaN);
  const dlq: Record<string, number> = {};
  for (const topic of [`${TOPIC_GITLAB}.dlq`, `${TOPIC_ELEVATIONS}.dlq`]) {
    let n = 0;
    await ctx.observer.replay(topic, () => void n++).catch(() => undefined);
    dlq[topic] = n;
  }
  const byKind = faults.reduce<Record<string, number>>((m, f) => ((m[f.kind] = (m[f.kind] ?? 0) + 1), m), {});
  const rec = faults
    .map((f) => f.recoveredMs)
    .filter((x): x is number => typeof x === 'number')
    .sort((a, b) => a - b);

  log('---------------------------------------------------------------- result');
  log(`seed ${SEED}; lifecycles ${lifecycles.length} (valid merged ${valid.length}, adversarial merged ${adversarial.length}, not driven to merge ${notDriven.length})`);
  log(
    `faults ${faults.length}: ${
      Object.entries(byKind)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }`,
  );
  log(`lost (approved, never granted): ${lost.length}${lost.length ? ` — ${lost.map((l) => `${l.id} ${ledger.get(l.id!)?.state ?? '?'}`).join(', ')}` : ''}`);
  log(`refused past the grant's notAfter (no issue within the TTL; not lost): ${expiredBeforeIssue.length}${expiredBeforeIssue.length ? ` — ${expiredBeforeIssue.map((l) => l.id).join(', ')}` : ''}`);
  log(
    `duplicates (granted twice / two grants): ${duplicates.length + doubleGrants.length}${duplicates.length + doubleGrants.length ? ` — ${[...duplicates, ...doubleGrants].map((l) => l.id).join(', ')}` : ''}`,
  );
  log(`wrongly granted (adversarial merges): ${wrong.length}${wrong.length ? ` — ${wrong.map((l) => `${l.id} ${l.adversary}`).join(', ')}` : ''}`);
  log(`credentials working after expiry + ${BOUND_MS} ms: ${alive.length}${alive.length ? ` — ${alive.join(', ')}` : ''}`);
  log(`revocation lateness (ms): n=${lateness.length} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${lateness.at(-1) ?? NaN}`);
  log(
    `dead-lettered: ${Object.entries(dlq)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  );
  log(`recovery after a fault (ms, every service ready): n=${rec.length} p50 ${rec[Math.floor(rec.length / 2)] ?? NaN} max ${rec.at(-1) ?? NaN}`);
  log(`supervisor restarts (failed starts, exits on their own): ${restarts.length}${restarts.length ? ` — ${restarts.map((r) => `${r.slot} ${r.why.slice(0, 80)}`).join('; ')}` : ''}`);
  for (const f of faults) log(`  ${new Date(f.at).toISOString()} ${f.kind} ${f.target}: lasted ${(f.endedAt ?? f.at) - f.at} ms, recovered in ${f.recoveredMs ?? '?'} ms`);
  for (const l of notDriven) log(`  not driven: ${l.n} ${l.kind}${l.adversary ? ` (${l.adversary})` : ''}: ${l.error ?? 'unknown'}`);
  for (const l of lost)
    log(
      `  lost ${l.id} ${l.kind}: ${ledger.get(l.id!)?.state ?? '?'}${ledger.get(l.id!)?.bypassReasons ? ` — ${ledger.get(l.id!)!.bypassReasons!.join('; ').slice(0, 600)}` : ''}${ledger.get(l.id!)?.grantError ? ` — ${JSON.stringify(ledger.get(l.id!)!.grantError).slice(0, 300)}` : ''}`,
    );
  for (const l of [...duplicates, ...doubleGrants]) {
    const gs = of(l.id!, 'granted').map((e) => ({ id: e.id, source: e.source, time: e.time, ...(e.data as { grantId: string; substrate: string }) }));
    log(`  duplicate ${l.id} ${l.kind}: ${gs.map((g) => `${g.substrate} ${g.grantId} by ${g.source} at ${g.time} (event ${g.id})`).join(' | ')}`);
  }
  const failed = lost.length + duplicates.length + doubleGrants.length + wrong.length + alive.length;
  // A lifecycle this run could not even drive to a merge proves nothing either way; too many is a failed run.
  const undriven = notDriven.length > Math.max(1, Math.floor(lifecycles.length / 10));
  if (undriven) log('too many lifecycles could not be driven to a merge: the run proves too little');
  log(failed === 0 && !undriven ? 'PASS' : 'FAIL');
  return failed === 0 && !undriven ? 0 : 1;
}

// ------------------------------------------------------------------ helpers

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-chaos-'));
  await chmod(dir, 0o755);
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The GitLab REST API as alice (a maintainer), for what the client facade does not offer. */
async function rest<T>(gitlabUrl: string, path: string, method = 'GET'): Promise<T> {
  const res = await fetch(`${gitlabUrl}/api/v4${path}`, { method, headers: { 'PRIVATE-TOKEN': TOKENS.alice } });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

async function cli(home: string, argv: string[]): Promise<Record<string, unknown>> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--json', ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: home, GITLAB_TOKEN: TOKENS.agent } });
  if (code !== 0) throw new Error(`jit ${argv[0]} exited ${code}: ${err.join(' ')}`);
  return JSON.parse(out.join('\n')) as Record<string, unknown>;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`run failed: ${(err as Error).stack ?? String(err)}`);
  for (const [slot, i] of instances) if (i.app) log(`--- ${slot} (last lines)\n${i.app.output().split('\n').slice(-20).join('\n')}`);
} finally {
  for (const c of cleanup.reverse()) await Promise.race([c().catch(() => undefined), delay(60_000)]);
}
process.exit(code);
