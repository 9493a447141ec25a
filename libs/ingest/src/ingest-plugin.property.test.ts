// Property: whatever headers and body arrive, the intake never answers 5xx (other than 503 while the
// bus is down) and never publishes a body that was not authenticated.
import Fastify, { type FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestPlugin } from './ingest-plugin';
import { FakeBus, fixture, signatureFor, signingToken } from './test-support';

const TOKEN = 'property-token-123456';
const SIGNING = signingToken('property-signing-key');
const MR = fixture('merge-request-hook.json');
const NOTE = fixture('note-hook-merge-request.json');

let bus: FakeBus;
let app: FastifyInstance;

beforeAll(async () => {
  bus = new FakeBus();
  app = Fastify({ logger: false });
  await app.register(ingestPlugin, {
    bus,
    auth: { tokens: [TOKEN], signingSecrets: [SIGNING] },
    underPressure: false,
    bodyLimit: 16 * 1024,
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
  await bus.close();
});

const headerValue = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 40 }), fc.constantFrom('', ' ', 'v1,', 'v1,AAAA', 'whsec_', '\t', '0', '-1', '99999999999999999999', 'application/json'));
const body = fc.oneof(
  fc.constantFrom(MR, NOTE, '{}', '[]', 'null', '', '{"object_kind":"merge_request"}', '['.repeat(200)),
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 4 }),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a).toString('latin1')),
  fc.constantFrom(MR, NOTE).map((b) => b.replace('"iid": 1', '"iid": "1"')),
);

describe('ingest under arbitrary input', () => {
  it('never 5xx (bar 503 on a down bus) and never publishes unauthenticated bodies', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          body: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(MR, NOTE) }, { weight: 4, arbitrary: body }),
          event: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('Merge Request Hook', 'Note Hook', 'Push Hook') }, { weight: 1, arbitrary: headerValue }),
          contentType: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain') }, { weight: 1, arbitrary: headerValue }),
          token: fc.oneof({ weight: 3, arbitrary: fc.constant(TOKEN) }, { weight: 1, arbitrary: headerValue }),
          // sign correctly, sign another body, or send junk signature headers
          signing: fc.constantFrom('valid', 'valid', 'valid', 'other-body', 'stale', 'junk', 'none'),
          id: fc.oneof({ weight: 3, arbitrary: fc.uuid() }, { weight: 1, arbitrary: headerValue }),
          busReady: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
        }),
        async (input) => {
          const before = bus.published.length;
          bus.ready = input.busReady;
          const now = Math.floor(Date.now() / 1000);
          const headers: Record<string, string> = {};
          if (input.event !== undefined) headers['x-gitlab-event'] = input.event;
          if (input.contentType !== undefined) headers['content-type'] = input.contentType;
          if (input.token !== undefined) headers['x-gitlab-token'] = input.token;
          const id = input.id ?? 'fallback-id';
          if (input.signing !== 'none') {
            const ts = input.signing === 'stale' ? now - 3600 : now;
            const signed = input.signing === 'other-body' ? `${input.body} ` : input.body;
            headers['webhook-id'] = id;
            headers['webhook-timestamp'] = String(ts);
            headers['webhook-signature'] = input.signing === 'junk' ? 'v1,Zm9v' : signatureFor(SIGNING, id, ts, signed);
          }
          let res;
          try {
            res = await app.inject({ method: 'POST', url: '/webhooks/gitlab', payload: input.body, headers });
          } catch (err) {
            // light-my-request refuses header values Node itself would refuse to send
            if ((err as { code?: string }).code === 'ERR_INVALID_CHAR') return;
            throw err;
          }
          const authentic = input.token === TOKEN && input.signing === 'valid';
          if (res.statusCode >= 500) {
            expect(res.statusCode).toBe(503);
            expect(input.busReady).toBe(false);
          }
          const published = bus.published.length - before;
          if (!authentic) expect(published, `published unauthenticated: ${JSON.stringify({ ...input, body: input.body.slice(0, 60) })}`).toBe(0);
          if (published > 0) {
            expect(res.statusCode).toBe(202);
            expect(bus.published.at(-1)!.event.data).toMatchObject({ payload: JSON.parse(input.body) });
          }
          if (!authentic) expect([401, 413, 415]).toContain(res.statusCode);
          if (res.statusCode === 202) accepted++;
        },
      ),
      { numRuns: 400 },
    );
    // The generators do reach the publishing path, so the property is not vacuous.
    expect(accepted).toBeGreaterThan(0);
  });
});
