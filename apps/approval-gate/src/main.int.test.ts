// The real process: main.ts parses env, resolves the elevations project on the (sandbox) GitLab,
// loads the policy, serves the catalog (health/metrics on its ops listener), consumes the bus, and stops on SIGTERM.
// It also runs on Kafka end to end: the shared broker `npm test` starts, or one the harness starts
// for this file when it runs alone (never skipped).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, type CloudEventJson } from '@jit/bus';
import { EVENT_TYPES, GITLAB_WEBHOOK_EVENT_TYPE, TOPIC_ELEVATIONS, TOPIC_GITLAB, gitlabKey } from '@jit/contracts';
import { createTestSigningKey, FIXTURE_RECIPIENT, fixtureRecipientsYaml } from '@jit/contracts/testing';
import { createGitlabClient } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { getKafka } from '@jit/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'apps/approval-gate/src/main.ts');
const BOT_TOKEN = 'jit-bot-token-0123456789';
const DEV_TOKEN = 'dev-token-0123456789';
const POLICY = `tiers:
  reversible-write: { ttlMax: 2h, approvals: 1, approvers: { users: [carol] } }
agents: [deploy-agent]
auditors: { users: [dev] }
${fixtureRecipientsYaml()}policyApprovers: { users: [carol, dave], approvals: 2 }
targets:
  orders-db:
    substrate: postgres
    scopes:
      write: { tier: reversible-write, grant: "INSERT, UPDATE ON ALL TABLES IN SCHEMA public" }
`;

let child: ChildProcess | undefined;
const dirs: string[] = [];
let sandbox: Sandbox;
/** Comma-separated, as KAFKA_BROKERS takes them. */
let brokers: string;

