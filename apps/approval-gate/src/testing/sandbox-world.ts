// Integration-test world: the GitLab sandbox sends real webhooks to the real ingest plugin, which
// publishes onto an embedded bus (temp dir) that the approval-gate server consumes. Users act
// through @jit/gitlab clients with their own tokens, as they would against GitLab.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { createEmbeddedBus, type CloudEventJson, type EventBus } from '@jit/bus';
import { EVENT_TYPES, TOPIC_ELEVATIONS, createEventSigner, generateSigningKeyPem, type EventSigner } from '@jit/contracts';
import { createGitlabClient, type GitlabClient } from '@jit/gitlab';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { ingestPlugin } from '@jit/ingest';
import { createLogger } from '@jit/observability';
import { policyBlobSha } from '@jit/policy';
import { buildGateServer, GATE_TOPIC_SPECS } from '../server';
import { staticSubstrateCatalog } from '@jit/substrate-wiring';

export const HOOK_TOKEN = 'hook-secret-token-for-tests';
export const PROJECT_PATH = 'sec/elevations';
export const BOT = 'jit-bot';
const PEOPLE = ['dev', 'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'olga', 'mallory', 'sam', 'sue', 'deploy-agent', 'maint'];

export const tokenOf = (u: string) => `${u}-token-0123456789`;

export interface SandboxWorld {
  sandbox: Sandbox;
  bus: EventBus;
  readonly gate: FastifyInstance;
  readonly gateUrl: string;
  /** The gate's ops listener (/healthz, /readyz, /metrics). */
  readonly opsUrl: string;
  /** Where the sandbox's project hook delivers (the ingest plugin), for forged or late deliveries. */
  ingestUrl: string;
  /** Stops the gate server and builds a new one on the same bus and GitLab (a process restart). */
  restartGate(): Promise<void>;
  /** The gate's event-signing key. */
  signer: EventSigner;
  projectId: number;
  as(username: string): GitlabClient;
  /** Branch + one commit + MR, as `author`. Returns the MR iid. */
  openRequest(author: string, files: Record<string, string>, opts?: { targetBranch?: string; update?: string[] }): Promise<number>;
  push(iid: number, author: string, files: Record<string, string>): Promise<void>;
  events(): Promise<CloudEventJson[]>;
  types(iid: number): Promise<string[]>;
  /** Waits until the gate has handled at least `n` webhooks in total. */
  handled(): Promise<number>;
  waitHandled(n: number): Promise<void>;
  waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  comment(iid: number): Promise<string>;
  /** Waits for the gate's comment on an MR to contain `text`; returns it. */
  commentWith(iid: number, text: string): Promise<string>;
  /** Waits for the `nth` (default first) elevation event of `type` for an MR. */
  event(iid: number, type: string, nth?: number): Promise<CloudEventJson>;
  /** Waits for the merge verdict of an MR: its elevation.approved or elevation.bypass.detected, whichever comes. */
  verdict(iid: number): Promise<CloudEventJson>;
  /** `maint` merges; waits for the bypass verdict and its comment (throws if the MR was approved instead). */
  mergeExpectingBypass(iid: number): Promise<{ reasons: string; severity: unknown; comment: string }>;
  close(): Promise<void>;
}

export async function startSandboxWorld(opts: { tier: 'premium' | 'free'; policy: string }): Promise<SandboxWorld> {
  const logger = createLogger({ name: 'gate-int', level: process.env['JIT_TEST_LOG'] === '1' ? 'info' : 'silent' });
  const dir = await mkdtemp(join(tmpdir(), 'jit-gate-int-'));
  const bus = await createEmbeddedBus({ dir, logger });
  await bus.ensureTopics(GATE_TOPIC_SPECS.map((t) => ({ ...t, partitions: 2 })));

  // Ingest first: the sandbox's project hook points at it.
  const ingest = Fastify({ logger: false });
  await ingest.register(ingestPlugin, { bus, auth: { tokens: [HOOK_TOKEN] }, underPressure: false, metricsRoute: false, healthRoutes: false });
  const ingestUrl = await ingest.listen({ host: '127.0.0.1', port: 0 });

  const sandbox = await startSandbox({
    port: 0,
    seed: {
      users: [
        { username: BOT, token: tokenOf(BOT), bot: true },
        { username: 'ci-bot', token: tokenOf('ci-bot'), bot: true },
        ...PEOPLE.map((u) => ({ username: u, token: tokenOf(u), email: `${u}@example.com` })),
      ],
      groups: [
        // The jit bot is a Reporter on approver groups so it can resolve their members (private groups).
        { path: 'platform', members: ['carol', 'dave', 'deploy-agent', 'ci-bot', { username: BOT, access_level: 20 }] },
        { path: 'platform-leads', members: ['erin', 'frank', { username: BOT, access_level: 20 }] },
        { path: 'oncall', members: ['olga', 'carol', { username: BOT, access_level: 20 }] },
        { path: 'security', members: ['sam', 'sue', { username: BOT, access_level: 20 }] },
      ],
      projects: [
        {
          path: PROJECT_PATH,
          tier: opts.tier,
          files: { 'policy.yaml': opts.policy, 'README.md': '# elevations\n' },
          members: [
            { username: BOT, access_level: 40 },
            { username: 'maint', access_level: 40 },
            ...['ci-bot', ...PEOPLE.filter((p) => p !== 'maint')].map((u) => ({ username: u, access_level: 30 as const })),
          ],
          hooks: [{ url: `${ingestUrl}/webhooks/gitlab`, token: HOOK_TOKEN, merge_requests_events: true, note_events: true, push_events: true }],
        },
      ],
    },
  });
  // The operator pins the seeded policy: the first policy is trusted by an explicit act.
  const signer = createEventSigner(generateSigningKeyPem());
  const startGate = () =>
    buildGateServer({
      bus,
      signer,
      gitlab: { url: sandbox.url, token: tokenOf(BOT) },
      elevationsProject: PROJECT_PATH,
      substrates: staticSubstrateCatalog(),
      policyRefreshMs: 0,
      policyPin: policyBlobSha(opts.policy),
      logger,
    });
  let { app: gate, ops } = await startGate();
  let gateUrl = await gate.listen({ host: '127.0.0.1', port: 0 });
  let opsUrl = await ops.listen({ host: '127.0.0.1', port: 0 });
  const clients = new Map<string, GitlabClient>();
  const as = (u: string) => {
    let c = clients.get(u);
    if (!c) {
      c = createGitlabClient({ url: sandbox.url, token: tokenOf(u), retry: { maxAttempts: 2, baseDelayMs: 10 } });
      clients.set(u, c);
    }
    return c;
  };
  const projectId = (await as(BOT).projects.show(PROJECT_PATH)).id;
  let branchNo = 0;

  const waitFor: SandboxWorld['waitFor'] = async (what, fn, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await fn();
      if (v !== undefined && v !== false) return v as never;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const handled = async () => {
    const text = await (await fetch(`${opsUrl}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^jit_gate_webhooks_total\{[^}]*\} (\d+)/gm)) n += Number(m[1]);
    return n;
  };
  const events = async () => {
    const out: CloudEventJson[] = [];
    await bus.replay(TOPIC_ELEVATIONS, (m) => {
      out.push(m.event);
    });
    return out;
  };
  const world: SandboxWorld = {
    sandbox,
    bus,
    ingestUrl,
    get gate() {
      return gate;
    },
    get gateUrl() {
      return gateUrl;
    },
    get opsUrl() {
      return opsUrl;
    },
    async restartGate() {
      await sandbox.idle();
      await gate.close();
      ({ app: gate, ops } = await startGate());
      gateUrl = await gate.listen({ host: '127.0.0.1', port: 0 });
      opsUrl = await ops.listen({ host: '127.0.0.1', port: 0 });
    },
    signer,
    projectId,
    as,
    waitFor,
    handled,
    events,
    async waitHandled(n) {
      await sandbox.idle();
      await waitFor(`${n} webhooks handled by the gate`, async () => (await handled()) >= n);
    },
    async types(iid) {
      return (await events()).filter((e) => (e.data as { elevationId?: string }).elevationId === `gl-${projectId}-${iid}`).map((e) => e.type.replace(/^dev\.jit\.elevation\.|\.v1$/g, ''));
    },
    async openRequest(author, files, o = {}) {
      const c = as(author);
      const branch = `req-${++branchNo}-${author}`;
      await c.branches.create(projectId, branch, 'main');
      await c.commits.create(
        projectId,
        branch,
        'elevation request',
        Object.entries(files).map(([filePath, content]) => ({ action: o.update?.includes(filePath) ? 'update' : 'create', filePath, content })),
      );
      const mr = await c.mergeRequests.create(projectId, { sourceBranch: branch, targetBranch: o.targetBranch ?? 'main', title: `request by ${author}` });
      return mr.iid;
    },
    async push(iid, author, files) {
      const c = as(author);
      const mr = await c.mergeRequests.show(projectId, iid);
      await c.commits.create(
        projectId,
        mr.sourceBranch,
        'update request',
        Object.entries(files).map(([filePath, content]) => ({ action: 'update', filePath, content })),
      );
    },
    async comment(iid) {
      const notes = await as(BOT).notes.all(projectId, iid);
      return notes.find((n) => n.authorUsername === BOT && n.body.startsWith('<!-- jit:approval-gate -->'))?.body ?? '';
    },
    commentWith(iid, text) {
      return waitFor(`comment on MR ${iid} containing ${JSON.stringify(text)}`, async () => {
        const body = await world.comment(iid);
        return body.includes(text) ? body : undefined;
      });
    },
    event(iid, type, nth = 1) {
      return waitFor(
        `${type} #${nth} for MR ${iid}`,
        async () => (await events()).filter((e) => e.type === type && (e.data as { elevationId?: string }).elevationId === `gl-${projectId}-${iid}`)[nth - 1],
      );
    },
    verdict(iid) {
      return waitFor(`the merge verdict for MR ${iid}`, async () =>
        (await events()).find((e) => (e.type === EVENT_TYPES.bypassDetected || e.type === EVENT_TYPES.approved) && (e.data as { mrIid?: number }).mrIid === iid),
      );
    },
    async mergeExpectingBypass(iid) {
      await as('maint').mergeRequests.merge(projectId, iid);
      const bypass = await world.event(iid, EVENT_TYPES.bypassDetected);
      if ((await world.types(iid)).includes('approved')) throw new Error(`MR ${iid} was approved; a bypass was expected`);
      const comment = await world.commentWith(iid, 'nothing will be issued');
      return { reasons: (bypass.data as { reasons: string[] }).reasons.join(' '), severity: bypass.severity, comment };
    },
    async close() {
      await gate.close();
      await sandbox.close();
      await ingest.close();
      await bus.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
