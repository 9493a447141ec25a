// End-to-end, distributed mode: webhook-ingest, approval-gate, issuer and revoker as four separate
// processes on a real Kafka broker (a private one: the topic names are fixed by contract, so a
// shared broker would mix this suite's events with other suites'), driven as users would — the
// agent with the `jit` CLI, two humans approving and merging through the GitLab API — against a
// Vault (OpenBao database engine on embedded PostgreSQL) target and an AWS STS (moto) target.
// States are observed the way a SIEM does: by consuming jit.elevations.v1; the agent also reads
// them as a user would, with `jit status`, `jit audit` and `jit request --wait` against the issuer
// (the process that serves /v1/elevations* in distributed mode), and the bypass alert's counter
// is read from the issuer's /metrics (on its ops listener). The four services reach Kafka as a
// production cluster asks: SASL_SSL with SCRAM-SHA-512, one user each, the password from a file,
// the broker's CA from a file (certificates made at test time); the test's own clients use the
// broker's plaintext listener.
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IAMClient, GetRolePolicyCommand } from '@aws-sdk/client-iam';
import { createKafkaBus, type CloudEventJson, type EventBus } from '@jit/bus';
import { createEventSigner, generateSigningKeyPem } from '@jit/contracts';
import { createGitlabClient } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLedger, type ElevationState, type Ledger } from '@jit/ledger';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { startLedgerProjection, type LedgerProjection } from '@jit/read-api';
import { probeOnMoto } from '@jit/substrate-aws-sts/testing';
import { createVaultSubstrate, vaultConfigSchema } from '@jit/substrate-vault';
import { createTestPki, freePort, getMoto, getPostgres, getVault, startKafka, uniqueName, waitFor, type KafkaHandle, type TestPki } from '@jit/testing';
import { GATE_TOPIC_SPECS } from '../../apps/approval-gate/src/server';
import { runCli } from '../../apps/jit/src/cli/program';
import { startApp, type AppName, type AppProcess } from './distributed/app-process';
import {
  AWS_ADMIN,
  AWS_REGION,
  createOrdersDatabase,
  createStsRole,
  demoSeed,
  dropDatabase,
  removeVaultDatabase,
  setupVaultDatabase,
  tryInsert,
  type VaultDatabaseFixture,
} from './distributed/fixtures';

const PROJECT = 'ops/elevations';
const TOKENS = { agent: 'deploy-agent-token', bot: 'review-bot-token', alice: 'alice-token-0001', bob: 'bob-token-00001', jit: 'jit-bot-token-0001' };
const TTL = '15s';

const cleanup: Array<() => Promise<unknown>> = [];
let kafka: KafkaHandle;
let sandbox: Sandbox;
let apps: Record<AppName, AppProcess>;
/** How each app was started (port and environment), to restart it the same way. */
let launch: Record<AppName, { port: number; opsPort: number; env: Record<string, string> }>;
/** Output of app instances that were killed and replaced (kept for the leak check). */
const pastOutput: Array<{ name: string; text: string }> = [];
let observerBus: EventBus;
let projection: LedgerProjection;
const ledger: Ledger = createLedger();
/** Every event seen on jit.elevations.v1, as published (raw JSON), for the leak check. */
const events: CloudEventJson[] = [];
/** Secrets issued during the suite: none may appear anywhere but in the sealed credential. */
const issuedSecrets: string[] = [];
let verifiedOut = '';
/** MRs opened by the suite (their comments are checked for leaks). */
const mrIids: number[] = [];
let webhookSecret: string;
let vaultDb: VaultDatabaseFixture;
let stsRole: { arn: string; name: string; id: string };
let motoEndpoint: string;
let home: string;
let identity: string;
let vaultRootToken: string;
let vaultAddr: string;
/** SCRAM users of the four services (user name = the service's default client id) and their passwords. */
const KAFKA_USERS = Object.fromEntries(
  (['webhook-ingest', 'approval-gate', 'issuer', 'revoker'] as const).map((n) => [n, { name: `jit-${n}`, password: `kafka-${randomBytes(12).toString('hex')}` }]),
) as Record<AppName, { name: string; password: string }>;
let pki: TestPki;

