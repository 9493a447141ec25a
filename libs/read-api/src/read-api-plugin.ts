// The read API over the ledger: GET /v1/elevations (filters), /v1/elevations/:id (state and
// timeline), /v1/elevations/:id/credential (the sealed blob only, while the grant is live).
// Every route runs behind the auth plugin (request.caller) and answers from the caller's view: a
// requester sees their own elevations and alone fetches their credential, an approver what they
// may approve, an auditor everything. What the caller may not see is a 404 with the very body of
// an unknown id, so ids cannot be probed. Each credential served is recorded on the log first.
import type {} from '@fastify/swagger'; // schema.summary for the OpenAPI document
import fp from 'fastify-plugin';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { ELEVATION_ID_PATTERN } from '@jit/contracts';
import { JitError } from '@jit/errors';
import { callerOf, sameUser, type Caller } from '@jit/identity-contract';
import { ELEVATION_STATES, type ElevationState, type Ledger } from '@jit/ledger';
import type { ElevationAccess } from '@jit/policy';
import { BadQuery, CredentialEnded, CredentialNotGranted, CredentialUnrecorded, ElevationNotFound } from './errors';

export interface ReadApiOptions {
  ledger: Ledger;
  /** Who may see which elevation (the policy in force). */
  access: ElevationAccess;
  /**
   * Records a credential fetch (elevation.credential.fetched on the log) before the credential is
   * served; a failure answers 503 and serves nothing, so no fetch goes unrecorded.
   */
  recordFetch: (elevation: ElevationState, caller: Caller) => Promise<void>;
  /** Serve /v1/elevations and /v1/elevations/:id (default true). */
  elevations?: boolean;
  /** Serve /v1/elevations/:id/credential (default true). */
  credential?: boolean;
}

const idParam = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: ELEVATION_ID_PATTERN } },
} as const;

const errorBody = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
} as const;

const summaryProps = {
  id: { type: 'string' },
  state: { type: 'string', enum: [...ELEVATION_STATES] },
  projectId: { type: 'integer' },
  mrIid: { type: 'integer' },
  mrUrl: { type: 'string' },
  requester: { type: 'string' },
  target: { type: 'string' },
  scope: { type: 'string' },
  tier: { type: 'string' },
  ttlSeconds: { type: 'integer' },
  breakGlass: { type: 'boolean' },
  substrate: { type: 'string' },
  grantId: { type: 'string' },
  issuedAt: { type: 'string' },
  expiresAt: { type: 'string' },
  revokedAt: { type: 'string' },
  revokeVerified: { type: 'boolean' },
  latenessMs: { type: 'integer' },
  createdAt: { type: 'string' },
  updatedAt: { type: 'string' },
} as const;

/** The public view: everything but the sealed blob (served by its own route). */
function view(e: ElevationState): Omit<ElevationState, 'sealedCredential' | 'credentialSignature'> {
  const { sealedCredential: _omit, credentialSignature: _sig, ...rest } = e;
  return rest;
}

function sendError(reply: FastifyReply, err: JitError): FastifyReply {
  return reply.code(err.statusCode).send({ code: err.code, message: err.message });
}

