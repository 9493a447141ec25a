// Issue: AssumeRole for the grant, after checking the role has room to revoke it (and every other
// live grant) and writing the ledger entry ahead of the session. A second issue of the same grant
// supersedes the earlier attempts (denies them) and never extends the grant.
import { AssumeRoleCommand, type AssumeRoleCommandOutput } from '@aws-sdk/client-sts';
import { GetRoleCommand, type GetRoleCommandOutput } from '@aws-sdk/client-iam';
import { SubstrateInvalidScope, SubstrateRejected, SubstrateTtlTooLong, grantWindow, type IssueRequest, type Issued } from '@jit/substrates';
import { ROLE_TAG_LIMIT, STS_MIN_DURATION_SECONDS } from './config';
import { denyDocument } from './deny-policy';
import { AwsStsGrantExpired, AwsStsGrantRevoked, AwsStsIamLimit, AwsStsRoleNotAllowed, AwsStsTooManyAttempts } from './errors';
import { toHandle } from './grant-handle';
import { MAX_ATTEMPTS, sessionBaseName, sessionName, sourceIdentityFor } from './grant-names';
import type { AwsStsEnv } from './role-iam';
import { awsStsScopeSchema, parseRoleArn, sessionPolicyDocument, validateAwsStsScope } from './scope';

