// CI ID tokens as GitLab issues them to a job's `id_tokens:` (lib/gitlab/ci/jwt.rb, jwt_v2.rb):
// RS256 with the instance's CI signing key, `kid` = the key's RFC 7638 thumbprint, the claim set
// of GitLab's "OpenID Connect (OIDC) Authentication Using ID Tokens" page. The sandbox runs no
// pipelines, so a token is issued for a job that runs as `user` on a branch of `project`, with
// what GitLab checks before it runs one: an active user who may run a pipeline on that ref.
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { SandboxBadArgument, SandboxNotFound } from './errors';
import type { Project, User } from './model';
import { ACCESS, type SandboxState } from './state';

/** GitLab's `Gitlab::Ci::Jwt::DEFAULT_EXPIRE_TIME`: the token lives as long as the job's timeout, else 5 minutes. */
export const CI_ID_TOKEN_DEFAULT_TTL_SECONDS = 300;
/** GitLab's `NOT_BEFORE_TIME`: nbf is 5 s before iat. */
const NOT_BEFORE_SECONDS = 5;

/** The instance's CI JWT signing key (private RSA JWK with its kid) and the job/pipeline id counters. */
export interface CiSigning {
  key: JWK & { kid: string; kty: 'RSA'; n: string; e: string; d: string };
  nextPipelineId: number;
  nextJobId: number;
}

/** A fresh 2048-bit RSA key, as GitLab generates `ci_jwt_signing_key`. */
export async function createCiSigning(): Promise<CiSigning> {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n!, e: jwk.e! }, 'sha256');
  return { key: { ...jwk, kid } as CiSigning['key'], nextPipelineId: 1, nextJobId: 1 };
}

const creating = new WeakMap<SandboxState, Promise<CiSigning>>();
/**
 * The state's CI signing key, created on first use (once, however many callers race) and saved
 * with the state: tokens issued before a restart still verify after it.
 */
export function ciSigning(state: SandboxState): Promise<CiSigning> {
  if (state.ci) return Promise.resolve(state.ci);
  let pending = creating.get(state);
  if (!pending) {
    pending = createCiSigning().then((created) => {
      state.ci ??= created;
      state.changed();
      return state.ci;
    });
    creating.set(state, pending);
  }
  return pending;
}

/** The public half as GitLab's JwksController publishes it: kty, kid, e, n, use, alg. */
export function publicJwk(signing: CiSigning): { kty: 'RSA'; kid: string; e: string; n: string; use: 'sig'; alg: 'RS256' } {
  const { kty, kid, e, n } = signing.key;
  return { kty, kid, e, n, use: 'sig', alg: 'RS256' };
}

const imported = new WeakMap<CiSigning['key'], ReturnType<typeof importJWK>>();
function privateKey(signing: CiSigning): ReturnType<typeof importJWK> {
  let key = imported.get(signing.key);
  if (!key) {
    key = importJWK({ ...signing.key, alg: 'RS256' }, 'RS256');
    imported.set(signing.key, key);
  }
  return key;
}

export interface CiIdTokenInput {
  /** Username of the user the job runs as (who pushed or triggered the pipeline). */
  user: string;
  /** The project the pipeline runs in: full path or numeric id. */
  project: string;
  /** The `aud` of the job's `id_tokens:` entry. */
  aud: string | string[];
  /** The branch the pipeline runs for (default: the project's default branch). Tags are not modelled. */
  ref?: string;
  /** `push` by default; any of GitLab's pipeline sources (`web`, `schedule`, `merge_request_event`, …). */
  pipelineSource?: string;
  /** The job's `environment:`, when it has one. */
  environment?: { name: string; tier?: 'production' | 'staging' | 'testing' | 'development' | 'other'; action?: 'start' | 'prepare' | 'stop' | 'verify' | 'access'; protected?: boolean };
  /** The runner that picked the job (default: self-hosted runner 1). */
  runner?: { id: number; environment?: 'gitlab-hosted' | 'self-hosted' };
  /** The job's timeout; the token expires with it (default 5 minutes, as GitLab). */
  ttlSeconds?: number;
}

/** Claims of a CI ID token, in the order GitLab writes them. */
export interface CiIdTokenClaims {
  [claim: string]: unknown;
}

/** GitLab's `Environment#guess_tier`: a tier from the environment's name. */
function guessTier(name: string): string {
  if (/(dev|review|trunk)/i.test(name)) return 'development';
  if (/(test|tst|int|ac(ce|)pt|qa|qc|control|quality)/i.test(name)) return 'testing';
  if (/(st(a|)g|mod(e|)l|pre|demo|non)/i.test(name)) return 'staging';
  if (/(pr(o|)d|live)/i.test(name)) return 'production';
  return 'other';
}

