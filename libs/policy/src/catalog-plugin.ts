// Fastify plugin serving GET /v1/catalog from the policy in force (composable by apps/jit).
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { buildCatalog, type Catalog } from './catalog';
import type { GroupResolver } from './approvers';
import type { PolicyStore } from './policy-store';

export interface CatalogPluginOptions {
  store: Pick<PolicyStore, 'peek' | 'status'>;
  resolveGroup: GroupResolver;
  /** How long a built catalog is reused for the same policy version, ms. Default 30 s. */
  cacheMs?: number;
}

const plugin: FastifyPluginAsync<CatalogPluginOptions> = async (app, opts) => {
  const cacheMs = opts.cacheMs ?? 30_000;
  let cached: { version: string; at: number; catalog: Catalog } | undefined;
  app.get('/v1/catalog', async (_req, reply) => {
    const lp = opts.store.peek();
    if (!lp) {
      const st = opts.store.status();
      return reply.code(503).send({
        code: 'JIT_ERR_POLICY_NOT_LOADED',
        message: 'no valid policy is in force yet; fix policy.yaml on the default branch',
        problems: st.problems,
      });
    }
    if (!cached || cached.version !== lp.version || Date.now() - cached.at > cacheMs) {
      cached = { version: lp.version, at: Date.now(), catalog: await buildCatalog(lp.policy, lp.version, opts.resolveGroup) };
    }
    const st = opts.store.status();
    return {
      ...cached.catalog,
      // A newer policy.yaml that failed validation is reported, while the last good one is served.
      ...(st.ok ? {} : { latestPolicyRejected: { version: st.latestVersion, problems: st.problems } }),
    };
  });
};

export const catalogPlugin = fp(plugin, { name: 'jit-catalog', fastify: '5.x' });
