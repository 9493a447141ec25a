// Composes the all-in-one process: webhook-ingest, approval-gate, issuer, revoker (and the
// notifier, when channels are configured) on one
// fastify server and one bus, plus the read API, the catalog and the OpenAPI document; health,
// readiness and metrics on a separate ops listener.
// In sandbox mode (no GITLAB_URL) it also runs the GitLab sandbox and a demo PostgreSQL.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { createEmbeddedBus, createKafkaBus, createSigningBus, type EventBus } from '@jit/bus';
import { TOPIC_ELEVATIONS, TOPIC_GITLAB, producerTrust } from '@jit/contracts';
import { eventsPlugin } from '@jit/audit';
import { createGroupResolver, gatePlugin } from '@jit/gate';
import { createGitlabClient, type GitlabClient } from '@jit/gitlab';
import { DASHBOARD_ROUTES, DASHBOARD_SCOPE, dashboardOptions, dashboardPlugin, ephemeralSessionKey } from '@jit/dashboard';
import type { Sandbox } from '@jit/gitlab-sandbox';
import { ingestPlugin } from '@jit/ingest';
import { createGitlabApprovalCheck, createIssuer, type Issuer } from '@jit/issuer';
import { createChainHeads, createLedger } from '@jit/ledger';
import { createLogger, createRegistry, type Logger } from '@jit/observability';
import { cachedGroupResolver, createElevationAccess, createPolicyStore } from '@jit/policy';
import { WEBHOOK_ROUTE, authPlugin, createCallerResolver } from '@jit/identity';
import { credentialFetchedEvent, readApiPlugin, signingKeysPlugin, startLedgerProjection, type LedgerProjection } from '@jit/read-api';
import { createRevoker, type Revoker } from '@jit/revoker';
import { allowedCiProjects, createOpsServer, envSchemas, gitlabClientToken, openGitlabToken, openSecret, sessionKeysSchema, staticSecret } from '@jit/service';
import { webhookSecrets as webhookSecretsSchema, type JitConfig } from './config';
import { createClosers } from './closers';
import { dirHasEntries, loadOrCreateSigner, prepareDataDir } from './data-dir';
import { openChatNotifier, openSink } from './optional-consumers';
import type { DemoDatabase } from './demo-database';
import { startSandboxGitlab } from './sandbox-gitlab';
import { createPolicyTargetResolver, createSubstrates, substrateCatalog } from '@jit/substrate-wiring';

export interface JitProcess {
  app: FastifyInstance;
  /** /healthz, /readyz, /metrics on config.ops (listened by `listen()`, closed with `app`). */
  ops: FastifyInstance;
  /** Where the ops listener listens, once `listen()` has run. */
  opsUrl: string | undefined;
  /** The bus without this process's signature (what another writer of the log would publish). */
  bus: EventBus;
  logger: Logger;
  sandbox?: Sandbox;
  /** Sandbox mode: username → the age identity file generated for the user the seed policy registers a key to. */
  sandboxIdentities: Record<string, string>;
  demoDatabase?: DemoDatabase;
  /** The GitLab jit talks to (sandbox or real) and the elevations project. */
  gitlab: { url: string; project: string; projectId: number };
  /** Webhook secret in use (sandbox mode generates one when unset). Never logged. */
  webhookSecret?: string;
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface BuildOptions {
  /** Environment for secret references in policy.yaml (env:NAME). Default process.env. */
  env?: Record<string, string | undefined>;
  logger?: Logger;
}

export async function buildJit(config: JitConfig, options: BuildOptions = {}): Promise<JitProcess> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? createLogger({ name: 'jit', level: config.logLevel as 'info' });
  // Looked at before the bus creates its directory: an earlier run's log without a sandbox state
  // file means the sandbox would be re-seeded under elevations that still name its old MRs.
  const earlierBusLog = dirHasEntries(join(config.dataDir, 'bus'));
  prepareDataDir(config.dataDir);
  const { closers, lastClosers, close } = createClosers(logger);

