// apps/notifier as a child process on Kafka (the harness's broker) with a GitLab sandbox holding
// the elevations project: the policy in force comes from a gate-signed ratification on the log
// and routes to local Slack and Teams receivers whose URLs come from JIT_NOTIFY_CHANNELS_FILE.
// Checks: the payloads pass their platforms' formats, forged (unsigned or untrusted) requests,
// bypasses and grants are refused and counted, no URL reaches the output, /readyz on the ops listener, SIGTERM stops it cleanly.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaBus, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createElevationEvent } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createGitlabClient } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { HOSTILE_JUSTIFICATIONS, startReceiver, validateSlackMessage, validateTeamsMessage, type Receiver } from './testing';
import { createLogger } from '@jit/observability';
import { getKafka, waitFor } from '@jit/testing';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAIN = join(ROOT, 'apps/notifier/src/main.ts');
const run = randomUUID().slice(0, 8);
const TARGET = `notify-app-${run}`;
const PROJECT = 'ops/elevations';
const gate = createTestSigningKey();
const POLICY = `tiers:
  cosmetic: { ttlMax: 4h, approvals: 1, approvers: { anyHuman: true } }
  destructive: { ttlMax: 30m, approvals: 2, approvers: { users: [alice, bob] } }
breakGlass: { ttlMax: 1h, approvals: 0, approvers: { groups: [oncall] }, requesters: { groups: [oncall] }, reviewWithin: 24h }
policyApprovers: { groups: [security], approvals: 2 }
targets:
  ${TARGET}:
    substrate: postgres
    scopes:
      write: { tier: destructive, grant: "INSERT ON ALL TABLES IN SCHEMA public" }
notifications:
  channels:
    security: { kind: slack }
    approvers: { kind: teams }
  routes:
    - { events: [elevation.bypass.detected], targets: [${TARGET}], to: [security] }
    - { events: [elevation.granted], targets: [${TARGET}], breakGlass: true, to: [security] }
    - { events: [elevation.requested], tiers: [destructive], targets: [${TARGET}], to: [approvers] }
`;

let sandbox: Sandbox;
let bus: EventBus;
let slack: Receiver;
let teams: Receiver;
let projectId: number;
let child: { proc: ChildProcess; output: () => string; exited: Promise<number | null>; ops: string };
const urls: Record<string, string> = {};

beforeAll(async () => {
  sandbox = await startSandbox({
    seed: {
      users: [{ username: 'jit-bot', token: 'glpat-notify-bot-00001', bot: true }],
      projects: [{ path: PROJECT, files: { 'policy.yaml': POLICY }, members: [{ username: 'jit-bot', access_level: 40 }] }],
    },
  });
  const gitlab = createGitlabClient({ url: sandbox.url, token: 'glpat-notify-bot-00001' });
  projectId = sandbox.project(PROJECT).id;
  const file = await gitlab.files.show(projectId, 'policy.yaml', 'main');
  const brokers = await getKafka();
  bus = await createKafkaBus({ brokers, clientId: `notifier-app-int-${run}`, logger: createLogger({ name: 'bus', level: 'silent' }) });
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
  // the gate ratified this version (a merge, so earlier suites' ratifications of this project id yield)
  const ratified = createElevationEvent(
    EVENT_TYPES.policyRatified,
    {
      projectId,
      version: file.blobId,
      path: 'policy.yaml',
      commitSha: file.commitId,
      how: 'merge',
      mrIid: 90_000 + Math.floor(Math.random() * 9_000),
      approvers: ['sec1', 'sec2'],
      mergedBy: 'sec1',
      ratifiedAt: new Date().toISOString(),
    },
    { source: '/jit/test-gate', time: new Date().toISOString() },
  );
  await bus.publish(TOPIC_ELEVATIONS, `policy-${projectId}`, gate.signer.sign(ratified));

  slack = await startReceiver(validateSlackMessage);
  teams = await startReceiver(validateTeamsMessage);
  urls['security'] = slack.urlFor(`services/T0/B0/${randomUUID()}`);
  urls['approvers'] = teams.urlFor(`workflows/${randomUUID()}/triggers/manual/paths/invoke`);
  const dir = mkdtempSync(join(tmpdir(), 'jit-notifier-int-'));
  writeFileSync(join(dir, 'channels.json'), JSON.stringify(urls), { mode: 0o600 });
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_GROUP_ID: `notifier-app-int-${run}`,
    KAFKA_SESSION_TIMEOUT_MS: '10000',
    GITLAB_URL: sandbox.url,
    GITLAB_TOKEN: 'glpat-notify-bot-00001',
    JIT_ELEVATIONS_PROJECT: PROJECT,
    JIT_NOTIFY_CHANNELS_FILE: join(dir, 'channels.json'),
    JIT_NOTIFY_MAX_ATTEMPTS: '3',
    JIT_NOTIFY_RETRY_BASE_MS: '50',
    JIT_NOTIFY_RETRY_MAX_MS: '200',
    JIT_NOTIFY_TIMEOUT_MS: '2000',
    JIT_PUBLIC_URL: 'https://jit.example.com',
    JIT_TRUSTED_GATE_KEYS: gate.signer.publicKey.x,
    JIT_TRUSTED_ISSUER_KEYS: createTestSigningKey().signer.publicKey.x,
    JIT_TRUSTED_REVOKER_KEYS: createTestSigningKey().signer.publicKey.x,
    JIT_OPS_PORT: '0',
    LOG_LEVEL: 'debug',
  };
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c) => (out += String(c)));
  proc.stderr!.on('data', (c) => (out += String(c)));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  await waitFor(() => /"ops":"http:\/\/127\.0\.0\.1:\d+"/.test(out) || proc.exitCode !== null, { timeoutMs: 90_000, what: 'notifier listening' });
  const ops = out.match(/"ops":"(http:\/\/127\.0\.0\.1:\d+)"/)?.[1];
  if (!ops) throw new Error(`notifier exited (${proc.exitCode}):\n${out.slice(-3000)}`);
  child = { proc, output: () => out, exited, ops };
}, 180_000);