beforeAll(async () => {
  brokers = (await getKafka()).join(',');
  sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [
        { username: 'jit-bot', token: BOT_TOKEN, bot: true },
        { username: 'dev', token: DEV_TOKEN },
        { username: 'carol', token: 'carol-token-0123456789' },
        { username: 'dave', token: 'dave-token-0123456789' },
      ],
      projects: [
        {
          path: 'sec/elevations',
          files: { 'policy.yaml': POLICY },
          members: [{ username: 'jit-bot', access_level: 40 }, 'dev', 'carol', 'dave'],
        },
      ],
    },
  });
});
afterAll(async () => {
  await sandbox?.close();
});
afterEach(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (err += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let opsUrl = '';
  const listening = new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', () => {
      const m = out.match(/"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
      const ops = out.match(/"ops":"(http:\/\/127\.0\.0\.1:\d+)"/);
      if (m && ops) {
        opsUrl = ops[1]!;
        resolve(m[1]!);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${err}`)));
  });
  listening.catch(() => undefined);
  return { proc, listening, exited, output: () => out + err, opsUrl: () => opsUrl };
}

/** The gate's event-signing key file (the app refuses to start without one). */
const KEY_FILE = join(mkdtempSync(join(tmpdir(), 'jit-gate-main-')), 'signing-key.pem');
writeFileSync(KEY_FILE, createTestSigningKey().pem, { mode: 0o600 });

const baseEnv = () => ({
  JIT_SIGNING_KEY_FILE: KEY_FILE,
  GITLAB_URL: sandbox.url,
  GITLAB_TOKEN: BOT_TOKEN,
  JIT_ELEVATIONS_PROJECT: 'sec/elevations',
  PORT: '0',
  JIT_OPS_PORT: '0',
  // The operator pins the seeded policy (the first policy is trusted by an explicit act).
  JIT_POLICY_PIN: policyBlobSha(POLICY),
});

describe('apps/approval-gate main', () => {
  it('refuses a bad environment with exit code 2, naming the keys and never the token', async () => {
    const app = start({ GITLAB_URL: 'not-a-url', GITLAB_TOKEN: 'glpat-abcdefghijkl', JIT_ELEVATIONS_PROJECT: '', PORT: '0' });
    expect(await app.exited).toBe(2);
    expect(app.output()).toMatch(/KAFKA_BROKERS/);
    expect(app.output()).toMatch(/GITLAB_URL/);
    expect(app.output()).not.toContain('glpat-abcdefghijkl');
  });

  it('serves catalog, readiness and metrics from the policy on the default branch; stops on SIGTERM', async () => {
    const busDir = await mkdtemp(join(tmpdir(), 'gate-bus-'));
    dirs.push(busDir);
    const app = start({ ...baseEnv(), JIT_BUS_DIR: busDir });
    const base = await app.listening;
    expect((await fetch(`${app.opsUrl()}/healthz`)).status).toBe(200);
    const ready = await fetch(`${app.opsUrl()}/readyz`);
    expect(ready.status).toBe(200);
    const catalog = (await (await fetch(`${base}/v1/catalog`, { headers: { authorization: `Bearer ${DEV_TOKEN}` } })).json()) as { entries: Array<Record<string, unknown>>; version: string };
    expect(catalog.version).toMatch(/^[0-9a-f]{40}$/);
    expect(catalog.entries).toEqual([
      expect.objectContaining({ target: 'orders-db', scope: 'write', tier: 'reversible-write', ttlMaxSeconds: 7200, requiredApprovals: 1, eligibleApprovers: ['carol'] }),
    ]);
    // dev is an auditor; dave is not: the same catalog without who the approvers are
    const asDave = await fetch(`${base}/v1/catalog`, { headers: { authorization: 'Bearer dave-token-0123456789' } });
    const daves = (await asDave.json()) as { entries: Array<Record<string, unknown>> };
    expect(daves.entries).toEqual([expect.objectContaining({ target: 'orders-db', scope: 'write', approvers: { anyHuman: false, groups: [], users: [] } })]);
    expect(daves.entries[0]).not.toHaveProperty('eligibleApprovers');
    expect((await fetch(`${base}/v1/catalog`)).status).toBe(401);
    expect(await (await fetch(`${app.opsUrl()}/metrics`)).text()).toMatch(/process_cpu_user_seconds_total/);
    // the ops routes are not on the public port: a stranger is refused, a caller finds nothing
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${base}${path}`)).status).toBe(401);
      expect((await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${DEV_TOKEN}` } })).status).toBe(404);
    }
    expect(app.output()).not.toContain(BOT_TOKEN);
    app.proc.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  });

  it('runs on Kafka: a webhook event on jit.gitlab.v1 becomes elevation.requested on jit.elevations.v1', async () => {
    const suffix = `${process.pid}-${Date.now()}`;
    const app = start({ ...baseEnv(), KAFKA_BROKERS: brokers, KAFKA_CLIENT_ID: `gate-it-${suffix}` });
    await app.listening;
    const dev = createGitlabClient({ url: sandbox.url, token: DEV_TOKEN });
    const project = await dev.projects.show('sec/elevations');
    await dev.branches.create(project.id, `k-${suffix}`, 'main');
    const body = `apiVersion: jit/v1\nkind: ElevationRequest\nspec:\n  target: orders-db\n  scope: write\n  ttl: 30m\n  riskTier: reversible-write\n  justification: "kafka end-to-end check for the approval gate"\n  recipient: ${FIXTURE_RECIPIENT}\n`;
    await dev.commits.create(project.id, `k-${suffix}`, 'req', [{ action: 'create', filePath: `elevations/k-${suffix}.yaml`, content: body }]);
    const mr = await dev.mergeRequests.create(project.id, { sourceBranch: `k-${suffix}`, targetBranch: 'main', title: 'kafka' });
    const bus = await createKafkaBus({ brokers: brokers.split(','), clientId: `gate-it-client-${suffix}`, logger: createLogger({ name: 't', level: 'silent' }) });
    try {
      const now = new Date().toISOString();
      const event: CloudEventJson = {
        specversion: '1.0',
        id: `it-${suffix}`,
        source: '/jit/webhook-ingest',
        type: GITLAB_WEBHOOK_EVENT_TYPE,
        data: {
          kind: 'merge_request',
          action: 'open',
          projectId: project.id,
          projectPath: 'sec/elevations',
          mrIid: mr.iid,
          mrId: mr.id,
          mrTitle: 'kafka',
          mrState: 'opened',
          sourceBranch: mr.sourceBranch,
          targetBranch: 'main',
          headSha: mr.sha,
          mergeCommitSha: null,
          authorId: mr.author.id,
          authorUsername: 'dev',
          actor: { id: mr.author.id, username: 'dev', name: 'dev' },
          labels: [],
          mrCreatedAt: now,
          mrUpdatedAt: now,
          delivery: { id: `it-${suffix}`, receivedAt: now },
          payload: {},
        },
      };
      await bus.publish(TOPIC_GITLAB, gitlabKey(project.id, mr.iid), event);
      const deadline = Date.now() + 60_000;
      let found: CloudEventJson | undefined;
      while (!found && Date.now() < deadline) {
        await bus.replay(TOPIC_ELEVATIONS, (m) => {
          const d = m.event.data as { mrIid?: number; projectId?: number };
          if (m.event.type === EVENT_TYPES.requested && d.mrIid === mr.iid && d.projectId === project.id) found = m.event;
        });
        if (!found) await new Promise((r) => setTimeout(r, 200));
      }
      expect(found?.data).toMatchObject({ requester: 'dev', tier: 'reversible-write', eligibleApprovers: ['carol'] });
    } finally {
      await bus.close();
      app.proc.kill('SIGTERM');
      await app.exited;
    }
  });
  it("on Kafka, a gate restarted right after a kill -9 starts: it waits for its consumer group (the killed member holds it for its session), never exits on fastify's 10 s onReady timeout", async () => {
    const env = { ...baseEnv(), KAFKA_BROKERS: brokers, KAFKA_CLIENT_ID: `gate-restart-${process.pid}-${Date.now()}` };
    const first = start(env);
    await first.listening;
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = start(env);
    const outcome = await Promise.race([second.listening.then(() => 'listening'), second.exited.then((code) => `exited ${code}`)]);
    expect(outcome, second.output().slice(-3000)).toBe('listening');
    expect((await fetch(`${second.opsUrl()}/readyz`)).status).toBe(200);
    expect(second.output()).not.toContain('FST_ERR_HOOK_TIMEOUT');
    second.proc.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
  it('on Kafka, reconciles at start: an MR opened with no webhook at all becomes elevation.requested', async () => {
    const suffix = `${process.pid}-${Date.now()}`;
    // Project ids of this sandbox start past other suites' (their sandboxes also count from 1 on the
    // same topics): the elevation id must be this test's own.
    const padding = 20 + (Date.now() % 200);
    const quiet = await startSandbox({
      port: 0,
      seed: {
        users: [
          { username: 'jit-bot', token: BOT_TOKEN, bot: true },
          { username: 'dev', token: DEV_TOKEN },
          { username: 'carol', token: 'carol-token-0123456789' },
          { username: 'dave', token: 'dave-token-0123456789' },
        ],
        projects: [
          ...Array.from({ length: padding }, (_, i) => ({ path: `pad/p${i}`, members: [] })),
          {
            path: `sec/quiet-${suffix}`,
            files: { 'policy.yaml': POLICY },
            members: [{ username: 'jit-bot', access_level: 40 }, 'dev', 'carol', 'dave'],
          },
        ],
      },
    });
    const bus = await createKafkaBus({ brokers: brokers.split(','), clientId: `gate-rec-client-${suffix}`, logger: createLogger({ name: 't', level: 'silent' }) });
    let app: ReturnType<typeof start> | undefined;
    try {
      // The MR exists before the gate starts, and the sandbox has no webhook configured at all.
      const dev = createGitlabClient({ url: quiet.url, token: DEV_TOKEN });
      const project = await dev.projects.show(`sec/quiet-${suffix}`);
      expect(project.id).toBeGreaterThan(padding);
      await dev.branches.create(project.id, `q-${suffix}`, 'main');
      const body = `apiVersion: jit/v1\nkind: ElevationRequest\nspec:\n  target: orders-db\n  scope: write\n  ttl: 30m\n  riskTier: reversible-write\n  justification: "reconciliation check ${suffix}"\n  recipient: ${FIXTURE_RECIPIENT}\n`;
      await dev.commits.create(project.id, `q-${suffix}`, 'req', [{ action: 'create', filePath: `elevations/q-${suffix}.yaml`, content: body }]);
      const mr = await dev.mergeRequests.create(project.id, { sourceBranch: `q-${suffix}`, targetBranch: 'main', title: 'no webhook' });

      // Watch jit.elevations.v1 from now on (a fresh group at the end of the topic).
      let found: CloudEventJson | undefined;
      let assigned!: () => void;
      const joined = new Promise<void>((r) => (assigned = r));
      const sub = await bus.subscribe({
        topic: TOPIC_ELEVATIONS,
        groupId: `gate-rec-watch-${suffix}`,
        startFrom: 'latest',
        onAssignment: (parts) => {
          if (parts.length > 0) assigned();
        },
        handler: async (m) => {
          const d = m.event.data as { mrIid?: number; projectId?: number; headSha?: string };
          if (m.event.type === EVENT_TYPES.requested && d.projectId === project.id && d.mrIid === mr.iid && d.headSha === mr.sha) found = m.event;
        },
      });
      try {
        await joined;
        app = start({
          GITLAB_URL: quiet.url,
          GITLAB_TOKEN: BOT_TOKEN,
          JIT_ELEVATIONS_PROJECT: `sec/quiet-${suffix}`,
          JIT_SIGNING_KEY_FILE: KEY_FILE,
          PORT: '0',
          JIT_OPS_PORT: '0',
          JIT_POLICY_PIN: policyBlobSha(POLICY),
          KAFKA_BROKERS: brokers,
          KAFKA_CLIENT_ID: `gate-rec-${suffix}`,
        });
        await app.listening;
        const deadline = Date.now() + 90_000;
        while (!found && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        if (!found) throw new Error(`no elevation.requested for the MR within 90 s; gate output:\n${app.output()}`);
      } finally {
        await sub.stop();
      }
      expect(found!.data).toMatchObject({ requester: 'dev', tier: 'reversible-write', eligibleApprovers: ['carol'] });
      const bot = createGitlabClient({ url: quiet.url, token: BOT_TOKEN });
      // the decision is on the log before GitLab's rule is written: wait for the rule
      const ruleDeadline = Date.now() + 30_000;
      let rules = await bot.approvalRules.all(project.id, mr.iid);
      while (Array.isArray(rules) && rules.length === 0 && Date.now() < ruleDeadline) {
        await new Promise((r) => setTimeout(r, 100));
        rules = await bot.approvalRules.all(project.id, mr.iid);
      }
      expect(rules).toEqual([expect.objectContaining({ name: 'jit:reversible-write', approvalsRequired: 1 })]);
      const waitUntil = Date.now() + 30_000;
      let comment: string | undefined;
      while (!comment && Date.now() < waitUntil) {
        comment = (await bot.notes.all(project.id, mr.iid)).find((n) => n.body.startsWith('<!-- jit:approval-gate -->'))?.body;
        if (!comment) await new Promise((r) => setTimeout(r, 100));
      }
      expect(comment).toContain('reversible-write');
      const summary = app
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"reconciled"'));
      expect(summary && JSON.parse(summary)).toMatchObject({ opened: 1, merged: 0, complete: true });
      expect(app.output()).not.toContain(BOT_TOKEN);
    } finally {
      if (app) {
        app.proc.kill('SIGTERM');
        await app.exited;
      }
      await bus.close();
      await quiet.close();
    }
  });
});
