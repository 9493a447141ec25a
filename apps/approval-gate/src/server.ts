// Composes the approval-gate process: GitLab client, policy store, gate plugin (catalog + bus
// consumer), and health, readiness and metrics on the ops listener. main.ts supplies config and the bus; tests supply their own.
import Fastify, { type FastifyInstance } from 'fastify';
import { createSigningBus, type EventBus } from '@jit/bus';
import { createChainHeads } from '@jit/ledger';
import { TOPIC_ELEVATIONS, TOPIC_GITLAB, createEventVerifier, type EventSigner } from '@jit/contracts';
import { createGroupResolver, gatePlugin } from '@jit/gate';
import { authPlugin, createCallerResolver } from '@jit/identity';
import { createGitlabClient, type FetchFn, type GitlabClient } from '@jit/gitlab';
import { createRegistry, type Logger } from '@jit/observability';
import { cachedGroupResolver, createElevationAccess, createPolicyStore, type SubstrateCatalog } from '@jit/policy';
import { signingKeysPlugin } from '@jit/read-api';
import { allowedCiProjects, createOpsServer, type AuthConfig, gitlabClientToken, openGitlabToken } from '@jit/service';

/** Matches deploy/kafka/topics.yaml, so ensuring topics never fights the deployed definitions. */
export const GATE_TOPIC_SPECS = [
  { topic: TOPIC_ELEVATIONS, partitions: 12, retentionMs: -1 },
  { topic: TOPIC_GITLAB, partitions: 12, retentionMs: 14 * 24 * 3600 * 1000 },
];

export interface GateServerOptions {
  bus: EventBus;
  /** The gate's key: every elevation event it emits is signed with it (issuers trust its public half). */
  signer: EventSigner;
  /** Other gate replicas' public keys: gate events read from the bus count only when signed by `signer` or one of these. */
  trustedGateKeys?: readonly string[];
  /** `tokenFile` (GITLAB_TOKEN_FILE) is re-read when rotated: the next GitLab call uses the new token. */
  gitlab: { url: string; token: string; tokenFile?: string; fetch?: FetchFn };
  elevationsProject: string | number;
  botUsername?: string;
  substrates: SubstrateCatalog;
  policyRefreshMs?: number;
  /** Blob sha of the first policy the operator trusts (JIT_POLICY_PIN); used only while the log ratified nothing. */
  policyPin?: string;
  logger: Logger;
  /** API authentication (JIT_AUTH_CACHE_TTL_MS, JIT_OIDC_AUDIENCE). Default: 60 s cache, no CI ID tokens. */
  auth?: AuthConfig;
  /** Consumer group; default jit-approval-gate. */
  groupId?: string;
  /** Reconciliation with GitLab (missed webhooks): every this many ms after the run at start; default 5 min, 0 = at start only. */
  reconcileIntervalMs?: number;
  /** Oldest merge reconciliation looks at; default 7 days. */
  reconcileLookbackMs?: number;
}

export interface GateServer {
  /** The public listener: GET /v1/catalog, GET /v1/keys. */
  app: FastifyInstance;
  /** /healthz, /readyz, /metrics: listen on the ops address; closed with `app`. */
  ops: FastifyInstance;
}

export async function buildGateServer(opts: GateServerOptions): Promise<GateServer> {
  const { logger } = opts;
  // GITLAB_TOKEN_FILE is re-read when rotated; every call asks for the token in force
  const token = openGitlabToken(opts.gitlab, logger);
  try {
    const gitlab = createGitlabClient({ url: opts.gitlab.url, token: gitlabClientToken(token), fetch: opts.gitlab.fetch, logger });
    return await composeGate(opts, gitlab, () => token.close());
  } catch (err) {
    token.close();
    throw err;
  }
}

