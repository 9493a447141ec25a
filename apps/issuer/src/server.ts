// Composes the issuer process: Kafka bus, substrate instances, policy store (the ratified version
// an approval names, folded from the log), a ledger kept current from the log, the issuer consumer, and the HTTP routes: the
// whole read API (/v1/elevations, /v1/elevations/:id, the sealed credential) and the OpenAPI
// document; health, readiness and metrics (the SLO counters of the read model among them) on the ops listener. main.ts supplies
// config; tests inject the bus, fetch or extras.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { createKafkaBus, createSigningBus, type EventBus } from '@jit/bus';
import { TOPIC_ELEVATIONS, createEventSigner, producerTrust } from '@jit/contracts';
import { createGitlabClient, type FetchFn } from '@jit/gitlab';
import { createGitlabApprovalCheck, createIssuer, type Issuer, type MrNotifier } from '@jit/issuer';
import { createChainHeads, createLedger } from '@jit/ledger';
import { createLogger, createRegistry, type Logger } from '@jit/observability';
import { allowedCiProjects, createOpsServer, gitlabClientToken, openGitlabToken, openSecret, sessionKeysSchema } from '@jit/service';
import { cachedGroupResolver, createElevationAccess, createPolicyStore, ratifiedOnLog } from '@jit/policy';
import { credentialFetchedEvent, readApiPlugin, signingKeysPlugin, startLedgerProjection } from '@jit/read-api';
import { createGroupResolver } from '@jit/gate';
import { authPlugin, createCallerResolver } from '@jit/identity';
import { DASHBOARD_ROUTES, dashboardOptions, dashboardPlugin } from '@jit/dashboard';
import type { Substrate, SubstrateRegistry } from '@jit/substrates';
import type { IssuerAppConfig } from './config';
import { createPolicyTargetResolver, createSubstrates, substrateCatalog } from '@jit/substrate-wiring';

export const ISSUER_TOPIC_SPECS = [{ topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 }];

export interface IssuerServerDeps {
  logger?: Logger;
  /** A bus to use instead of connecting to config.kafka (closed by the caller). */
  bus?: EventBus;
  fetch?: FetchFn;
  /** Environment the target `connection` references resolve from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Adapter injections per instance name (test clients). */
  substrateExtras?: Record<string, object>;
  /** Wraps each substrate instance (tests: fault injection). */
  wrapSubstrate?: (substrate: Substrate) => Substrate;
}

export interface IssuerServer {
  app: FastifyInstance;
  /** /healthz, /readyz, /metrics: listen on config.ops; closed with `app`. */
  ops: FastifyInstance;
  issuer: Issuer;
  substrates: SubstrateRegistry;
}

