// Composes the revoker process: Kafka bus, substrate instances, the revoker (durable schedule
// rebuilt from the log, revoke at TTL/on request, reconciliation, orphan sweep), MR comments when
// GitLab is configured, GET /v1/keys, and health/readiness/metrics on the ops listener. main.ts supplies config; tests inject deps.
import Fastify, { type FastifyInstance } from 'fastify';
import { createKafkaBus, createSigningBus, type EventBus } from '@jit/bus';
import { createChainHeads } from '@jit/ledger';
import { TOPIC_ELEVATIONS, createEventSigner, producerTrust } from '@jit/contracts';
import { createGitlabClient, type FetchFn } from '@jit/gitlab';
import { createLogger, createRegistry, type Logger } from '@jit/observability';
import { allowedCiProjects, createOpsServer, gitlabClientToken, openGitlabToken } from '@jit/service';
import { authPlugin, createCallerResolver } from '@jit/identity';
import { signingKeysPlugin } from '@jit/read-api';
import { createRevoker, type MrNotifier, type Revoker } from '@jit/revoker';
import type { SubstrateRegistry } from '@jit/substrates';
import type { RevokerAppConfig } from './config';
import { createSubstrates } from '@jit/substrate-wiring';

export const REVOKER_TOPIC_SPECS = [{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }];

export interface RevokerServerDeps {
  logger?: Logger;
  /** A bus to use instead of connecting to config.kafka (closed by the caller). */
  bus?: EventBus;
  fetch?: FetchFn;
  /** Adapter injections per instance name (test clients). */
  substrateExtras?: Record<string, object>;
}

export interface RevokerServer {
  app: FastifyInstance;
  /** /healthz, /readyz, /metrics: listen on config.ops; closed with `app`. */
  ops: FastifyInstance;
  revoker: Revoker;
  substrates: SubstrateRegistry;
}

/** Builds and starts everything but the listener; `app.close()` stops, drains and closes. */
export async function buildServer(config: RevokerAppConfig, deps: RevokerServerDeps = {}): Promise<RevokerServer> {
  const logger = deps.logger ?? createLogger({ name: 'revoker', level: config.logLevel });
  const ownBus = !deps.bus;
  const rawBus =
    deps.bus ?? (await createKafkaBus({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, sessionTimeoutMs: config.kafka.sessionTimeoutMs, security: config.kafka.security, logger }));
  const cleanups: Array<() => Promise<unknown>> = [];
  if (ownBus) cleanups.push(() => rawBus.close());
  // everything the revoker publishes (revoked, expired, revoke.failed, orphan.revoked) leaves signed
  const signer = createEventSigner(config.signing.privateKeyPem);
  const bus = createSigningBus(rawBus, signer, [TOPIC_ELEVATIONS], createChainHeads());
  try {
    await bus.ensureTopics(REVOKER_TOPIC_SPECS);
    const registry = createRegistry({ defaultMetrics: true });
    const substrates = createSubstrates(config.substrates, logger, deps.substrateExtras, registry);
    cleanups.unshift(() => substrates.closeAll());
    let notifier: MrNotifier | undefined;
    let gitlab: ReturnType<typeof createGitlabClient> | undefined;
    if (config.gitlab) {
      // GITLAB_TOKEN_FILE is re-read when rotated; every call asks for the token in force
      const token = openGitlabToken(config.gitlab, logger);
      cleanups.unshift(async () => token.close());
      const client = createGitlabClient({ url: config.gitlab.url, token: gitlabClientToken(token), ...(deps.fetch ? { fetch: deps.fetch } : {}), logger });
      gitlab = client;
      notifier = { comment: async (projectId, iid, body) => void (await client.notes.create(projectId, iid, body)) };
    }
    const revoker = createRevoker({
      bus,
      substrates: { forHandle: (h) => substrates.forHandle(h), list: () => substrates.list() },
      trust: producerTrust(config.signing.trusted, { key: signer.publicKey, roles: ['revoker'] }),
      logger,
      registry,
      groupId: config.kafka.groupId,
      retry: config.retry,
      sweepIntervalMs: config.sweepIntervalMs,
      orphanGraceMs: config.orphanGraceMs,
      concurrency: config.concurrency,
      ...(notifier ? { notifier } : {}),
    });
    await revoker.start();
    cleanups.unshift(() => revoker.stop());

    const app = Fastify({ loggerInstance: logger, forceCloseConnections: 'idle' });
    // its one public route, GET /v1/keys, needs a caller like every API route (with GitLab
    // configured; without it the revoker can check no token and serves only its public key)
    if (config.gitlab && gitlab) {
      const client = gitlab;
      // the revoker knows no elevations project: CI ID tokens only from JIT_OIDC_ALLOWED_PROJECTS
      const idTokens = config.auth.audience ? { audience: config.auth.audience, allowedProjects: allowedCiProjects(config.auth, undefined), userById: (id: number) => client.users.show(id) } : {};
      await app.register(authPlugin, {
        resolver: createCallerResolver({ gitlabUrl: config.gitlab.url, ...idTokens, cacheTtlMs: config.auth.cacheTtlMs, ...(deps.fetch ? { fetch: deps.fetch } : {}), logger }),
        registry,
      });
    }
    await app.register(signingKeysPlugin, { keys: [{ key: signer.publicKey, roles: ['revoker'] }] });
    const ops = createOpsServer({
      registry,
      logger,
      closeWith: app,
      readiness: () => ({ ready: bus.isReady(), detail: { bus: bus.isReady(), live: revoker.live().size, substrates: substrates.names() } }),
    });
    app.addHook('onClose', async () => {
      for (const c of cleanups) await c().catch((err: unknown) => logger.warn({ err: { name: (err as Error)?.name } }, 'error while closing'));
    });
    return { app: app as unknown as FastifyInstance, ops, revoker, substrates };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  }
}