async function composeGate(opts: GateServerOptions, gitlab: GitlabClient, closeToken: () => void): Promise<GateServer> {
  const { logger } = opts;
  // Resolve the project path to its id and the token to its user once, at boot.
  const project = await gitlab.projects.show(opts.elevationsProject);
  const botUsername = opts.botUsername ?? (await gitlab.users.current()).username;
  const policyStore = createPolicyStore({ gitlab, projectId: project.id, substrates: opts.substrates, logger, ...(opts.policyPin ? { pin: opts.policyPin } : {}) });
  const registry = createRegistry({ defaultMetrics: true });
  // The gate starts in fastify's onReady (rebuild from the log, then join jit.gitlab.v1's consumer
  // group). Restarted right after a kill -9, the join waits until the killed member's Kafka session
  // expires (30 s), past fastify's default 10 s: no timeout here, start is bounded by the gate's own
  // retry budgets (startRetryMs per step) and by the supervisor's startup probe.
  const app = Fastify({ loggerInstance: logger, forceCloseConnections: 'idle', pluginTimeout: 0 });
  // GET /v1/catalog and /v1/keys need a caller: a GitLab token of theirs or a GitLab CI ID token
  // GitLab's answers about tokens and group members are reused as long as JIT_AUTH_CACHE_TTL_MS says
  const authTtl = opts.auth?.cacheTtlMs ?? 60_000;
  await app.register(authPlugin, {
    resolver: createCallerResolver({
      gitlabUrl: opts.gitlab.url,
      ...(opts.auth?.audience ? { audience: opts.auth.audience } : {}),
      allowedProjects: allowedCiProjects(opts.auth, project.pathWithNamespace),
      userById: (id) => gitlab.users.show(id),
      cacheTtlMs: authTtl,
      ...(opts.gitlab.fetch ? { fetch: opts.gitlab.fetch } : {}),
      logger,
    }),
    registry,
  });
  const catalogAccess = createElevationAccess({
    store: policyStore,
    resolveGroup: cachedGroupResolver(createGroupResolver(gitlab, logger), { ttlMs: authTtl }),
    viewTtlMs: Math.min(5000, authTtl),
    botUsername,
  });
  app.addHook('onClose', async () => closeToken());
  await app.register(signingKeysPlugin, { keys: [{ key: opts.signer.publicKey, roles: ['gate'] }] });
  await app.register(gatePlugin, {
    bus: createSigningBus(opts.bus, opts.signer, [TOPIC_ELEVATIONS], createChainHeads()),
    gateKeys: createEventVerifier([opts.signer.publicKey, ...(opts.trustedGateKeys ?? [])]),
    gitlab,
    policyStore,
    logger,
    botUsername,
    registry,
    catalogAccess,
    ...(opts.groupId ? { groupId: opts.groupId } : {}),
    ...(opts.policyRefreshMs !== undefined ? { policyRefreshMs: opts.policyRefreshMs } : {}),
    ...(opts.reconcileIntervalMs !== undefined ? { reconcileIntervalMs: opts.reconcileIntervalMs } : {}),
    ...(opts.reconcileLookbackMs !== undefined ? { reconcileLookbackMs: opts.reconcileLookbackMs } : {}),
  });
  const readiness = () => {
    const policy = policyStore.status();
    return {
      ready: app.gate.isReady() && policyStore.peek() !== undefined,
      detail: {
        bus: opts.bus.isReady(),
        policy: {
          ok: policy.ok,
          version: policy.version,
          error: policy.error?.code,
          ...(policy.ratified
            ? { ratified: { how: policy.ratified.how, at: policy.ratified.ratifiedAt, by: policy.ratified.approvers, ...(policy.ratified.mrIid ? { mrIid: policy.ratified.mrIid } : {}) } }
            : {}),
          ...(policy.unratified ? { unratified: policy.unratified.version } : {}),
        },
      },
    };
  };
  const ops = createOpsServer({ registry, logger, closeWith: app as unknown as FastifyInstance, readiness });
  return { app: app as unknown as FastifyInstance, ops };
}