beforeAll(async () => {
  const started = Date.now();
  pki = await createTestPki();
  const [k, vault, pgAdmin, moto] = await Promise.all([startKafka({ secure: { pki, scramUsers: Object.values(KAFKA_USERS) } }), getVault(), getPostgres(), getMoto()]);
  kafka = k;
  cleanup.push(() => kafka.dispose());
  motoEndpoint = moto;
  vaultRootToken = vault.token;
  vaultAddr = vault.addr;
  const dbUrl = await createOrdersDatabase(pgAdmin);
  cleanup.push(() => dropDatabase(pgAdmin, dbUrl));
  [vaultDb, stsRole] = await Promise.all([setupVaultDatabase(vault, dbUrl), createStsRole(moto)]);
  cleanup.push(() => removeVaultDatabase(vault, vaultDb));

  // The agent's age key, registered to it under recipients: (only the requester may open a credential).
  home = await tempDir();
  identity = join(home, 'agent-identity.txt');
  const key = await cli(['keygen', '--identity', identity]);
  expect(String(key.recipient)).toMatch(/^age1/);
  const policy = `tiers:
  reversible-write: { ttlMax: 2h, approvals: 2, approvers: { groups: [platform] } }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, requesters: { groups: [oncall] }, reviewWithin: 24h }
agents: [deploy-agent]
auditors: { groups: [security] }
recipients:
  deploy-agent: [${String(key.recipient)}]
policyApprovers: { groups: [security], approvals: 2 }
targets:
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
  sandbox = await startSandbox({ seed: await demoSeed(policy) });
  cleanup.push(() => sandbox.close());

  // Topics exist before the services start, as deploy/kafka/topics.yaml asks of operators.
  observerBus = await createKafkaBus({ brokers: kafka.brokers, clientId: 'e2e-observer', logger: createLogger({ name: 'e2e-observer', level: 'warn' }) });
  cleanup.push(() => observerBus.close());
  await observerBus.ensureTopics([...GATE_TOPIC_SPECS, ...GATE_TOPIC_SPECS.map((t) => ({ topic: `${t.topic}.dlq`, partitions: 3, retentionMs: -1 }))]);
  // ensureTopics returns before every partition has a leader on a fresh broker, and a replay then
  // fails NOT_LEADER_FOR_PARTITION (the services would crash at start the same way): wait until
  // both topics can be read end to end.
  for (const topic of GATE_TOPIC_SPECS.map((t) => t.topic)) {
    await waitFor(() => observerBus.replay(topic, () => undefined).then(() => true), { timeoutMs: 60_000, intervalMs: 250, what: `${topic} to have partition leaders` });
  }

  // The observer: a SIEM-like consumer of jit.elevations.v1 folding events into a ledger. Started
  // before the services, it also has the fresh broker create and load its group coordinator.
  // The first group on a fresh broker meets NOT_COORDINATOR_FOR_GROUP while __consumer_offsets
  // loads, and subscribe does not retry it: retry here until the coordinator answers.
  const observerGroup = uniqueName('e2e-observer');
  await waitFor(
    async () => {
      projection = await startLedgerProjection({
        bus: observerBus,
        ledger,
        logger: createLogger({ name: 'e2e-observer', level: 'warn' }),
        groupId: observerGroup,
        onEvent: (e) => void events.push(e),
      });
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 250, what: 'the observer to join its consumer group' },
  );
  cleanup.push(() => projection.stop());

  const dataDir = await tempDir();
  // each service: its own SCRAM user over SASL_SSL, the password in a file only it reads
  const kafkaSecure = async (name: AppName): Promise<Record<string, string>> => {
    const passwordFile = join(dataDir, `${name}-kafka-password`);
    await writeFile(passwordFile, `${KAFKA_USERS[name].password}\n`, { mode: 0o600 });
    return {
      KAFKA_BROKERS: kafka.saslSslBrokers.join(','),
      KAFKA_TLS: 'true',
      KAFKA_TLS_CA_FILE: pki.caFile,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: KAFKA_USERS[name].name,
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
    };
  };
  webhookSecret = randomBytes(24).toString('base64url');
  const gitlab = { GITLAB_URL: sandbox.url, GITLAB_TOKEN: TOKENS.jit, JIT_ELEVATIONS_PROJECT: PROJECT };
  const substrates = JSON.stringify({
    vault: { addr: vault.addr, tokenRef: 'env:E2E_VAULT_TOKEN', tokenRole: vaultDb.tokenRole, databaseMount: vaultDb.mount, carrierPolicies: [vaultDb.carrierPolicy] },
    'aws-sts': { region: AWS_REGION, endpoint: moto, credentials: AWS_ADMIN, roles: [stsRole.arn] },
  });
  const ports = { ingest: await freePort(), gate: await freePort(), issuer: await freePort(), revoker: await freePort() };
  // each service has its own ops listener (/healthz, /readyz, /metrics), apart from its public port
  const opsPorts = { ingest: await freePort(), gate: await freePort(), issuer: await freePort(), revoker: await freePort() };
  // Short Kafka session timeouts: a restarted consumer rejoins quickly on this small box.
  const kafkaEnv = { KAFKA_SESSION_TIMEOUT_MS: '10000' };
  // One signing key per service, as an operator sets them up (README "Event signatures"): each
  // consumer trusts the public keys of the producers it acts on.
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
  launch = {
    'webhook-ingest': { port: ports.ingest, opsPort: opsPorts.ingest, env: { ...(await kafkaSecure('webhook-ingest')), JIT_WEBHOOK_SECRET: webhookSecret, JIT_DATA_DIR: join(dataDir, 'ingest') } },
    // The operator pins the seeded policy (the first policy is trusted by an explicit act).
    'approval-gate': {
      port: ports.gate,
      opsPort: opsPorts.gate,
      env: { ...(await kafkaSecure('approval-gate')), ...gitlab, JIT_POLICY_PIN: policyBlobSha(policy), JIT_SIGNING_KEY_FILE: keys.gate.file },
    },
    issuer: {
      port: ports.issuer,
      opsPort: opsPorts.issuer,
      env: {
        ...kafkaEnv,
        ...(await kafkaSecure('issuer')),
        ...gitlab,
        JIT_SUBSTRATES: substrates,
        E2E_VAULT_TOKEN: vault.token,
        JIT_PUBLIC_URL: `http://127.0.0.1:${ports.issuer}`,
        JIT_SIGNING_KEY_FILE: keys.issuer.file,
        JIT_TRUSTED_GATE_KEYS: keys.gate.x,
        JIT_TRUSTED_REVOKER_KEYS: keys.revoker.x,
      },
    },
    // No orphan sweep: OpenBao and moto are shared with other suites; this one checks its own grants.
    revoker: {
      port: ports.revoker,
      opsPort: opsPorts.revoker,
      env: {
        ...kafkaEnv,
        ...(await kafkaSecure('revoker')),
        ...gitlab,
        JIT_SUBSTRATES: substrates,
        E2E_VAULT_TOKEN: vault.token,
        JIT_SWEEP_INTERVAL_MS: '0',
        JIT_REVOKE_RETRY_BASE_MS: '500',
        JIT_SIGNING_KEY_FILE: keys.revoker.file,
        JIT_TRUSTED_GATE_KEYS: keys.gate.x,
        JIT_TRUSTED_ISSUER_KEYS: keys.issuer.x,
      },
    },
  };
  const names = Object.keys(launch) as AppName[];
  const settled = await Promise.allSettled(names.map((n) => startApp(n, launch[n], launch[n].env)));
  apps = {} as Record<AppName, AppProcess>;
  for (const s of settled) if (s.status === 'fulfilled') apps[s.value.name] = s.value;
  // Stops whichever instance of each app is current (tests restart some).
  cleanup.push(async () => {
    for (const a of Object.values(apps)) {
      await Promise.race([a.stop('SIGTERM'), delay(35_000)]);
      await a.stop('SIGKILL');
    }
  });
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) throw new Error(`distributed apps did not start:\n${failed.map((f) => String((f.reason as Error).message)).join('\n---\n')}`);

  sandbox.addHook(PROJECT, { url: `${apps['webhook-ingest'].url}/webhooks/gitlab`, token: webhookSecret, push_events: true }); // jit learns who pushed from Push Hooks

  process.stdout.write(`distributed e2e: setup took ${Date.now() - started} ms\n`);
});

