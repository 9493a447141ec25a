// GET /v1/keys: the Ed25519 public keys this process signs events and credentials with, as a JWK
// Set (RFC 7517/8037). Operators copy a key's `x` into the trust settings of the consumers
// (JIT_TRUSTED_GATE_KEYS, JIT_TRUSTED_ISSUER_KEYS); the CLI pins the issuer's at first use.
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import type { PublicSigningKey } from '@jit/contracts';

export type SigningRole = 'gate' | 'issuer' | 'revoker';

export interface SigningKeysOptions {
  keys: ReadonlyArray<{ key: PublicSigningKey; roles: readonly SigningRole[] }>;
}

const plugin: FastifyPluginAsync<SigningKeysOptions> = async (app, options) => {
  const body = {
    keys: options.keys.map(({ key, roles }) => ({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig', kid: key.kid, x: key.x, roles: [...roles] })),
  };
  app.get(
    '/v1/keys',
    {
      schema: {
        summary: 'Public keys this process signs events and sealed credentials with (JWK Set)',
        response: {
          200: {
            type: 'object',
            properties: {
              keys: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    kty: { type: 'string' },
                    crv: { type: 'string' },
                    alg: { type: 'string' },
                    use: { type: 'string' },
                    kid: { type: 'string' },
                    x: { type: 'string' },
                    roles: { type: 'array', items: { type: 'string', enum: ['gate', 'issuer', 'revoker'] } },
                  },
                },
              },
            },
          },
        },
      },
    },
    async () => body,
  );
};

export const signingKeysPlugin = fp(plugin, { name: 'jit-signing-keys', fastify: '5.x' });
