// GET /v1/events: the elevations log as JSON lines (CloudEvents structured mode, exactly as
// published, so signatures and chain links verify; or OCSF), from the start or a point in time,
// optionally following it. Auditors only (policy `auditors:`): the stream holds every elevation.
// This is how `jit events` and `jit audit verify` read the all-in-one, whose embedded bus no other
// process may open.
import type {} from '@fastify/swagger'; // schema.summary for the OpenAPI document
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { followTopic, type EventBus, type TopicFollower } from '@jit/bus';
import { ELEVATION_ID_PATTERN, TOPIC_ELEVATIONS, chainKeyOf } from '@jit/contracts';
import { JitError } from '@jit/errors';
import type { Caller } from '@jit/identity-contract';
import { EventsBadQuery, EventsBusy, EventsNotAuditor, EventsUnauthenticated } from './errors';
import { jsonLine } from './json-lines';
import { createOcsfMapper } from './ocsf-mapper';
import { createSinceWindow, isAtOrAfter } from './since-window';

export interface EventsRouteOptions {
  bus: EventBus;
  /** Who may read the stream: an auditor under the policy in force. */
  access: { viewOf(caller: Pick<Caller, 'username' | 'bot' | 'via'>): Promise<{ auditor: boolean }> };
  /** Streams open at once (followers hold a subscription each). Default 16. */
  maxStreams?: number;
  /**
   * How often a stream asks again whether its caller is still an auditor, ms (before the next event
   * is written; 0: before every event). Someone taken off `auditors:` (or out of its group, seen
   * once the group cache expires) gets no further event: the stream ends. Default 5000.
   */
  recheckMs?: number;
}

interface EventsQuery {
  since?: string;
  follow?: boolean;
  format?: 'cloudevents' | 'ocsf';
  elevation?: string;
}

function sendError(reply: FastifyReply, err: JitError): FastifyReply {
  return reply.code(err.statusCode).send({ code: err.code, message: err.message });
}

const plugin: FastifyPluginAsync<EventsRouteOptions> = async (app, options) => {
  const maxStreams = options.maxStreams ?? 16;
  const recheckMs = options.recheckMs ?? 5000;
  const open = new Set<TopicFollower>();
  app.addHook('onClose', async () => {
    await Promise.all([...open].map((f) => f.stop()));
  });

  app.get<{ Querystring: EventsQuery }>(
    '/v1/events',
    {
      schema: {
        summary: 'The elevations log as JSON lines (auditors): CloudEvents as published, or OCSF; from a time or the start; following',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            since: { type: 'string', maxLength: 64 },
            follow: { type: 'boolean' },
            format: { type: 'string', enum: ['cloudevents', 'ocsf'] },
            elevation: { type: 'string', pattern: ELEVATION_ID_PATTERN },
          },
        },
      },
    },
    async (req, reply) => {
      const caller = (req as { caller?: Caller }).caller;
      if (!caller) return sendError(reply, EventsUnauthenticated());
      const isAuditor = async () => (await options.access.viewOf(caller)).auditor;
      if (!(await isAuditor())) return sendError(reply, EventsNotAuditor(caller.username.slice(0, 255)));
      let checkedAt = Date.now();
      const since = req.query.since !== undefined ? new Date(req.query.since) : undefined;
      if (since && Number.isNaN(since.getTime())) return sendError(reply, EventsBadQuery('since must be an ISO date/time, e.g. 2026-11-01T10:00:00Z'));
      if (open.size >= maxStreams) return sendError(reply, EventsBusy(maxStreams));
      const ocsf = req.query.format === 'ocsf' ? createOcsfMapper() : undefined;
      const only = req.query.elevation;
      // CloudEvents from a point in time: each elevation's anchor first, so the export verifies (ADR 0010)
      const window = since && !ocsf ? createSinceWindow(since) : undefined;

      reply.hijack();
      const out = reply.raw;
      out.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      let gone = false;
      const write = async (line: string) => {
        if (gone || out.destroyed) throw new Error('the client went away');
        if (!out.write(line))
          await new Promise<void>((resolve) => {
            out.once('drain', resolve).once('close', resolve);
            if (out.destroyed) resolve();
          });
      };
      // the mapper folds every event (a revoked names no requester); only what is asked for is written
      const follower = await followTopic(options.bus, {
        topic: TOPIC_ELEVATIONS,
        follow: req.query.follow === true,
        groupPrefix: 'jit-events-api',
        onEvent: async (m) => {
          if (Date.now() - checkedAt >= recheckMs) {
            if (!(await isAuditor().catch(() => false))) {
              req.log.info({ caller: caller.username.slice(0, 255) }, 'event stream ended: the caller is no longer an auditor');
              throw new Error('the caller is no longer an auditor');
            }
            checkedAt = Date.now();
          }
          const mapped = ocsf?.map(m.event);
          if (only !== undefined && chainKeyOf(m.event) !== only) return;
          if (window) {
            for (const e of window(m.event as Record<string, unknown>)) await write(jsonLine(e));
            return;
          }
          if (since && !isAtOrAfter(m.event.time, since)) return;
          await write(jsonLine(ocsf ? (mapped ?? m.event) : m.event));
        },
      });
      open.add(follower);
      const stop = () => {
        gone = true;
        void follower.stop();
      };
      req.raw.once('close', stop);
      out.once('close', stop);
      try {
        await follower.done;
      } catch (err) {
        if (!gone) req.log.warn({ err: (err as Error).message }, 'event stream stopped');
      } finally {
        open.delete(follower);
        req.raw.off('close', stop);
        if (!out.writableEnded) out.end();
      }
    },
  );
};

export const eventsPlugin = fp(plugin, { name: 'jit-events', fastify: '5.x' });
