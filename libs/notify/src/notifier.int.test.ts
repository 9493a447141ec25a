// The notifier on the real bus (embedded, and Kafka through the harness) posting to local
// receivers that check each payload against its platform's published format: routing by event,
// tier, target and break-glass; hostile justifications; retries then success; a refusal parked as
// a dead letter naming the channel (never the URL); a restart that re-posts nothing delivered.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedBus, createKafkaBus, type BusMessage, type EventBus } from '@jit/bus';
import { EVENT_TYPES, PRODUCED_BY, TOPIC_ELEVATIONS, TOPIC_NOTIFY_DEAD_LETTERS, producerTrust, type ElevationEventType, type PolicyNotifications } from '@jit/contracts';
import { createTestSigningKey, sampleEvent } from '@jit/contracts/testing';
import { createLogger, createRegistry } from '@jit/observability';
import { getKafka, waitFor } from '@jit/testing';
import { HOSTILE_JUSTIFICATIONS, startReceiver, validateSlackMessage, validateTeamsMessage, type Receiver } from './testing';
import { createNotifier, type Notifier } from './notifier';

const RETRY = { maxAttempts: 3, baseMs: 20, maxMs: 100, timeoutMs: 2_000 };
// each event is signed by its type's producer, as the services' signing buses do
const producers = { gate: createTestSigningKey(), issuer: createTestSigningKey(), revoker: createTestSigningKey() };
const trust = producerTrust({ gate: [producers.gate.signer.publicKey], issuer: [producers.issuer.signer.publicKey], revoker: [producers.revoker.signer.publicKey] });
const signed = <E extends { type: string }>(e: E): E => producers[PRODUCED_BY[e.type as ElevationEventType]].signer.sign(e as never) as unknown as E;

