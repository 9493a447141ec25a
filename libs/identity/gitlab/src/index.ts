// @jit/identity: who is calling a jit API, from a GitLab token (GET /user, cached by its hash) or
// a GitLab CI ID token (JWT verified against GitLab's published keys), and the fastify plugin that
// requires one on every route but the webhook. Contract types: @jit/identity-contract.
export { authPlugin, WEBHOOK_ROUTE } from './auth-plugin';
export type { AuthPluginOptions, PublicRoute } from './auth-plugin';
export { createCallerResolver } from './caller-resolver';
export type { CallerResolverOptions, GitlabCallerResolver } from './caller-resolver';
export { bearerToken, isJwtShaped, MAX_AUTHORIZATION_BYTES } from './bearer';
export { createCiIdTokenVerifier, ID_TOKEN_ALGORITHMS } from './ci-id-token-verifier';
export type { CiIdTokenVerifier, CiIdTokenVerifierOptions } from './ci-id-token-verifier';
export { ciProjectAllowed, createCiJobCheck } from './ci-job-checks';
export type { CiJobCheck, CiJobCheckOptions, GitlabUserStatus } from './ci-job-checks';
export { createGitlabTokenResolver, tokenDigest } from './gitlab-token-resolver';
export type { GitlabTokenResolver, GitlabTokenResolverOptions } from './gitlab-token-resolver';