export async function issueGrant(env: AwsStsEnv, req: IssueRequest): Promise<Issued> {
  const { name, config, configuredRoles, seenRoles, iam, clients, log, margin } = env;
  if (typeof req?.grantId !== 'string' || req.grantId.length === 0 || req.grantId.length > 256) {
    throw SubstrateRejected(name, 'grantId must be a non-empty string of at most 256 characters');
  }
  if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 1) throw SubstrateRejected(name, 'ttlSeconds must be a positive integer');
  if (req.ttlSeconds > config.maxTtlSeconds) throw SubstrateTtlTooLong(name, req.ttlSeconds, config.maxTtlSeconds);
  const problems = validateAwsStsScope(req.scope, req.connection ?? undefined);
  if (problems.length > 0) throw SubstrateInvalidScope(name, problems.map((p) => `${p.path || '(scope)'}: ${p.message}`).join('; '));
  const scope = awsStsScopeSchema.parse(req.scope);
  if (configuredRoles.size > 0 && !configuredRoles.has(scope.roleArn)) throw AwsStsRoleNotAllowed(scope.roleArn, name);
  const { roleName } = parseRoleArn(scope.roleArn) as { roleName: string };
  seenRoles.add(scope.roleArn);

  const role = await iam.call<GetRoleCommandOutput>('get role', clients.iam, new GetRoleCommand({ RoleName: roleName }), roleName);
  const roleId = role.Role?.RoleId;
  if (!roleId) throw SubstrateRejected(name, 'get role: the answer carried no RoleId');
  const roleMax = role.Role?.MaxSessionDuration ?? 3600;
  const base = sessionBaseName(req.grantId);
  const t = env.now();
  // The grant's notAfter bounds the session: its expiry (when the revoker denies it) is never later,
  // and DurationSeconds only as long as STS allows (900 s at least; the deny covers the rest).
  const window = grantWindow(name, req, t);

  let duration = Math.max(window.seconds, STS_MIN_DURATION_SECONDS);
  if (duration > roleMax) throw SubstrateTtlTooLong(name, req.ttlSeconds, roleMax);

  let tags = await iam.readTags(roleName);
  let docs = await iam.readDocs(roleName);
  const previous = tags.ledger.get(base);
  if (previous?.state === 'revoked' || iam.isRevoked(docs, base)) throw AwsStsGrantRevoked(req.grantId, roleName);

  let attempt = 1;
  let expiresAt = window.expiresAt;
  if (previous) {
    // A retry of a grant already (maybe) issued: end the earlier sessions, keep the original expiry.
    if (previous.expiresAt.getTime() <= t.getTime()) throw AwsStsGrantExpired(req.grantId, previous.expiresAt.toISOString());
    attempt = previous.attempt + 1;
    if (attempt > MAX_ATTEMPTS) throw AwsStsTooManyAttempts(req.grantId, previous.attempt);
    if (previous.expiresAt.getTime() < expiresAt.getTime()) expiresAt = previous.expiresAt;
    duration = Math.max(Math.ceil((expiresAt.getTime() - t.getTime()) / 1000), STS_MIN_DURATION_SECONDS);
  }
  const natural = new Date(Math.max(previous?.sessionExpiresAt.getTime() ?? 0, t.getTime() + duration * 1000 + margin));

  // Room to revoke: never issue a session whose revoke (or any live grant's) could hit IAM's
  // per-role quotas — otherwise a requester with many cheap grants could make revocation fail.
  const fits = () => {
    const u = iam.usageOf(roleName, tags, docs, t.getTime(), { grantId: req.grantId, base, attempt, until: natural });
    const tagsOk = tags.ledger.has(base) || u.tags < ROLE_TAG_LIMIT;
    return { u, tagsOk, charsOk: u.inlineChars + u.managedChars + u.reservedChars + u.headroomChars <= u.inlineLimit + u.managedLimit };
  };
  let room = fits();
  if (!room.tagsOk || !room.charsOk) {
    await env.cleanupRole(roleName, t.getTime(), true);
    tags = await iam.readTags(roleName);
    docs = await iam.readDocs(roleName);
    room = fits();
  }
  if (!room.tagsOk) throw AwsStsIamLimit(roleName, `${room.u.tags} of ${ROLE_TAG_LIMIT} tags in use, none left for this grant's ledger entry`);
  if (!room.charsOk) {
    const u = room.u;
    throw AwsStsIamLimit(
      roleName,
      `jit's deny policies use ${u.inlineChars} of ${u.inlineLimit} inline and ${u.managedChars} of ${u.managedLimit} managed characters (${u.attachedPolicies} of ${u.attachedLimit} managed policies attached), and the revoke of ${u.liveGrants} live grant(s) needs ${u.reservedChars} more plus ${u.headroomChars} kept free`,
    );
  }
  if (previous) await iam.putDeny(roleName, base, denyDocument('supersede', iam.denyTarget(req.grantId, base, previous.attempt), previous.sessionExpiresAt));
  // Write-ahead: the ledger names the session before it exists, so a crash leaves a trace the sweep finds.
  await iam.writeLedger(roleName, base, { grantId: req.grantId, attempt, expiresAt, sessionExpiresAt: natural, state: 'issued' });

  const session = sessionName(base, attempt);
  const out = await iam.call<AssumeRoleCommandOutput>(
    'assume role',
    clients.sts,
    new AssumeRoleCommand({
      RoleArn: scope.roleArn,
      RoleSessionName: session,
      DurationSeconds: duration,
      Policy: JSON.stringify(sessionPolicyDocument(scope)),
      ...(config.sourceIdentity ? { SourceIdentity: sourceIdentityFor(String(req.requester ?? 'unknown'), req.grantId, attempt) } : {}),
    }),
    roleName,
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw SubstrateRejected(name, 'assume role: the answer carried no credentials');
  log.info({ grantId: req.grantId, role: roleName, session, attempt, durationSeconds: duration }, 'sts session issued');
  return {
    secret: {
      AWS_ACCESS_KEY_ID: c.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
      AWS_SESSION_TOKEN: c.SessionToken,
      AWS_REGION: String((req.connection as { region?: unknown } | undefined)?.region ?? config.region),
    },
    handle: toHandle(
      env,
      req.grantId,
      {
        roleArn: scope.roleArn,
        roleName,
        roleId,
        sessionName: base,
        sessionExpiresAt: natural.toISOString(),
        attempt,
        assumedRoleId: out.AssumedRoleUser?.AssumedRoleId ?? `${roleId}:${session}`,
      },
      expiresAt,
    ),
    expiresAt: expiresAt.toISOString(),
  };
}