  try {
    // --- the signing key: every event this process publishes is signed; it trusts its own key in
    // every role (it is the gate, the issuer and the revoker) plus the keys configured
    const signer = loadOrCreateSigner(config, logger);
    const trust = producerTrust(config.signing.trusted, { key: signer.publicKey, roles: ['gate', 'issuer', 'revoker'] });

    // --- the bus
    const rawBus: EventBus = config.kafka
      ? await createKafkaBus({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, sessionTimeoutMs: config.kafka.sessionTimeoutMs, security: config.kafka.security, logger })
      : await createEmbeddedBus({ dir: join(config.dataDir, 'bus'), logger });
    closers.push(() => rawBus.close());
    const bus = createSigningBus(rawBus, signer, [TOPIC_ELEVATIONS], createChainHeads());
    await bus.ensureTopics([
      { topic: TOPIC_ELEVATIONS, partitions: config.kafka ? 12 : 1, retentionMs: -1 },
      { topic: TOPIC_GITLAB, partitions: config.kafka ? 12 : 1, retentionMs: 14 * 24 * 3600 * 1000 },
    ]);

    // --- GitLab: real, or the sandbox with a demo database
    let sandbox: Sandbox | undefined;
    let identities: Record<string, string> = {};
    let demoDatabase: DemoDatabase | undefined;
    let webhookSecrets = config.webhook.secrets;
    let gitlabUrl: string;
    let gitlabToken: string | (() => string);
    let project: string;
    let botUsername = config.gitlab?.botUsername;
    if (config.gitlab) {
      gitlabUrl = config.gitlab.url;
      // GITLAB_TOKEN_FILE is re-read when rotated; every call asks for the token in force
      const token = openGitlabToken(config.gitlab, logger);
      closers.push(async () => token.close());
      gitlabToken = gitlabClientToken(token);
      project = config.gitlab.project;
    } else {
      ({ sandbox, identities, demoDatabase, webhookSecrets, gitlabUrl, gitlabToken, project, botUsername } = await startSandboxGitlab(config, {
        env,
        logger,
        earlierBusLog,
        closers,
        lastClosers,
      }));
    }
    const gitlab: GitlabClient = createGitlabClient({ url: gitlabUrl, token: gitlabToken, logger });
    const proj = await gitlab.projects.show(project);
    botUsername ??= (await gitlab.users.current()).username;

    // --- substrates and policy
    const instances = { ...config.substrates };
    if (demoDatabase && instances.postgres && !instances.postgres.adminUrl && !instances.postgres.adminUrls) {
      // revoke and the orphan sweep reach the demo database without a request's connection
      // defaultUrl: the policy audit proves the read-only default credential cannot write
      instances.postgres = { ...instances.postgres, adminUrl: demoDatabase.adminUrl, defaultUrl: demoDatabase.readonlyUrl };
    }
    const registry = createRegistry({ defaultMetrics: true });
    const substrates = createSubstrates(instances, logger, {}, registry);
    closers.push(() => substrates.closeAll());
    // The first policy is trusted by an explicit act: JIT_POLICY_PIN. The sandbox is a demo whose
    // seed we ship, so there its policy.yaml is pinned automatically (it matters only on an empty log).
    let policyPin = config.policyPin;
    if (!policyPin && sandbox) {
      const seeded = await gitlab.files.show(proj.id, 'policy.yaml', proj.defaultBranch).catch(() => undefined);
      if (seeded) {
        policyPin = seeded.blobId;
        logger.info({ policyPin }, 'sandbox mode: the seed policy.yaml is pinned as the first trusted policy (with a real GitLab, set JIT_POLICY_PIN)');
      }
    }
    const policyStore = createPolicyStore({ gitlab, projectId: proj.id, substrates: substrateCatalog(substrates), logger, ...(policyPin ? { pin: policyPin } : {}) });

    // --- one registry, one server; every route but the webhook needs a caller (a GitLab token or a CI ID token)
    // the dashboard's OAuth application: configured, or (sandbox mode) registered in the sandbox now
    const uiApp = config.ui.clientId
      ? { id: config.ui.clientId, secret: config.ui.clientSecret }
      : sandbox
        ? (({ uid, secret }) => ({ id: uid, secret }))(
            sandbox.addOAuthApplication({ name: 'jit dashboard', redirectUri: `${config.publicUrl.replace(/\/+$/, '')}/ui/auth/callback`, scopes: [DASHBOARD_SCOPE] }),
          )
        : undefined;
    // Its services start in onReady. On Kafka, restarted right after a kill -9, joining a consumer
    // group waits until the killed member's session expires (KAFKA_SESSION_TIMEOUT_MS, 30 s by
    // default), past fastify's default 10 s: no timeout there (as the approval-gate), start is bounded
    // by each service's own retry budget (startRetryMs) and the supervisor's startup probe.
    const app = Fastify({ loggerInstance: logger, forceCloseConnections: 'idle', bodyLimit: config.webhook.bodyLimit + 1024, ...(config.kafka ? { pluginTimeout: 0 } : {}) });
    await app.register(authPlugin, {
      // the dashboard's pages authenticate by their session cookie and call the API with the user's token
      publicRoutes: uiApp ? [WEBHOOK_ROUTE, ...DASHBOARD_ROUTES] : [WEBHOOK_ROUTE],
      resolver: createCallerResolver({
        gitlabUrl,
        audience: config.auth.audience ?? config.publicUrl,
        allowedProjects: allowedCiProjects(config.auth, proj.pathWithNamespace),
        userById: (id) => gitlab.users.show(id),
        cacheTtlMs: config.auth.cacheTtlMs,
        logger,
      }),
      registry,
    });
    const access = createElevationAccess({
      store: policyStore,
      resolveGroup: cachedGroupResolver(createGroupResolver(gitlab, logger), { ttlMs: config.auth.cacheTtlMs }),
      viewTtlMs: Math.min(5000, config.auth.cacheTtlMs),
      botUsername,
    });
    await app.register(swagger, {
      openapi: {
        info: { title: 'jit', version: '1', description: 'GitOps just-in-time privilege elevation: webhook intake, catalog and read API' },
        servers: [{ url: config.publicUrl }],
      },
    });
    app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    // The _FILE forms are re-read when rotated: the new secret works at once, the replaced one for graceMs.
    const tokens = openSecret({
      setting: 'JIT_WEBHOOK_SECRET',
      value: webhookSecrets,
      ...(config.webhook.secretsFile ? { file: config.webhook.secretsFile } : {}),
      schema: webhookSecretsSchema(),
      logger,
    });
    const signing = openSecret({
      setting: 'JIT_WEBHOOK_SIGNING_SECRET',
      value: config.webhook.signingSecret,
      ...(config.webhook.signingSecretFile ? { file: config.webhook.signingSecretFile } : {}),
      schema: envSchemas.signingSecret().optional(),
      logger,
    });
    closers.push(async () => (tokens.close(), signing.close()));
    const signingList = { current: () => [signing.current()].filter((v): v is string => !!v), onChange: (l: (v: string[]) => void) => signing.onChange((v) => l(v ? [v] : [])) };
    await app.register(ingestPlugin, {
      bus,
      auth: { tokens, signingSecrets: signingList, graceMs: config.webhook.graceMs },
      dedupe: { dir: join(config.dataDir, 'dedupe') },
      bodyLimit: config.webhook.bodyLimit,
      registry,
      healthRoutes: false,
      metricsRoute: false,
      logger,
    });
    await app.register(gatePlugin, {
      bus,
      gitlab,
      policyStore,
      logger,
      botUsername,
      registry,
      catalogAccess: access,
      // the gate folds what only a gate emits only when a gate key signed it (a forged requested
      // on the log could otherwise ask for no approvals)
      gateKeys: trust.gate,
      policyRefreshMs: config.policyRefreshMs,
      reconcileIntervalMs: config.reconcileIntervalMs,
    });

    const ledger = createLedger();
    const notifier = { comment: async (p: number, iid: number, md: string) => void (await gitlab.notes.create(p, iid, md)) };
    const issuer: Issuer = createIssuer({
      bus,
      substrates,
      // also audits each policy version's substrate safety checks: jit_substrate_findings on /metrics
      targets: createPolicyTargetResolver({ policyStore, env, logger, registry }),
      trust,
      signer,
      approvalCheck: createGitlabApprovalCheck({ gitlab, ratifiedPolicy: (version) => policyStore.atVersion(version) }),
      ledger: createLedger(),
      logger: logger.child({ component: 'issuer' }),
      notifier,
      registry,
      credentialUrl: (id) => `${config.publicUrl}/v1/elevations/${id}/credential`,
    });
    const revoker: Revoker = createRevoker({
      bus,
      substrates,
      trust,
      logger: logger.child({ component: 'revoker' }),
      notifier,
      registry,
      sweepIntervalMs: config.sweepIntervalMs,
    });
    const chat = openChatNotifier(config, { bus, policyStore, trust, registry, logger, closers });
    const sink = openSink(config, { bus, registry, logger, closers });
    await app.register(readApiPlugin, {
      ledger,
      access,
      // each credential served is on the log first, signed by this process (its issuer key)
      recordFetch: async (e, caller) => void (await bus.publish(TOPIC_ELEVATIONS, e.id, credentialFetchedEvent(e, caller, '/jit/read-api'))),
    });
    // GET /v1/events (jit events, jit audit verify): the whole log, for the policy's auditors only; the
    // caller is the auth plugin's
    await app.register(eventsPlugin, { bus, access });
    if (uiApp) {
      // the configured keys (re-read when rotated), or one of this process's own: one process opens
      // its own sessions, and a restart signs users out
      const sessionKeys = config.ui.sessionKeys ? openSecret({ ...config.ui.sessionKeys, schema: sessionKeysSchema(), logger }) : staticSecret('JIT_UI_SESSION_KEY', [ephemeralSessionKey()]);
      closers.push(async () => sessionKeys.close());
      await app.register(
        dashboardPlugin,
        dashboardOptions({
          gitlabUrl,
          clientId: uiApp.id,
          ...(uiApp.secret ? { clientSecret: uiApp.secret } : {}),
          publicUrl: config.publicUrl,
          sessionTtlMs: config.ui.sessionTtlMs,
          sessionKeys: () => sessionKeys.current(),
          logger,
        }),
      );
    }
    await app.register(signingKeysPlugin, { keys: [{ key: signer.publicKey, roles: ['gate', 'issuer', 'revoker'] }] });

    let projection: LedgerProjection | undefined;

    // health, readiness and metrics on their own listener (JIT_OPS_HOST:JIT_OPS_PORT), never on JIT_PORT
    const ops = createOpsServer({
      registry,
      logger,
      closeWith: app as unknown as FastifyInstance,
      readiness: () => ({
        ready: bus.isReady() && policyStore.peek() !== undefined && app.gate.isReady(),
        detail: {
          bus: bus.isReady(),
          policy: {
            ok: policyStore.status().ok,
            version: policyStore.status().version,
            error: policyStore.status().error?.code,
            ...(policyStore.status().unratified ? { unratified: policyStore.status().unratified!.version } : {}),
          },
        },
      }),
    });

    app.addHook('onReady', async () => {
      projection = await startLedgerProjection({
        bus,
        ledger,
        logger,
        groupId: `jit-read-model-${randomBytes(4).toString('hex')}`,
        trust,
        // the SLO counters of deploy/prometheus/jit-alerts.yaml (jit_bypasses_total…), as on the issuer
        registry,
      });
      await issuer.start();
      await revoker.start();
      await chat?.start();
      await sink?.start();
    });
    app.addHook('onClose', async () => {
      await sink?.stop();
      await chat?.stop();
      await revoker.stop();
      await issuer.stop();
      await projection?.stop();
    });
    closers.push(async () => {
      // fastify 5.12 with forceCloseConnections 'idle' closes only the connections idle when
      // close() starts (fastify#7044): one that finishes a request (a webhook) afterwards holds
      // close() for the whole keep-alive timeout, 72 s. Keep closing idle ones until it is done.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
      }
    });

    const jit: JitProcess = {
      app: app as unknown as FastifyInstance,
      // the log itself: what is published here is not signed by this process
      bus: rawBus,
      logger,
      sandbox,
      sandboxIdentities: identities,
      demoDatabase,
      gitlab: { url: gitlabUrl, project, projectId: proj.id },
      webhookSecret: webhookSecrets[0],
      async listen() {
        // readiness (the ops listener) opens only once the public port accepts connections
        const url = await app.listen({ port: config.port, host: config.host });
        jit.opsUrl = await ops.listen({ port: config.ops.port, host: config.ops.host });
        return url;
      },
      ops,
      opsUrl: undefined,
      close,
    };
    return jit;
  } catch (err) {
    await close();
    throw err;
  }
}