function scenario(kind: 'embedded' | 'kafka', openBus: () => Promise<{ bus: EventBus; close: () => Promise<void> }>) {
  describe(`notifier on the ${kind} bus`, () => {
    const receivers: Receiver[] = [];
    afterAll(async () => {
      for (const r of receivers) await r.close();
    });

    it('routes by event, tier, target and break-glass; formats pass; retries; dead-letters; restarts without re-posting', async () => {
      const { bus, close } = await openBus();
      const run = randomUUID().slice(0, 8);
      const target = `notify-${run}`;
      const projectId = 100_000 + Math.floor(Math.random() * 800_000);
      const slack = await startReceiver(validateSlackMessage);
      const teams = await startReceiver(validateTeamsMessage);
      const hook = await startReceiver();
      const refusing = await startReceiver();
      receivers.push(slack, teams, hook, refusing);
      refusing.defaultStatus = 404;
      // Slack and Teams webhook URLs carry their secret in the path
      const secretPath = (n: string) => `services/T000/B000/${n}-${randomUUID()}`;
      const urls: Record<string, string> = {
        security: slack.urlFor(secretPath('sec')),
        approvers: teams.urlFor(secretPath('appr')),
        audit: hook.urlFor(secretPath('audit')),
        broken: refusing.urlFor(secretPath('broken')),
      };
      const notifications: PolicyNotifications = {
        channels: { security: { kind: 'slack' }, approvers: { kind: 'teams' }, audit: { kind: 'webhook' }, broken: { kind: 'webhook' }, nowhere: { kind: 'slack' } },
        routes: [
          { events: ['elevation.bypass.detected'], targets: [target], to: ['security'] },
          { events: ['elevation.granted'], targets: [target], breakGlass: true, to: ['security'] },
          { events: ['elevation.requested'], tiers: ['destructive'], targets: [target], to: ['approvers', 'audit'] },
          { events: ['elevation.revoked'], targets: [target], to: ['broken', 'nowhere'] },
        ],
      };
      const logLines: string[] = [];
      const logger = createLogger({ name: 'notify-int', level: 'info', destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }) });
      const registry = createRegistry();
      const groupId = `notifier-int-${run}`;
      const start = async (): Promise<Notifier> => {
        const n = createNotifier({ bus, notifications: () => notifications, channels: { current: () => urls }, groupId, retry: RETRY, logger, registry, trust, publicUrl: 'https://jit.example.com' });
        await n.start();
        return n;
      };
      const deadLetters: BusMessage[] = [];
      const dlqSub = await bus.subscribe({ topic: TOPIC_NOTIFY_DEAD_LETTERS, groupId: `dlq-watch-${run}`, startFrom: 'latest', handler: async (m) => void deadLetters.push(m) });
      let notifier = await start();
      try {
        const ev = (iid: number) => `gl-${projectId}-${iid}`;
        const publish = (e: { id: string; type: string; data: { elevationId?: string } }) => bus.publish(TOPIC_ELEVATIONS, e.data.elevationId!, signed(e) as never);
        // 0: forgeries on the bus, before the real events of the same elevation (same partition, so
        // handled first): an unsigned destructive request (would reach approvers + audit) and a
        // bypass signed by a key no one trusts (would reach security). Neither is announced.
        const forgedRequest = sampleEvent(EVENT_TYPES.requested, {
          elevationId: ev(1),
          mrIid: 1,
          projectId,
          target,
          tier: 'destructive',
          breakGlass: false,
          mrUrl: 'https://forged.example.com/login',
        });
        const forgedBypass = createTestSigningKey().signer.sign(sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: ev(1), projectId, mrIid: 1, reasons: ['forged alarm'] }) as never);
        await bus.publish(TOPIC_ELEVATIONS, ev(1), forgedRequest as never);
        await bus.publish(TOPIC_ELEVATIONS, ev(1), forgedBypass as never);
        // 1: a destructive request with a hostile justification → approvers (Teams) + audit (webhook)
        const req1 = sampleEvent(EVENT_TYPES.requested, {
          elevationId: ev(1),
          mrIid: 1,
          projectId,
          target,
          tier: 'destructive',
          breakGlass: false,
          justification: HOSTILE_JUSTIFICATIONS['mentions']!,
          mrUrl: `https://gitlab.example.com/ops/elevations/-/merge_requests/1`,
        });
        // 2: a reversible-write request → nobody (tier filter)
        const req2 = sampleEvent(EVENT_TYPES.requested, { elevationId: ev(2), mrIid: 2, projectId, target, tier: 'reversible-write', breakGlass: false });
        // 3: a break-glass destructive request (approvers + audit) then its grant → security; a bypass of 2 → security
        const req3 = sampleEvent(EVENT_TYPES.requested, { elevationId: ev(3), mrIid: 3, projectId, target, tier: 'destructive', breakGlass: true, justification: HOSTILE_JUSTIFICATIONS['links']! });
        const granted3 = sampleEvent(EVENT_TYPES.granted, { elevationId: ev(3), target, grantId: `${ev(3)}-${'a'.repeat(40)}` });
        const bypass2 = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: ev(2), projectId, mrIid: 2, reasons: ['merged with 0 of 1 approvals <!here>'] });
        teams.respond(500, 503); // two failures, then 200: delivered on the third attempt
        for (const e of [req1, req2, req3, granted3, bypass2]) await publish(e);

        // both destructive requests (1, and break-glass 3), the first after two failed attempts
        const t = await teams.waitFor(4);
        expect(t.map((r) => r.status).sort()).toEqual([200, 200, 500, 503]);
        for (const r of t) expect(r.problems).toEqual([]);
        // the two failures may fall on either request (their elevations are on different partitions),
        // and each request is delivered once
        expect(t.filter((r) => r.status === 200 && JSON.stringify(r.body).includes('merge_requests/1'))).toHaveLength(1);
        const h = await hook.waitFor(2);
        expect(h.map((r) => (r.body as { elevationId: string }).elevationId).sort()).toEqual([ev(1), ev(3)]);
        // security hears of the break-glass grant and the bypass, not of the request itself
        const s = await slack.waitFor(2);
        for (const r of s) expect(r.problems).toEqual([]);
        const titles = s.map((r) => (r.body as { blocks: Array<{ text: { text: string } }> }).blocks[0]!.text.text).sort();
        expect(titles).toEqual([`BYPASS: ${target}/write was merged without verified approvals`, `Granted (BREAK-GLASS): ${target}/write to carol`]);
        const slackText = JSON.stringify(s.map((r) => r.body));
        expect(slackText).toContain(ev(3));
        expect(slackText).toContain('&lt;!here&gt;');
        expect(slackText).not.toMatch(/<!here>|<https:\/\/evil/);

        // 4: a revocation routed to a refusing receiver and to a channel without a URL → two dead letters
        const revoked3 = sampleEvent(EVENT_TYPES.revoked, { elevationId: ev(3), grantId: granted3.data.grantId });
        await publish(revoked3);
        await waitFor(() => deadLetters.filter((d) => d.event.id === revoked3.id).length === 2, { timeoutMs: 60_000, what: 'two dead letters' });
        const dl = deadLetters
          .filter((d) => d.event.id === revoked3.id)
          .map((d) => [d.event['jitdlqchannel'], d.event['jitdlqcode']])
          .sort();
        expect(dl).toEqual([
          ['broken', 'JIT_ERR_NOTIFY_DELIVERY_REFUSED'],
          ['nowhere', 'JIT_ERR_NOTIFY_CHANNEL_UNCONFIGURED'],
        ]);
        expect(refusing.requests).toHaveLength(1); // a refusal is not retried

        // 5: restart: nothing already delivered is posted again; a new event is
        await notifier.stop();
        const postsBefore = slack.requests.length + teams.requests.length + hook.requests.length;
        const bypass1 = sampleEvent(EVENT_TYPES.bypassDetected, { elevationId: ev(1), projectId, mrIid: 1 });
        await publish(bypass1);
        notifier = await start();
        await waitFor(() => slack.requests.some((r) => JSON.stringify(r.body).includes(ev(1))), { timeoutMs: 60_000, what: 'the bypass of 1 posted' });
        const after = slack.requests.length + teams.requests.length + hook.requests.length;
        expect(after - postsBefore).toBe(1);
        expect([slack.requests.length, teams.requests.length, hook.requests.length]).toEqual([3, 4, 2]);

        // no URL (the secret) in any log line or dead letter
        const everything = logLines.join('\n') + JSON.stringify(deadLetters.map((d) => d.event));
        for (const u of Object.values(urls)) expect(everything).not.toContain(new URL(u).pathname);
        const metrics = await registry.metrics();
        expect(metrics).toMatch(/jit_notify_failures_total\{consumer="notifier",channel="approvers",code="JIT_ERR_NOTIFY_DELIVERY_FAILED"\} 2/);
        expect(metrics).toMatch(/jit_notify_deliveries_total\{consumer="notifier",channel="broken",outcome="dead"\} 1/);
        expect(metrics).toMatch(/jit_notify_lag_seconds\{consumer="notifier"\}/);
        expect(metrics).toMatch(/jit_events_refused_total\{consumer="notifier",type="requested",reason="unsigned"\} 1/);
        expect(metrics).toMatch(/jit_events_refused_total\{consumer="notifier",type="bypass.detected",reason="untrusted_key"\} 1/);
        expect(JSON.stringify([...slack.requests, ...teams.requests, ...hook.requests].map((r) => r.body))).not.toMatch(/forged\.example|forged alarm/);
      } finally {
        await notifier.stop();
        await dlqSub.stop();
        await close();
      }
    });
  });
}

scenario('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jit-notify-'));
  const bus = await createEmbeddedBus({ dir, logger: createLogger({ name: 'bus', level: 'silent' }) });
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 2, retentionMs: -1 }]);
  return { bus, close: async () => (await bus.close(), await rm(dir, { recursive: true, force: true })) };
});

scenario('kafka', async () => {
  const brokers = await getKafka();
  const bus = await createKafkaBus({ brokers, clientId: `notify-int-${randomUUID().slice(0, 6)}`, logger: createLogger({ name: 'bus', level: 'silent' }) });
  await bus.ensureTopics([{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }]);
  return { bus, close: () => bus.close() };
});
