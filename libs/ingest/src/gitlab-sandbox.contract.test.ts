// Contract between two independently written parts: the GitLab sandbox's webhook sender (tokens,
// Standard Webhooks signing, Idempotency-Key, resends) and this intake. An MR's whole life in the
// sandbox must land on the bus, once per delivery, normalized; a resend must be a duplicate.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitlabWebhookDataSchema } from '@jit/contracts';
import { startSandbox, type Sandbox } from '@jit/gitlab-sandbox';
import { createLogger } from '@jit/observability';
import { ingestPlugin } from './ingest-plugin';
import { FakeBus, signingToken } from './test-support';

const P = 'ops/elevations';
const TOKEN = 'sandbox-contract-token-1';
const SIGNING = signingToken('sandbox-contract-signing');
const silent = createLogger({ name: 'contract', level: 'silent' });

let sandbox: Sandbox;
let app: FastifyInstance;
let bus: FakeBus;

beforeEach(async () => {
  bus = new FakeBus();
  sandbox = await startSandbox({
    logger: silent,
    seed: {
      users: [
        { username: 'alice', name: 'Alice Approver', token: 'alice-token-0001' },
        { username: 'dave', name: 'Dave Developer', token: 'dave-token-0001' },
      ],
      projects: [
        {
          path: P,
          default_branch: 'main',
          files: { 'README.md': '# elevations\n' },
          members: [
            { username: 'alice', access_level: 40 },
            { username: 'dave', access_level: 30 },
          ],
        },
      ],
    },
  });
  app = Fastify({ logger: false });
  await app.register(ingestPlugin, { bus, auth: { tokens: [TOKEN], signingSecrets: [SIGNING] }, logger: silent, underPressure: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
});
afterEach(async () => {
  await sandbox?.close();
  await app?.close();
  await bus.close();
});

async function api(method: string, path: string, token: string, body?: unknown): Promise<any> {
  const res = await fetch(`${sandbox.apiUrl}/projects/${encodeURIComponent(P)}${path}`, {
    method,
    headers: { 'private-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  expect(res.status, `${method} ${path}`).toBeLessThan(300);
  return res.json();
}

describe('gitlab-sandbox webhooks into the intake', () => {
  it('publishes every MR and MR-note delivery once, normalized, and treats a resend as a duplicate', async () => {
    const { port } = app.server.address() as { port: number };
    const { id: hookId } = sandbox.addHook(P, { url: `http://127.0.0.1:${port}/webhooks/gitlab`, token: TOKEN, signing_token: SIGNING, note_events: true, issues_events: true });
    sandbox.pushCommit({ project: P, branch: 'req', startBranch: 'main', author: 'dave', files: { 'elevations/r.yaml': 'a: 1\n' } });
    const mr = await api('POST', '/merge_requests', 'dave-token-0001', { source_branch: 'req', target_branch: 'main', title: 'Elevate orders-db' });
    await api('POST', `/merge_requests/${mr.iid}/notes`, 'alice-token-0001', { body: 'looks fine' });
    await api('POST', `/merge_requests/${mr.iid}/approve`, 'alice-token-0001');
    await api('PUT', `/merge_requests/${mr.iid}/merge`, 'alice-token-0001');
    await sandbox.idle();

    const deliveries = sandbox.deliveries(hookId);
    expect(deliveries.length).toBeGreaterThanOrEqual(4);
    expect(deliveries.map((d) => [d.event, d.status])).toEqual(deliveries.map((d) => [d.event, 202]));
    expect(bus.published).toHaveLength(deliveries.length);

    const projectId = sandbox.project(P).id;
    for (const p of bus.published) {
      expect(p.key).toBe(`${projectId}!${mr.iid}`);
      GitlabWebhookDataSchema.parse(p.event.data);
    }
    const data = bus.published.map((p) => GitlabWebhookDataSchema.parse(p.event.data));
    expect(data.map((d) => `${d.kind}:${d.action}`)).toEqual(expect.arrayContaining(['merge_request:open', 'note:create', 'merge_request:merge']));
    expect(data.find((d) => d.kind === 'note')).toMatchObject({ note: { body: 'looks fine' }, actor: { username: 'alice' } });
    expect(data.find((d) => d.action === 'merge')!.mergeCommitSha).toMatch(/^[0-9a-f]{40}$/);
    expect(bus.published.map((p) => p.event.id)).toEqual(deliveries.map((d) => d.idempotencyKey));

    // GitLab's "Resend request": same id, fresh timestamp and signature.
    sandbox.resend(deliveries[0]!.id);
    await sandbox.idle();
    const resent = sandbox.deliveries(hookId).at(-1)!;
    expect(resent.resendOf).toBe(deliveries[0]!.id);
    expect(resent.status).toBe(200);
    expect(JSON.parse(resent.responseBody!)).toMatchObject({ duplicate: true });
    expect(bus.published).toHaveLength(deliveries.length);
  });

  it('a hook with a wrong signing token is refused, and nothing is published', async () => {
    const { port } = app.server.address() as { port: number };
    const { id } = sandbox.addHook(P, { url: `http://127.0.0.1:${port}/webhooks/gitlab`, token: TOKEN, signing_token: signingToken('someone-else') });
    sandbox.pushCommit({ project: P, branch: 'req2', startBranch: 'main', author: 'dave', files: { 'elevations/x.yaml': 'b: 1\n' } });
    await api('POST', '/merge_requests', 'dave-token-0001', { source_branch: 'req2', target_branch: 'main', title: 'x' });
    await sandbox.idle();
    expect(sandbox.deliveries(id).map((d) => d.status)).toEqual([401]);
    expect(bus.published).toHaveLength(0);
  });
});