afterAll(async () => {
  if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
  await bus?.close();
  await slack?.close();
  await teams?.close();
  await sandbox?.close();
});

describe('apps/notifier', () => {
  it('announces by the ratified policy, refuses forged grants, never prints a URL, stops on SIGTERM', async () => {
    const ready = await fetch(`${child.ops}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', policy: expect.any(String), channels: 2 });
    const id = (n: number) => `gl-${projectId}-${800_000 + n}`;
    // forgeries first (same key, same partition: handled before the real events): an unsigned
    // request with the forger's link, a bypass signed by a key no one trusts, an unsigned grant
    const forgedRequest = sampleEvent(EVENT_TYPES.requested, {
      elevationId: id(1),
      projectId,
      mrIid: 800_001,
      target: TARGET,
      tier: 'destructive',
      breakGlass: false,
      mrUrl: 'https://forged.example.com/login',
    });
    const forgedBypass = createTestSigningKey().signer.sign(sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: id(1), projectId, mrIid: 800_001, reasons: ['forged alarm'] }));
    const requested = gate.signer.sign(
      sampleEvent(EVENT_TYPES.requested, {
        elevationId: id(1),
        projectId,
        mrIid: 800_001,
        target: TARGET,
        tier: 'destructive',
        breakGlass: true,
        justification: HOSTILE_JUSTIFICATIONS['mentions']!,
        mrUrl: `${sandbox.url}/${PROJECT}/-/merge_requests/800001`,
      }),
    );
    const forged = sampleEvent(EVENT_TYPES.granted, { elevationId: id(1), grantId: `${id(1)}-${'b'.repeat(40)}`, target: TARGET });
    const bypass = gate.signer.sign(sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: id(1), projectId, mrIid: 800_001, reasons: ['merged without approvals'] }));
    for (const e of [forgedRequest, forgedBypass, requested, forged, bypass]) await bus.publish(TOPIC_ELEVATIONS, id(1), e as never);

    const [card] = await teams.waitFor(1, 60_000);
    expect(card!.problems).toEqual([]);
    expect(JSON.stringify(card!.body)).toContain('merge_requests/800001');
    const [msg] = await slack.waitFor(1, 60_000);
    expect(msg!.problems).toEqual([]);
    expect(JSON.stringify(msg!.body)).toContain('BYPASS');
    expect(JSON.stringify([card!.body, msg!.body])).not.toMatch(/forged\.example|forged alarm/);
    // the forged grant (no issuer signature) was refused, not announced: slack got the bypass only
    await waitFor(async () => /jit_events_refused_total\{consumer="notifier",type="granted"/.test(await (await fetch(`${child.ops}/metrics`)).text()), {
      timeoutMs: 30_000,
      what: 'the refusal counted',
    });
    const metrics = await (await fetch(`${child.ops}/metrics`)).text();
    expect(metrics).toMatch(/jit_events_refused_total\{consumer="notifier",type="requested",reason="unsigned"\} 1/);
    expect(metrics).toMatch(/jit_events_refused_total\{consumer="notifier",type="bypass.detected",reason="untrusted_key"\} 1/);
    expect(slack.requests).toHaveLength(1);
    expect(teams.requests).toHaveLength(1);
    for (const u of Object.values(urls)) expect(child.output()).not.toContain(new URL(u).pathname);

    child.proc.kill('SIGTERM');
    expect(await child.exited).toBe(0);
  });
});
