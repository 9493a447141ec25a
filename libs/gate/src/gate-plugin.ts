// gatePlugin: the approval gate as a fastify plugin (for apps/approval-gate and apps/jit). Serves
// GET /v1/catalog, starts the gate (state rebuilt from jit.elevations.v1) once the server is
// ready and stops it on close. `app.gate` exposes the running gate.
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { catalogPlugin, type ElevationAccess } from '@jit/policy';
import { createGate, type Gate, type GateOptions } from './approval-gate';

declare module 'fastify' {
  interface FastifyInstance {
    gate: Gate;
  }
}

export type GatePluginOptions = GateOptions & {
  /** Serve GET /v1/catalog (default true). */
  catalog?: boolean;
  /** Who sees approver identities in the catalog (auditors); without it, everyone does. */
  catalogAccess?: Pick<ElevationAccess, 'viewOf'>;
};

const plugin: FastifyPluginAsync<GatePluginOptions> = async (app, opts) => {
  const { catalog, catalogAccess, ...gateOptions } = opts;
  const gate = createGate(gateOptions);
  app.decorate('gate', gate);
  if (catalog !== false) {
    await app.register(catalogPlugin, { store: opts.policyStore, resolveGroup: gate.resolveGroup, ...(catalogAccess ? { access: catalogAccess } : {}) });
  }
  app.addHook('onReady', async () => {
    await gate.start();
  });
  app.addHook('onClose', async () => {
    await gate.stop();
  });
};

export const gatePlugin = fp(plugin, { name: 'jit-approval-gate', fastify: '5.x' });