const ACCESS_NAMES: Record<number, string> = { 10: 'guest', 15: 'planner', 20: 'reporter', 30: 'developer', 40: 'maintainer', 50: 'owner' };

function resolve(state: SandboxState, input: CiIdTokenInput): { user: User; project: Project; ref: string; sha: string } {
  const user = state.userByUsername(input.user);
  if (!user) throw SandboxNotFound(`user "${input.user}"`);
  if (user.state !== 'active') throw SandboxBadArgument(`user "${user.username}" is ${user.state}; GitLab runs no job for a user who is not active`);
  const project = state.projectByPath(input.project) ?? (/^\d+$/.test(input.project) ? state.projects.find((p) => p.id === Number(input.project)) : undefined);
  if (!project) throw SandboxNotFound(`project "${input.project}"`);
  const ref = input.ref ?? project.defaultBranch;
  const sha = state.branchHead(project, ref);
  if (!sha) throw SandboxNotFound(`branch "${ref}" in project "${project.pathWithNamespace}"`);
  // GitLab: running a pipeline needs Developer; on a protected branch, the right to push or merge to it.
  const allowed = state.accessLevel(user, project) >= ACCESS.developer && (!state.protectedBranch(project, ref) || state.canPush(user, project, ref) || state.canMergeInto(user, project, ref));
  if (!allowed) throw SandboxBadArgument(`user "${user.username}" may not run a pipeline for "${ref}" in "${project.pathWithNamespace}"`);
  return { user, project, ref, sha };
}

function audOf(aud: CiIdTokenInput['aud']): string | string[] {
  const list = Array.isArray(aud) ? aud : [aud];
  if (list.length === 0 || list.some((a) => typeof a !== 'string' || a.length === 0 || a.length > 2048))
    throw SandboxBadArgument('aud must be a non-empty string (or a list of them), as in id_tokens: <NAME>: aud:');
  return Array.isArray(aud) ? list : list[0]!;
}

/**
 * An ID token for a job of `input.user` in `input.project`, signed with the sandbox's CI key.
 * `iss` is the sandbox's instance URL (its discovery document's issuer).
 */
export async function issueCiIdToken(sandbox: { readonly state: SandboxState }, input: CiIdTokenInput): Promise<string> {
  const { state } = sandbox;
  const { user, project, ref, sha } = resolve(state, input);
  const signing = await ciSigning(state);
  const aud = audOf(input.aud);
  const ttl = input.ttlSeconds ?? CI_ID_TOKEN_DEFAULT_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > 7 * 24 * 3600) throw SandboxBadArgument('ttlSeconds must be an integer from 1 to 604800 (a job timeout)');
  const namespace = state.namespaceOf(project);
  const issuer = state.instanceUrl;
  const now = Math.floor(state.now().getTime() / 1000);
  const pipelineId = signing.nextPipelineId++;
  const jobId = signing.nextJobId++;
  state.changed();
  const refPath = `refs/heads/${ref}`;
  const env = input.environment;
  const projectClaims = (prefix: string) => ({
    [`${prefix}project_id`]: String(project.id),
    [`${prefix}project_path`]: project.pathWithNamespace,
    [`${prefix}namespace_id`]: String(namespace.id),
    [`${prefix}namespace_path`]: namespace.fullPath,
  });
  const claims: CiIdTokenClaims = {
    ...projectClaims(''),
    user_id: String(user.id),
    user_login: user.username,
    user_email: user.email,
    user_access_level: ACCESS_NAMES[state.accessLevel(user, project)] ?? null,
    ...projectClaims('job_'),
    pipeline_id: String(pipelineId),
    pipeline_source: input.pipelineSource ?? 'push',
    job_id: String(jobId),
    ref,
    ref_type: 'branch',
    ref_path: refPath,
    ref_protected: String(Boolean(state.protectedBranch(project, ref))),
    ...(env
      ? {
          environment: env.name,
          environment_protected: String(env.protected ?? false),
          deployment_tier: env.tier ?? guessTier(env.name),
          environment_action: env.action ?? 'start',
        }
      : {}),
    runner_id: input.runner?.id ?? 1,
    runner_environment: input.runner?.environment ?? 'self-hosted',
    sha,
    project_visibility: project.visibility,
    ci_config_ref_uri: `${new URL(issuer).host}/${project.pathWithNamespace}//.gitlab-ci.yml@${refPath}`,
    ci_config_sha: sha,
    jti: randomUUID(),
    iss: issuer,
    iat: now,
    nbf: now - NOT_BEFORE_SECONDS,
    exp: now + ttl,
    sub: `project_path:${project.pathWithNamespace}:ref_type:branch:ref:${ref}`,
    aud,
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.key.kid }).sign(await privateKey(signing));
}
