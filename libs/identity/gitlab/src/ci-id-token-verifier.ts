// GitLab CI ID tokens (a job's `id_tokens:`, OIDC JWTs signed by the GitLab instance) → the user
// who runs the job. Verified with jose against the keys GitLab publishes (its
// /.well-known/openid-configuration names the jwks_uri; jose fetches and caches the JWKS and
// refetches once, with a cooldown, for an unknown key id): RS256 only, issuer = the GitLab URL,
// audience = jit's own, exp and nbf checked. Keys that cannot be fetched make the caller wait
// (503), never pass.
import { createRemoteJWKSet, customFetch, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { JitError } from '@jit/errors';
import type { OidcDiscovery } from '@jit/gitlab';
import { AuthIdTokenInvalid, AuthUnavailable, type Caller } from '@jit/identity-contract';

/** GitLab signs ID tokens with RS256; nothing else is accepted (no `none`, no HS256 with a public key as secret). */
export const ID_TOKEN_ALGORITHMS = ['RS256'];

export interface CiIdTokenVerifierOptions {
  /** The GitLab base URL: the only issuer accepted. */
  gitlabUrl: string;
  /** The `aud` a job sets for jit (`id_tokens: { JIT_ID_TOKEN: { aud: <this> } }`). */
  audience: string;
  oidcDiscovery: () => Promise<OidcDiscovery>;
  /** Fetch for the JWKS (tests); default global fetch. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Clock skew tolerated on exp/nbf/iat, seconds. Default 5. */
  clockToleranceSeconds?: number;
  /** How long fetched keys are used before fetching again, ms. Default 10 min. */
  keysMaxAgeMs?: number;
}

export type CiIdTokenVerifier = (token: string) => Promise<Caller>;

export function createCiIdTokenVerifier(options: CiIdTokenVerifierOptions): CiIdTokenVerifier {
  const issuer = options.gitlabUrl.replace(/\/+$/, '');
  let keys: Promise<JWTVerifyGetKey> | undefined;
  const keySet = (): Promise<JWTVerifyGetKey> => {
    keys ??= options.oidcDiscovery().then((d) => {
      if (d.issuer.replace(/\/+$/, '') !== issuer) throw AuthUnavailable(`GitLab's OpenID configuration names another issuer than GITLAB_URL (${issuer})`);
      const jwks = new URL(d.jwksUri);
      // the keys must come from the GitLab jit is configured with, never from wherever a document points
      if (jwks.origin !== new URL(issuer).origin) throw AuthUnavailable(`GitLab's jwks_uri is not on ${new URL(issuer).origin}`);
      return createRemoteJWKSet(jwks, {
        timeoutDuration: 5000,
        cooldownDuration: 30_000,
        cacheMaxAge: options.keysMaxAgeMs ?? 600_000,
        ...(options.fetch ? { [customFetch]: options.fetch as never } : {}),
      });
    });
    // a failed discovery is tried again on the next token
    keys.catch(() => (keys = undefined));
    return keys;
  };
  return async (token) => {
    let getKey: JWTVerifyGetKey;
    try {
      getKey = await keySet();
    } catch (err) {
      throw AuthUnavailable.is(err) ? err : AuthUnavailable("GitLab's OpenID configuration could not be read", { cause: err });
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer,
        audience: options.audience,
        algorithms: ID_TOKEN_ALGORITHMS,
        clockTolerance: options.clockToleranceSeconds ?? 5,
        requiredClaims: ['exp', 'iat', 'user_login', 'project_path'],
      }));
    } catch (err) {
      throw fromJose(err);
    }
    return callerFromClaims(payload);
  };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : undefined);

function callerFromClaims(p: JWTPayload): Caller {
  const username = str(p['user_login']);
  const projectPath = str(p['project_path']);
  if (!username || !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/.test(username)) throw AuthIdTokenInvalid('its user_login is not a GitLab username');
  if (!projectPath) throw AuthIdTokenInvalid('it names no project_path');
  const userId = Number(p['user_id']);
  const opt = (k: string) => str(p[k]);
  return {
    username,
    ...(Number.isSafeInteger(userId) && userId > 0 ? { userId } : {}),
    // GitLab issues ID tokens for the user who runs the job; its bot flag is not a claim
    bot: false,
    via: 'ci-id-token',
    ci: {
      projectPath,
      ...(opt('project_id') ? { projectId: opt('project_id') } : {}),
      ...(opt('ref') ? { ref: opt('ref') } : {}),
      ...(opt('ref_type') ? { refType: opt('ref_type') } : {}),
      // GitLab sends the string "true" or "false"; anything else is not a protected ref
      ...(opt('ref_protected') !== undefined ? { refProtected: p['ref_protected'] === 'true' } : {}),
      ...(opt('pipeline_id') ? { pipelineId: opt('pipeline_id') } : {}),
      ...(opt('job_id') ? { jobId: opt('job_id') } : {}),
      ...(opt('namespace_path') ? { namespacePath: opt('namespace_path') } : {}),
    },
  };
}

/** jose's verdict as our catalogue, in words that name the check, never a claim's value. */
function fromJose(err: unknown): JitError {
  if (err instanceof JitError) return err;
  const code = err instanceof joseErrors.JOSEError ? err.code : undefined;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return AuthIdTokenInvalid('it has expired');
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const e = err as InstanceType<typeof joseErrors.JWTClaimValidationFailed>;
      const why: Record<string, string> = {
        nbf: 'it is not valid yet (nbf)',
        iat: 'its issue time is in the future (iat)',
        aud: 'its audience (aud) is not this jit',
        iss: 'it was issued by another GitLab (iss)',
      };
      return AuthIdTokenInvalid(e.reason === 'missing' ? `it lacks the ${e.claim} claim` : (why[e.claim] ?? `its ${e.claim} claim is not acceptable`));
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return AuthIdTokenInvalid(`its algorithm is not ${ID_TOKEN_ALGORITHMS.join(' or ')}`);
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return AuthIdTokenInvalid("its signature does not verify with GitLab's keys");
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return AuthIdTokenInvalid('it is signed by a key this GitLab does not publish');
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
    case 'ERR_JWK_INVALID':
      return AuthIdTokenInvalid('it is not a well-formed signed JWT');
    default:
      // ERR_JWKS_TIMEOUT, a non-200 or unreadable JWKS, a network error: the keys are not to be had now
      return AuthUnavailable("GitLab's signing keys could not be fetched", { cause: err });
  }
}