const plugin: FastifyPluginAsync<ReadApiOptions> = async (app, options) => {
  const { ledger, access } = options;
  const viewOf = (caller: Caller) => access.viewOf(caller);

  if (options.elevations !== false) {
    app.get<{ Querystring: { state?: string; target?: string; requester?: string; since?: string; until?: string; limit?: number } }>(
      '/v1/elevations',
      {
        schema: {
          summary: 'List elevations (the audit trail), oldest first',
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: {
              state: { type: 'string', enum: [...ELEVATION_STATES] },
              target: { type: 'string', maxLength: 128 },
              requester: { type: 'string', maxLength: 255 },
              since: { type: 'string', format: 'date-time' },
              until: { type: 'string', format: 'date-time' },
              limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
            },
          },
          response: {
            200: { type: 'object', properties: { elevations: { type: 'array', items: { type: 'object', properties: summaryProps } } } },
            400: errorBody,
          },
        },
      },
      async (req, reply) => {
        const q = req.query;
        if (q.since && q.until && Date.parse(q.since) > Date.parse(q.until)) return sendError(reply, BadQuery('since is after until'));
        const reader = await viewOf(callerOf(req));
        const all = ledger.list({
          state: q.state as ElevationState['state'] | undefined,
          target: q.target,
          requester: q.requester,
          since: q.since,
          until: q.until,
        });
        const list = reader.auditor ? all : all.filter((e) => reader.sees(e));
        return { elevations: list.slice(-(q.limit ?? 1000)).map(view) };
      },
    );

    app.get<{ Params: { id: string } }>(
      '/v1/elevations/:id',
      {
        schema: {
          summary: 'One elevation: current state and full event timeline',
          params: idParam,
          response: {
            200: {
              type: 'object',
              additionalProperties: true,
              properties: {
                ...summaryProps,
                timeline: {
                  type: 'array',
                  items: { type: 'object', properties: { type: { type: 'string' }, id: { type: 'string' }, time: { type: 'string' }, summary: { type: 'string' } } },
                },
              },
            },
            404: errorBody,
          },
        },
      },
      async (req, reply) => {
        // one answer for "no such id" and "not yours to see", reached the same way: the caller's view
        // is worked out whether or not the id exists (else the time taken tells them apart)
        const reader = await viewOf(callerOf(req));
        const e = ledger.get(req.params.id);
        if (!e || !reader.sees(e)) return sendError(reply, ElevationNotFound(req.params.id));
        return view(e);
      },
    );
  }

  if (options.credential !== false) {
    app.get<{ Params: { id: string } }>(
      '/v1/elevations/:id/credential',
      {
        schema: {
          summary: 'The sealed credential (age ciphertext for the requester) while the grant is live',
          params: idParam,
          response: {
            200: {
              type: 'object',
              properties: {
                elevationId: { type: 'string' },
                grantId: { type: 'string' },
                substrate: { type: 'string' },
                expiresAt: { type: 'string' },
                sealedCredential: { type: 'string' },
                credentialSignature: {
                  type: 'object',
                  description: "The issuer's Ed25519 signature of (elevation id, grant id, expiry, sha256 of sealedCredential); key in GET /v1/keys",
                  properties: { kid: { type: 'string' }, signature: { type: 'string' } },
                },
              },
            },
            404: errorBody,
            409: errorBody,
            410: errorBody,
            503: errorBody,
          },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const e = ledger.get(req.params.id);
        // the sealed credential is the requester's alone (it is sealed to their key); anyone else: as if there were none
        if (!e || !sameUser(e.requester, caller.username)) return sendError(reply, ElevationNotFound(req.params.id));
        if (e.state === 'revoked' || e.state === 'expired') return sendError(reply, CredentialEnded(e.id, e.state));
        if (e.state !== 'granted' || !e.sealedCredential) return sendError(reply, CredentialNotGranted(e.id, e.state));
        try {
          await options.recordFetch(e, caller);
        } catch (err) {
          req.log.warn({ elevationId: e.id, err: { code: (err as { code?: string }).code, name: (err as Error)?.name } }, 'credential fetch could not be recorded; not served');
          return sendError(reply.header('retry-after', '5'), CredentialUnrecorded(e.id));
        }
        return {
          elevationId: e.id,
          grantId: e.grantId,
          substrate: e.substrate,
          expiresAt: e.expiresAt,
          sealedCredential: e.sealedCredential,
          ...(e.credentialSignature ? { credentialSignature: e.credentialSignature } : {}),
        };
      },
    );
  }
};

export const readApiPlugin = fp(plugin, { name: 'jit-read-api', fastify: '5.x' });