afterAll(async () => {
  for (const c of cleanup.reverse()) await c().catch((err: unknown) => process.stderr.write(`distributed e2e cleanup: ${(err as Error)?.message}\n`));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'jit-e2e-dist-'));
  await chmod(dir, 0o755);
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The agent's `jit --json …`; throws with stderr on a non-zero exit. */
async function cli(argv: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--json', ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: home ?? tmpdir(), GITLAB_TOKEN: TOKENS.agent, ...env } });
  if (code !== 0) throw new Error(`jit ${argv[0]} exited ${code}: ${err.join(' ')}`);
  return JSON.parse(out.join('\n')) as Record<string, unknown>;
}

/** The agent's `jit --json …` whatever its exit code (for commands whose failure is the point). */
async function cliRun(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--json', ...argv], { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: home ?? tmpdir(), GITLAB_TOKEN: TOKENS.agent, ...env } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** `jit status <id>` against the issuer, until it reports one of `states` (its read model follows the log). */
async function cliStatus(id: string, states: string[]): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await waitFor(
    async () => {
      last = await cli(['status', id, '--url', apps.issuer.url]);
      return states.includes(String(last.state));
    },
    { timeoutMs: 60_000, intervalMs: 250, what: `jit status ${id} to say ${states.join('/')}` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last answer: ${JSON.stringify(last).slice(0, 500)}`);
  });
  return last;
}

/** `jit audit --json …` against the issuer, as `token`'s owner (default alice: security, an auditor). */
async function cliAudit(flags: string[], token: string = TOKENS.alice): Promise<Array<{ id: string; state: string }>> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--json', 'audit', '--url', apps.issuer.url, ...flags], { out: (s) => out.push(s), err: (s) => err.push(s), env: { HOME: home ?? tmpdir(), GITLAB_TOKEN: token } });
  if (code !== 0) throw new Error(`jit audit exited ${code}: ${err.join(' ')}`);
  return JSON.parse(out.join('\n')) as Array<{ id: string; state: string }>;
}

/** A counter on the issuer's /metrics (NaN when it is not exported). */
async function issuerCounter(name: string): Promise<number> {
  const text = await (await fetch(`${apps.issuer.opsUrl}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
}

function state(id: string): ElevationState | undefined {
  return ledger.get(id);
}

/** Waits until the observed elevation is in one of `states`; on timeout, says where it is and what the apps logged. */
async function until(id: string, states: string[], timeoutMs = 90_000): Promise<ElevationState> {
  try {
    await waitFor(() => states.includes(state(id)?.state ?? ''), { timeoutMs, intervalMs: 100, what: `${id} to be ${states.join('/')}` });
  } catch (err) {
    // Full outputs go to a file (kept after the run); the message carries their tails.
    const dump = join(tmpdir(), `jit-e2e-distributed-${id}-${Date.now()}.log`);
    await writeFile(dump, [...pastOutput.map((p) => `=== ${p.name}\n${p.text}`), ...Object.values(apps).map((a) => `=== ${a.name}\n${a.output()}`)].join('\n'));
    throw new Error(`${(err as Error).message}; observed: ${JSON.stringify(summary(id))}; full app output in ${dump}\n${tails()}`);
  }
  return state(id)!;
}

function summary(id: string) {
  const s = state(id);
  return s && { state: s.state, approvals: s.approvals, problems: s.problems, grantError: s.grantError, lastRevokeError: s.lastRevokeError, bypassReasons: s.bypassReasons };
}

function tails(): string {
  return Object.values(apps ?? {})
    .map((a) => `--- ${a.name} (last lines) ---\n${a.output().split('\n').slice(-15).join('\n')}`)
    .join('\n');
}

function typesOf(id: string): string[] {
  return events.filter((e) => e.subject === id || (e.data as { elevationId?: string } | undefined)?.elevationId === id).map((e) => e.type);
}

/** Agent requests; review bot approves (not counted); alice and bob approve (counted); alice merges. */
async function requestApproveMerge(target: string, beforeMerge?: () => Promise<void>, ttl = TTL): Promise<{ id: string; mrIid: number; projectId: number }> {
  const req = await cli(
    ['request', '--target', target, '--scope', 'write', '--ttl', ttl, '--tier', 'reversible-write', '--identity', identity, '--justification', `distributed e2e: write to ${target} (INC-0008)`],
    { GITLAB_URL: sandbox.url, GITLAB_TOKEN: TOKENS.agent, JIT_ELEVATIONS_PROJECT: PROJECT },
  );
  const id = String(req.elevationId);
  const mrIid = Number(req.mrIid);
  mrIids.push(mrIid);
  expect(id).toMatch(/^gl-\d+-\d+$/);
  const projectId = Number(/^gl-(\d+)-/.exec(id)![1]);
  expect((await until(id, ['pending', 'rejected'])).state).toBe('pending');

  const as = (token: string) => createGitlabClient({ url: sandbox.url, token });
  await as(TOKENS.bot).mergeRequests.approve(projectId, mrIid);
  await waitFor(() => state(id)?.approvals.some((a) => a.approver === 'review-bot') === true, { timeoutMs: 60_000, what: 'the bot approval to be recorded' });
  const bot = state(id)!.approvals.find((a) => a.approver === 'review-bot')!;
  expect(bot.counted, 'a bot approval must not count').toBe(false);
  expect(state(id)!.state).toBe('pending');

  await as(TOKENS.alice).mergeRequests.approve(projectId, mrIid);
  await as(TOKENS.bob).mergeRequests.approve(projectId, mrIid);
  await waitFor(() => (state(id)?.approvals.filter((a) => a.counted).length ?? 0) >= 2, { timeoutMs: 60_000, what: 'two counted approvals' });
  expect(
    state(id)!
      .approvals.filter((a) => a.counted)
      .map((a) => a.approver)
      .sort(),
  ).toEqual(['alice', 'bob']);

  await beforeMerge?.();
  await as(TOKENS.alice).mergeRequests.merge(projectId, mrIid);
  return { id, mrIid, projectId };
}

async function fetchCredential(id: string): Promise<{ credential: Record<string, string>; expiresAt: string }> {
  const cred = await cli(['credential', id, '--identity', identity, '--url', apps.issuer.url]);
  return { credential: cred.credential as Record<string, string>, expiresAt: String(cred.expiresAt) };
}

/** Credentials of this grant Vault still holds, as the adapter's own orphan scan sees them. */
async function liveVaultGrants(grantId: string): Promise<string[]> {
  const vault = createVaultSubstrate(
    vaultConfigSchema.parse({ addr: vaultAddr, token: vaultRootToken, tokenRole: vaultDb.tokenRole, databaseMount: vaultDb.mount, carrierPolicies: [vaultDb.carrierPolicy] }),
    {
      name: 'vault',
      logger: createLogger({ name: 'e2e-vault-scan', level: 'silent' }),
    },
  );
  try {
    return (await vault.listIssued()).filter((h) => h.grantId === grantId).map((h) => String(h.ref.accessor));
  } finally {
    await vault.close?.();
  }
}

/** Figures of one lifecycle, from the events' own times (printed for the README/report). */
function figures(id: string): string {
  const s = state(id)!;
  const at = (type: string) => Date.parse(events.find((e) => e.subject === id && e.type === `dev.jit.elevation.${type}.v1`)?.time ?? '');
  return `${id} ${s.target}: merge->granted ${at('granted') - at('approved')} ms, revoke lateness ${s.latenessMs} ms`;
}

/** kill -9 one app and start it again with the same port and environment. */
async function killAndRestart(name: AppName): Promise<void> {
  const old = apps[name];
  await old.stop('SIGKILL');
  pastOutput.push({ name: `${name} (killed)`, text: old.output() });
  apps[name] = await startApp(name, launch[name], launch[name].env);
}

describe('distributed mode: four processes on Kafka', () => {
  it('vault (OpenBao database engine): requested -> bot not counted -> approved -> granted once -> DB login writes -> revoked at TTL, verified -> login refused', async () => {
    const before = await tryInsert(vaultDb.loginUrl.replace('postgresql://', 'postgresql://nobody:wrong@'));
    expect(before.ok).toBe(false);

    const { id } = await requestApproveMerge('orders-vault');
    const granted = await until(id, ['granted', 'bypassed', 'grant_failed', 'rejected']);
    expect(granted.state, JSON.stringify(summary(id))).toBe('granted');
    expect(granted.substrate).toBe('vault');

    const { credential } = await fetchCredential(id);
    expect(credential.username).toMatch(/\S/);
    // what the topic carries is the sealed form (age), never the password itself
    expect(granted.sealedCredential).toMatch(/^-----BEGIN AGE ENCRYPTED FILE-----/);
    expect(granted.sealedCredential).not.toContain(credential.password);
    expect(typeof credential.url).toBe('string');
    issuedSecrets.push(credential.password!);
    const during = await tryInsert(credential.url!);
    expect(during, 'the Vault-issued login writes while granted').toEqual({ ok: true });

    const revoked = await until(id, ['revoked', 'expired'], 90_000);
    expect(revoked.state, JSON.stringify(summary(id))).toBe('revoked');
    expect(revoked.revokeVerified).toBe(true);
    expect(revoked.revokeCause).toBeDefined();
    const after = await tryInsert(credential.url!);
    expect(after.ok, 'the login must be refused after revocation').toBe(false);
    expect(await liveVaultGrants(granted.grantId!), 'Vault holds no credential of the grant').toEqual([]);

    // what the agent sees through the issuer's read API, as the README tells users to look
    const status = await cliStatus(id, ['revoked']);
    expect(status).toMatchObject({ id, state: 'revoked', target: 'orders-vault', requester: 'deploy-agent', revokeVerified: true });
    const timeline = (status.timeline as Array<{ type: string }>).map((t) => t.type);
    for (const t of ['requested', 'approval.recorded', 'approved', 'granted', 'revoked']) expect(timeline).toContain(`dev.jit.elevation.${t}.v1`);
    expect(JSON.stringify(status)).not.toContain('BEGIN AGE');
    // carol (platform: an eligible approver of the tier, not an auditor) sees it; dave (no role) does not
    const audit = await cliAudit(['--state', 'revoked', '--target', 'orders-vault', '--requester', 'deploy-agent', '--since', new Date(Date.now() - 3600_000).toISOString()], 'carol-token-0001');
    expect(audit.map((e) => e.id)).toContain(id);
    expect(audit.every((e) => e.state === 'revoked')).toBe(true);
    expect(await cliAudit(['--requester', 'deploy-agent'], 'dave-token-00001')).toEqual([]);
    expect((await fetch(`${apps.issuer.url}/v1/elevations/${id}`, { headers: { authorization: 'Bearer dave-token-00001' } })).status).toBe(404);
    expect(await cliAudit(['--state', 'revoked', '--target', 'no-such-target'])).toEqual([]);

    process.stdout.write(`distributed e2e: ${figures(id)}\n`);
    const types = typesOf(id);
    for (const t of ['requested', 'approval.recorded', 'approved', 'granted', 'revoked']) expect(types).toContain(`dev.jit.elevation.${t}.v1`);
    expect(types.filter((t) => t === 'dev.jit.elevation.granted.v1')).toHaveLength(1);
    expect(types.filter((t) => t === 'dev.jit.elevation.revoked.v1')).toHaveLength(1);
    // lifecycle order as the topic has it (one key, one partition)
    const order = ['requested', 'approved', 'granted', 'revoked'].map((t) => types.indexOf(`dev.jit.elevation.${t}.v1`));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('aws-sts (moto; moto does not enforce IAM, so "no longer works" = the exact session deny is on the role): granted once, then revoked', async () => {
    const { id } = await requestApproveMerge('orders-aws');
    const granted = await until(id, ['granted', 'bypassed', 'grant_failed', 'rejected']);
    expect(granted.state, JSON.stringify(summary(id))).toBe('granted');

    const { credential } = await fetchCredential(id);
    expect(credential.AWS_ACCESS_KEY_ID).toMatch(/\S/);
    issuedSecrets.push(credential.AWS_SECRET_ACCESS_KEY!, credential.AWS_SESSION_TOKEN!);
    const iam = new IAMClient({ region: AWS_REGION, endpoint: motoEndpoint, credentials: { ...AWS_ADMIN } });
    cleanup.push(async () => iam.destroy());
    expect(await probeOnMoto({ endpoint: motoEndpoint, region: AWS_REGION, iam }, credential), 'the STS session works while granted').toBe(true);

    const revoked = await until(id, ['revoked', 'expired'], 90_000);
    expect(revoked.state, JSON.stringify(summary(id))).toBe('revoked');
    const deny = await iam.send(new GetRolePolicyCommand({ RoleName: stsRole.name, PolicyName: `jit-revoke-${granted.grantId}` }));
    // the policy sits on the role, so the userid pattern needs no RoleId; SourceIdentity follows chained sessions
    expect(decodeURIComponent(deny.PolicyDocument ?? '')).toContain(`"*:jit-${granted.grantId}"`);
    expect(decodeURIComponent(deny.PolicyDocument ?? '')).toContain('"aws:SourceIdentity"');
    expect(await probeOnMoto({ endpoint: motoEndpoint, region: AWS_REGION, iam }, credential), 'the session is denied after revocation').toBe(false);

    process.stdout.write(`distributed e2e: ${figures(id)}\n`);
    const types = typesOf(id);
    expect(types.filter((t) => t === 'dev.jit.elevation.granted.v1')).toHaveLength(1);
    expect(types.filter((t) => t === 'dev.jit.elevation.revoked.v1')).toHaveLength(1);
  });

  it('issuer down (kill -9) when the approval lands, revoker killed -9 while granted: one grant after restart, revoked on time and verified', async () => {
    let issuerOutput = '';
    const { id } = await requestApproveMerge('orders-vault', async () => {
      issuerOutput = apps.issuer.output();
      await apps.issuer.stop('SIGKILL');
    });
    const approved = await until(id, ['approved', 'granted', 'bypassed']);
    expect(approved.state, 'nothing may be granted while the only issuer is dead').toBe('approved');
    pastOutput.push({ name: 'issuer (killed)', text: issuerOutput });
    apps.issuer = await startApp('issuer', launch.issuer, launch.issuer.env);
    const granted = await until(id, ['granted', 'grant_failed', 'bypassed'], 90_000);
    expect(granted.state, JSON.stringify(summary(id))).toBe('granted');
    const { credential } = await fetchCredential(id);
    issuedSecrets.push(credential.password!);
    expect(await tryInsert(credential.url!), 'the login writes while granted').toEqual({ ok: true });

    // The revoker dies holding the only timer for this grant; its successor rebuilds it from the log.
    await killAndRestart('revoker');
    const revoked = await until(id, ['revoked', 'expired'], 90_000);
    expect(revoked.state, JSON.stringify(summary(id))).toBe('revoked');
    expect(revoked.revokeVerified).toBe(true);
    expect(revoked.latenessMs, 'revoked within 20 s of the TTL despite the restart').toBeLessThan(20_000);
    expect((await tryInsert(credential.url!)).ok, 'the login must be refused after revocation').toBe(false);
    process.stdout.write(`distributed e2e (restarts): ${figures(id)}\n`);
    const types = typesOf(id);
    expect(types.filter((t) => t === 'dev.jit.elevation.granted.v1')).toHaveLength(1);
    expect(types.filter((t) => t === 'dev.jit.elevation.revoked.v1')).toHaveLength(1);
    // Vault holds no live credential of this grant any more (the issuer's retry did not leave a second one).
    expect(await liveVaultGrants(granted.grantId!)).toEqual([]);
  });

  it("explicit revoke: an outsider's /jit revoke is refused; the requesting agent's `jit revoke` ends a 10m grant now (else an approver's), verified, login refused", async () => {
    const { id, mrIid, projectId } = await requestApproveMerge('orders-vault', undefined, '10m');
    const granted = await until(id, ['granted', 'grant_failed', 'bypassed']);
    expect(granted.state, JSON.stringify(summary(id))).toBe('granted');
    const { credential } = await fetchCredential(id);
    issuedSecrets.push(credential.password!);
    expect(await tryInsert(credential.url!)).toEqual({ ok: true });
    const notes = async () => (await createGitlabClient({ url: sandbox.url, token: TOKENS.alice }).notes.all(projectId, mrIid)).map((n) => n.body);

    // dave is a project member but neither the requester nor an eligible approver
    await createGitlabClient({ url: sandbox.url, token: 'dave-token-00001' }).notes.create(projectId, mrIid, '/jit revoke I want it gone');
    await waitFor(async () => (await notes()).some((b) => /@dave .*refused/.test(b)), { timeoutMs: 60_000, what: "the gate to refuse dave's /jit revoke" });
    expect(state(id)!.state).toBe('granted');
    expect(typesOf(id)).not.toContain('dev.jit.elevation.revoke.requested.v1');
    expect(await tryInsert(credential.url!), 'still works after a refused revoke').toEqual({ ok: true });

    // The requester (the agent) ends its own grant with the CLI, as the README tells users to.
    await cli(['revoke', id, '--reason', 'backfill done'], { GITLAB_URL: sandbox.url, GITLAB_TOKEN: TOKENS.agent, JIT_ELEVATIONS_PROJECT: PROJECT });
    let agentRefused: string | undefined;
    await waitFor(
      async () => {
        agentRefused = (await notes()).find((b) => /@deploy-agent .*refused/.test(b));
        return agentRefused !== undefined || typesOf(id).includes('dev.jit.elevation.revoke.requested.v1');
      },
      { timeoutMs: 60_000, what: "the gate to act on the agent's /jit revoke" },
    );
    expect
      .soft(
        agentRefused,
        "the gate refused the requesting agent's own `jit revoke`: libs/gate/src/approval-gate.ts onNote refuses every bot user (`user.bot`) before it " +
          'looks at isRequester, but agents are bot users and are the requesters (libs/gate/README.md: "by the requester or an eligible approver")',
      )
      .toBeUndefined();
    if (agentRefused) {
      // carol (platform, an eligible approver) revokes instead, so the rest of the path is still proven
      await createGitlabClient({ url: sandbox.url, token: 'carol-token-0001' }).notes.create(projectId, mrIid, '/jit revoke backfill done (for the agent)');
    }
    const revoked = await until(id, ['revoked', 'expired'], 60_000);
    expect(revoked.state, JSON.stringify(summary(id))).toBe('revoked');
    expect(revoked.revokeVerified).toBe(true);
    expect(revoked.revokeRequested?.by).toBe(agentRefused ? 'carol' : 'deploy-agent');
    expect(Date.parse(revoked.revokedAt!), 'revoked long before its TTL').toBeLessThan(Date.parse(granted.expiresAt!) - 60_000);
    expect((await tryInsert(credential.url!)).ok, 'the login must be refused after revocation').toBe(false);
    expect(await liveVaultGrants(granted.grantId!)).toEqual([]);
    expect(typesOf(id).filter((t) => t === 'dev.jit.elevation.revoked.v1')).toHaveLength(1);
  });

  it('hostile input at the edge: forged, malformed and oversized webhooks refused by the ingest process; a request over the TTL ceiling rejected and, merged anyway, a bypass with no grant', async () => {
    const hook = (body: string, token: string, type = 'application/json') =>
      fetch(`${apps['webhook-ingest'].url}/webhooks/gitlab`, {
        method: 'POST',
        headers: { 'content-type': type, 'x-gitlab-token': token, 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-event-uuid': uniqueName('forged') },
        body,
      });
    const forgedMerge = JSON.stringify({
      object_kind: 'merge_request',
      event_type: 'merge_request',
      user: { id: 1, username: 'alice' },
      project: { id: 1, path_with_namespace: PROJECT },
      object_attributes: { iid: 999, action: 'merge', state: 'merged', merge_commit_sha: 'a'.repeat(40), target_branch: 'main', source_branch: 'x' },
    });
    expect((await hook(forgedMerge, 'not-the-secret')).status, 'a forged delivery is refused').toBe(401);
    expect((await hook('{"object_kind": "merge_request", ', webhookSecret)).status, 'malformed JSON').toBe(400);
    expect((await hook(`{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`, webhookSecret)).status, 'over the body limit').toBe(413);
    expect((await hook('object_kind=merge_request', webhookSecret, 'application/x-www-form-urlencoded')).status, 'not JSON').toBe(415);

    const bypassesBefore = await issuerCounter('jit_bypasses_total');
    expect(bypassesBefore, 'the issuer exports jit_bypasses_total (deploy/prometheus/jit-alerts.yaml)').toBeGreaterThanOrEqual(0);
    // `jit request --wait` follows the MR through the issuer's read API until jit rejects it (exit 2)
    const waited = await cliRun(
      [
        'request',
        '--target',
        'orders-vault',
        '--scope',
        'write',
        '--ttl',
        '3h',
        '--tier',
        'reversible-write',
        '--identity',
        identity,
        '--justification',
        'distributed e2e: over the 2h ceiling of reversible-write',
        '--wait',
        '--timeout',
        '2m',
        '--url',
        apps.issuer.url,
      ],
      { GITLAB_URL: sandbox.url, GITLAB_TOKEN: TOKENS.agent, JIT_ELEVATIONS_PROJECT: PROJECT },
    );
    expect(waited.err).toMatch(/ended rejected/);
    expect(waited.code, waited.err).toBe(2);
    const req = JSON.parse(waited.out) as { id: string; state: string; mrIid: number; problems?: unknown };
    expect(req.state).toBe('rejected');
    expect(JSON.stringify(req.problems)).toMatch(/ttl/i);
    const id = String(req.id);
    mrIids.push(Number(req.mrIid));
    const rejected = await until(id, ['rejected', 'pending']);
    expect(rejected.state).toBe('rejected');
    expect(JSON.stringify(rejected.problems)).toMatch(/ttl/i);
    const projectId = Number(/^gl-(\d+)-/.exec(id)![1]);
    const merged = await createGitlabClient({ url: sandbox.url, token: TOKENS.alice })
      .mergeRequests.merge(projectId, Number(req.mrIid))
      .then(
        () => 'merged',
        (err: Error) => `refused: ${err.message}`,
      );
    // The sandbox (like GitLab Free, or a maintainer overriding) lets it merge; jit must not grant.
    expect(merged).toBe('merged');
    const after = await until(id, ['bypassed', 'approved', 'granted']);
    expect(after.state, JSON.stringify(summary(id))).toBe('bypassed');
    expect(typesOf(id)).toContain('dev.jit.elevation.bypass.detected.v1');
    expect(typesOf(id)).not.toContain('dev.jit.elevation.approved.v1');
    expect(state('gl-1-999'), 'the forged merge reached nobody').toBeUndefined();
    // the bypass alert (increase(jit_bypasses_total[10m]) > 0) can fire: the issuer counted it
    await waitFor(async () => (await issuerCounter('jit_bypasses_total')) === bypassesBefore + 1, {
      timeoutMs: 60_000,
      what: `jit_bypasses_total on the issuer to go from ${bypassesBefore} to ${bypassesBefore + 1}`,
    });
    expect((await cliStatus(id, ['bypassed'])).state).toBe('bypassed');
    expect((await cliAudit(['--state', 'bypassed'])).map((e) => e.id)).toEqual([id]);
    // an id nobody requested: a stranger is refused before anything is looked up, a caller finds nothing
    expect((await fetch(`${apps.issuer.url}/v1/elevations/gl-1-999`)).status).toBe(401);
    const forged = await fetch(`${apps.issuer.url}/v1/elevations/gl-1-999`, { headers: { authorization: `Bearer ${TOKENS.alice}` } });
    expect(forged.status).toBe(404);
  });

  it('a SIEM forwarder with its own SCRAM user over SASL_SSL: jit events --kafka exports the log, jit audit verify finds it intact across the three producers, OCSF too', async () => {
    const keyFiles: string[] = [];
    for (const name of ['approval-gate', 'issuer', 'revoker'] as const) {
      const res = await fetch(`http://127.0.0.1:${launch[name].port}/v1/keys`, { headers: { authorization: `Bearer ${TOKENS.alice}` } });
      expect(res.status).toBe(200);
      keyFiles.push(join(home, `${name}-keys.json`));
      await writeFile(keyFiles.at(-1)!, await res.text());
    }
    const kafkaEnv = Object.fromEntries(Object.entries(launch.revoker.env).filter(([k]) => k.startsWith('KAFKA_')));
    expect(kafkaEnv['KAFKA_SASL_MECHANISM']).toBe('scram-sha-512');
    const exported = await cliRun(['events', '--kafka'], kafkaEnv);
    expect(exported.err).toBe('');
    expect(exported.code).toBe(0);
    const lines = exported.out.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(events.length);
    const file = join(home, 'export.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);
    const verified = await runCli(['audit', 'verify', file, ...keyFiles.flatMap((f) => ['--keys', f])], { out: (l) => void (verifiedOut += l), err: (l) => void (verifiedOut += l), env: {} });
    expect(verifiedOut).toMatch(/^intact: /);
    expect(verified).toBe(0);
    const ocsf = await cliRun(['events', '--kafka', '--format', 'ocsf'], kafkaEnv);
    expect(ocsf.code).toBe(0);
    expect(
      ocsf.out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).class_uid),
    ).toEqual(expect.arrayContaining([3005, 2004]));
    for (const text of [exported.out, exported.err, ocsf.out, verifiedOut]) for (const u of Object.values(KAFKA_USERS)) expect(text.includes(u.password)).toBe(false);
  });

  it('no issued secret in any log line of the four processes, any event on the topic or any MR comment', async () => {
    expect(issuedSecrets.length, 'the lifecycle tests above must have issued secrets').toBeGreaterThanOrEqual(3);
    for (const s of issuedSecrets) expect(s.length).toBeGreaterThanOrEqual(8);
    const project = sandbox.project(PROJECT);
    const notes: string[] = [];
    expect(mrIids.length).toBeGreaterThanOrEqual(2);
    for (const iid of mrIids) for (const n of await createGitlabClient({ url: sandbox.url, token: TOKENS.alice }).notes.all(project.id, iid)) notes.push(n.body);
    expect(notes.join('\n')).toMatch(/granted/i);
    expect(notes.join('\n')).toMatch(/revoked/i);
    const places: Record<string, string> = {
      ...Object.fromEntries(Object.values(apps).map((a) => [`${a.name} output`, a.output()])),
      ...Object.fromEntries(pastOutput.map((p) => [`${p.name} output`, p.text])),
      'jit.elevations.v1': events.map((e) => JSON.stringify(e)).join('\n'),
      'MR comments': notes.join('\n'),
    };
    for (const [where, text] of Object.entries(places)) {
      expect(text.length, `${where} is empty: nothing was checked`).toBeGreaterThan(0);
      for (const s of [...issuedSecrets, vaultRootToken, ...Object.values(KAFKA_USERS).map((u) => u.password)]) expect(text.includes(s), `a secret appears in ${where}`).toBe(false);
    }
  });
});
