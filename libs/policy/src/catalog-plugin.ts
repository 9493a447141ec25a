// Fastify plugin serving GET /v1/catalog from the policy in force (composable by apps/jit).
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { buildCatalog, type Catalog } from './catalog';
import type { Caller } from '@jit/identity-contract';
import type { GroupResolver } from './approvers';
import type { ElevationAccess } from './elevation-access';
import type { PolicyStore } from './policy-store';

/** How the version in force came into force (GET /v1/catalog `ratified`). */
export interface CatalogRatification {
  version: string;
  /** `merge`: a verified policy MR; `pin`: the operator's JIT_POLICY_PIN of the first policy. */
  how: 'merge' | 'pin';
  /** When jit recorded the ratification. */
  at: string;
  /** The policyApprovers whose approvals were verified (empty for a pin). */
  by: string[];
  /** Who merged the ratifying MR. */
  mergedBy?: string;
  commit: string;
  mrIid?: number;
}

/** What GET /v1/catalog answers: the catalog of the ratified policy in force, and how it got there. */
export type CatalogResponse = Catalog & {
  ratified?: CatalogRatification;
  pinned?: string;
  /** policy.yaml on the default branch is another version, never adopted (unratified or invalid). */
  latestPolicyRejected?: { version?: string; commit?: string; code?: string; message?: string; problems: unknown[] };
};

export interface CatalogPluginOptions {
  store: Pick<PolicyStore, 'peek' | 'status'>;
  resolveGroup: GroupResolver;
  /** How long a built catalog is reused for the same policy version, ms. Default 30 s. */
  cacheMs?: number;
  /**
   * With it, only an auditor sees who the approvers are: anyone else gets approver groups only
   * (no users, no resolved eligible approvers, no ratifying approvers), so the catalog does not
   * publish who is in a private GitLab group. Without it (tests of the catalog alone): everything.
   */
  access?: Pick<ElevationAccess, 'viewOf'>;
}

/**
 * The catalog as a caller who is not an auditor sees it: approver identities reduced to group
 * names, and of the users with a registered recipient key only the caller (`self`) if listed.
 */
export function catalogForReader(full: CatalogResponse, self?: string): CatalogResponse {
  const { ratified, ...rest } = full;
  const me = self?.toLowerCase();
  return {
    ...rest,
    recipientUsers: full.recipientUsers.filter((u) => me !== undefined && u.toLowerCase() === me),
    entries: full.entries.map(
      ({ eligibleApprovers: _e, ...entry }) =>
        ({ ...entry, approvers: { anyHuman: entry.approvers.anyHuman, groups: [...entry.approvers.groups], users: [] } }) as unknown as CatalogResponse['entries'][number],
    ),
    ...(full.breakGlass ? { breakGlass: (({ eligibleApprovers: _e, requesters: _r, ...bg }) => bg)(full.breakGlass) as unknown as NonNullable<CatalogResponse['breakGlass']> } : {}),
    ...(ratified ? { ratified: (({ by: _b, mergedBy: _m, ...r }) => ({ ...r, by: [] }))(ratified) } : {}),
  };
}

const plugin: FastifyPluginAsync<CatalogPluginOptions> = async (app, opts) => {
  const cacheMs = opts.cacheMs ?? 30_000;
  let cached: { version: string; at: number; catalog: Catalog } | undefined;
  app.get('/v1/catalog', async (req, reply): Promise<CatalogResponse | undefined> => {
    const lp = opts.store.peek();
    if (!lp) {
      const st = opts.store.status();
      return reply.code(503).send({
        code: st.error?.code ?? 'JIT_ERR_POLICY_NOT_LOADED',
        message: st.error?.message ?? 'no policy is in force yet',
        problems: st.problems,
        ...(st.pinned ? { pinned: st.pinned } : {}),
      });
    }
    if (!cached || cached.version !== lp.version || Date.now() - cached.at > cacheMs) {
      cached = { version: lp.version, at: Date.now(), catalog: await buildCatalog(lp.policy, lp.version, opts.resolveGroup) };
    }
    const st = opts.store.status();
    const r = st.version === lp.version ? st.ratified : undefined;
    const caller = (req as { caller?: Caller }).caller;
    const redact = opts.access && caller ? !(await opts.access.viewOf(caller)).auditor : false;
    const shape = redact ? (c: CatalogResponse) => catalogForReader(c, caller?.username) : (c: CatalogResponse) => c;
    return shape({
      ...cached.catalog,
      // The version in force is the last ratified one: say when, how and by whom.
      ...(r
        ? {
            ratified: {
              version: r.version,
              how: r.how,
              at: r.ratifiedAt,
              by: r.approvers,
              commit: r.commitSha,
              ...(r.mrIid ? { mrIid: r.mrIid } : {}),
              ...(r.mergedBy ? { mergedBy: r.mergedBy } : {}),
            },
          }
        : {}),
      ...(st.pinned ? { pinned: st.pinned } : {}),
      // A policy.yaml on the default branch that is not in force (unratified or invalid) is reported, never served.
      ...(st.ok
        ? {}
        : {
            latestPolicyRejected: {
              version: st.latestVersion,
              ...(st.unratified ? { commit: st.unratified.lastCommitId } : {}),
              ...(st.error ? { code: st.error.code, message: st.error.message } : {}),
              problems: st.problems,
            },
          }),
    });
  });
};

export const catalogPlugin = fp(plugin, { name: 'jit-catalog', fastify: '5.x' });
