// The ops listener every jit process serves apart from its public port: GET /healthz (the process
// is up), GET /readyz (what the process says it needs to do its work) and GET /metrics (its
// prom-client registry), on JIT_OPS_HOST:JIT_OPS_PORT (loopback by default). Nothing else is
// served there, and none of these is served on the public port: a scrape or a probe never needs a
// caller's token, and the public port never tells a stranger how the process is doing.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger, Registry } from '@jit/observability';

/** What /readyz answers: 200 when `ready`, else 503, with `detail` in the body either way. */
export interface Readiness {
  ready: boolean;
  detail?: Record<string, unknown>;
}

export interface OpsServerOptions {
  registry: Registry;
  readiness: () => Readiness | Promise<Readiness>;
  logger: Logger;
  /** The public app: the ops listener closes after it (so /readyz answers until the app has drained). */
  // any logger type: apps pass their pino-typed instance
  closeWith?: FastifyInstance<any, any, any, any, any>;
}

/** Where the ops listener binds (JIT_OPS_HOST, JIT_OPS_PORT). */
export interface OpsConfig {
  host: string;
  port: number;
}

/** A fastify instance with the three ops routes; the caller listens on its ops address and closes it. */
export function createOpsServer(opts: OpsServerOptions): FastifyInstance {
  // probes and scrapes every few seconds would drown the log: no per-request lines
  const ops = Fastify({ loggerInstance: opts.logger.child({ listener: 'ops' }), logController: new LogController({ disableRequestLogging: true }), forceCloseConnections: true });
  ops.get('/healthz', async () => ({ status: 'ok' }));
  let stopping = false;
  opts.closeWith?.addHook('preClose', async () => {
    stopping = true;
  });
  ops.get('/readyz', async (_req, reply) => {
    // a stopping process takes no new work: say so at once, whatever its parts still report
    const r = stopping ? { ready: false, detail: { stopping: true } } : await opts.readiness();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not_ready', ...r.detail });
  });
  ops.get('/metrics', async (_req, reply) => reply.type(opts.registry.contentType).send(await opts.registry.metrics()));
  opts.closeWith?.addHook('onClose', async () => {
    await ops.close();
  });
  return ops as unknown as FastifyInstance;
}