/** Builds and starts everything but the listener; `app.close()` stops consuming, drains and closes. */
export async function buildServer(config: IssuerAppConfig, deps: IssuerServerDeps = {}): Promise<IssuerServer> {
  const logger = deps.logger ?? createLogger({ name: 'issuer', level: config.logLevel });
  const ownBus = !deps.bus;
  const rawBus =
    deps.bus ?? (await createKafkaBus({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, sessionTimeoutMs: config.kafka.sessionTimeoutMs, security: config.kafka.security, logger }));
  const cleanups: Array<() => Promise<unknown>> = [];
  if (ownBus) cleanups.push(() => rawBus.close());
  // granted and grant.failed leave signed; the sealed credential is signed too (the CLI checks it)
  const signer = createEventSigner(config.signing.privateKeyPem);
  const bus = createSigningBus(rawBus, signer, [TOPIC_ELEVATIONS], createChainHeads());
  // approvals from a gate, grants from an issuer (this one, or replicas sharing or listing keys), ends from a revoker
  const trust = producerTrust(config.signing.trusted, { key: signer.publicKey, roles: ['issuer'] });
  try {
    await bus.ensureTopics(ISSUER_TOPIC_SPECS);
    const registry = createRegistry({ defaultMetrics: true });
    const substrates = createSubstrates(config.substrates, logger, deps.substrateExtras, registry);
    cleanups.unshift(() => substrates.closeAll());
    // GITLAB_TOKEN_FILE is re-read when rotated; every call asks for the token in force
    const token = openGitlabToken(config.gitlab, logger);
    cleanups.unshift(async () => token.close());
    const gitlab = createGitlabClient({ url: config.gitlab.url, token: gitlabClientToken(token), ...(deps.fetch ? { fetch: deps.fetch } : {}), logger });
    const project = await gitlab.projects.show(config.elevationsProject);
    // Policies name substrate instances; validate scopes with the instance that will issue them.
    const policyStore = createPolicyStore({ gitlab, projectId: project.id, substrates: substrateCatalog(substrates), logger });
    // also audits each policy version's substrate safety checks: jit_substrate_findings on /metrics
    const targets = createPolicyTargetResolver({ policyStore, env: deps.env ?? process.env, logger, registry });
    const notifier: MrNotifier = { comment: async (projectId, iid, body) => void (await gitlab.notes.create(projectId, iid, body)) };
    const ledger = createLedger();
    // One ledger serves both the credential route and the issuer's idempotency checks: the
    // projection replays the log into it, then the issuer skips its own replay.
    // It also keeps the SLO counters of deploy/prometheus/jit-alerts.yaml (jit_bypasses_total…).
    // The policy store folds the policy events of the same log: the issuer issues only under a
    // version the log ratified, read at its ratified commit (never policy.yaml at the merge commit).
    const projection = await startLedgerProjection({
      bus,
      ledger,
      logger,
      registry,
      trust,
      groupId: `${config.kafka.groupId}-read-${randomUUID()}`,
      onEvent: (event) => void policyStore.apply(event),
    });
    cleanups.unshift(() => projection.stop());
    const wrap = deps.wrapSubstrate ?? ((s: Substrate) => s);
    const issuer = createIssuer({
      bus,
      substrates: { get: (name) => wrap(substrates.get(name)) },
      targets,
      trust,
      signer,
      // before issuing, compare the approval with GitLab: merged at that sha, file content, recipient, TTL
      approvalCheck: createGitlabApprovalCheck({ gitlab, ratifiedPolicy: (version) => policyStore.atVersion(version) }),
      ledger,
      logger,
      notifier,
      registry,
      groupId: config.kafka.groupId,
      retry: config.retry,
      skipReplay: true,
      ...(config.publicUrl ? { credentialUrl: (id: string) => `${config.publicUrl}/v1/elevations/${id}/credential` } : {}),
    });
    await issuer.start();
    cleanups.unshift(() => issuer.stop());

    const app = Fastify({ loggerInstance: logger, forceCloseConnections: 'idle' });
    // every route needs a caller: a GitLab token of theirs or a GitLab CI ID token
    await app.register(authPlugin, {
      resolver: createCallerResolver({
        gitlabUrl: config.gitlab.url,
        ...(config.auth.audience ? { audience: config.auth.audience } : {}),
        allowedProjects: allowedCiProjects(config.auth, project.pathWithNamespace),
        userById: (id) => gitlab.users.show(id),
        cacheTtlMs: config.auth.cacheTtlMs,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        logger,
      }),
      registry,
      // the dashboard's pages authenticate by their session cookie and read this API with the user's token
      ...(config.ui.clientId && config.publicUrl ? { publicRoutes: DASHBOARD_ROUTES } : {}),
    });
    const botUsername = (await gitlab.users.current()).username;
    // who sees what follows the policy the log ratified last (the issuer never reads the default branch)
    const access = createElevationAccess({
      store: ratifiedOnLog(policyStore),
      resolveGroup: cachedGroupResolver(createGroupResolver(gitlab, logger), { ttlMs: config.auth.cacheTtlMs }),
      viewTtlMs: Math.min(5000, config.auth.cacheTtlMs),
      botUsername,
    });
    await app.register(swagger, {
      openapi: {
        info: { title: 'jit issuer', version: '1', description: 'Read API of a distributed jit deployment: elevations, their timelines and sealed credentials' },
        ...(config.publicUrl ? { servers: [{ url: config.publicUrl }] } : {}),
      },
    });
    app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    // In distributed mode the issuer is the process that serves /v1/elevations* (an ingress
    // routes them here); it already keeps the ledger for the credential route.
    await app.register(readApiPlugin, {
      ledger,
      access,
      // each credential served is on the log first, signed with the issuer key
      recordFetch: async (e, caller) => void (await bus.publish(TOPIC_ELEVATIONS, e.id, credentialFetchedEvent(e, caller, '/jit/issuer/read-api'))),
    });
    if (config.ui.clientId && config.publicUrl && config.ui.sessionKeys) {
      // re-read when the file is rotated: a new first key seals new sessions, the others still open
      const sessionKeys = openSecret({ ...config.ui.sessionKeys, schema: sessionKeysSchema(), logger });
      cleanups.unshift(async () => sessionKeys.close());
      await app.register(dashboardPlugin, {
        ...dashboardOptions({
          gitlabUrl: config.gitlab.url,
          clientId: config.ui.clientId,
          ...(config.ui.clientSecret ? { clientSecret: config.ui.clientSecret } : {}),
          publicUrl: config.publicUrl,
          sessionTtlMs: config.ui.sessionTtlMs,
          sessionKeys: () => sessionKeys.current(),
          logger,
        }),
        // the gate serves /v1/catalog; Health shows the version the log ratified last, as this process folds it
        policyInForce: async () => {
          const r = policyStore.trust.current();
          return r ? { version: r.version, how: r.how, at: r.ratifiedAt, ...(r.mrIid !== undefined ? { mrIid: r.mrIid } : {}) } : undefined;
        },
      });
    }
    await app.register(signingKeysPlugin, { keys: [{ key: signer.publicKey, roles: ['issuer'] }] });
    const ops = createOpsServer({ registry, logger, closeWith: app, readiness: () => ({ ready: bus.isReady(), detail: { bus: bus.isReady(), substrates: substrates.names() } }) });
    app.addHook('onClose', async () => {
      // Stop consuming and finish the approval in flight first, then release clients.
      for (const c of cleanups) await c().catch((err: unknown) => logger.warn({ err: { name: (err as Error)?.name } }, 'error while closing'));
    });
    return { app: app as unknown as FastifyInstance, ops, issuer, substrates };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => undefined);
    throw err;
  }
}
