// The policy audit's check of a gcp-iam scope: which credential-minting permissions the scope's
// service account holds where its OAuth scopes let a token use them (asked as the account itself).
import type { Finding } from '@jit/substrates';
import { classifySubstrateError, SubstrateFailed } from '@jit/substrates';
import type { GcpIamConfig, IamCredentialsApi } from './gcp-iam-config';
import { classifyGrpc, scrub } from './gcp-grpc';
import { MINTING_SCOPES, projectOfServiceAccount, type IamPermissionsApi } from './minting-audit';
import { serviceAccountResource, type GcpIamScope } from './scope';

/** Lifetime of the token the policy audit mints to ask Google what the account may do. */
const AUDIT_TOKEN_SECONDS = 300;

export function mintingCheck(name: string, config: GcpIamConfig, client: IamCredentialsApi, permissionsApi: IamPermissionsApi): (scope: GcpIamScope) => Promise<Finding[]> {
  /**
   * Which credential-minting permissions the scope's service account holds where its OAuth scopes
   * let a token use them. Asked as the account itself: jit mints a short audit token (it never
   * leaves this process) and calls testIamPermissions on the account's project (a grant there
   * covers every account in it) and on the account itself.
   */
  async function checkMinting(scope: GcpIamScope): Promise<Finding[]> {
    const reachable = [...new Set(scope.scopes.flatMap((s) => MINTING_SCOPES[s] ?? []))];
    if (reachable.length === 0) {
      return [{ severity: 'info', message: `${name}: ${scope.serviceAccount} with scopes ${scope.scopes.join(' ')}: none of them reaches the IAM APIs, so the token cannot mint more credentials` }];
    }
    let audit: string;
    try {
      const [r] = await client.generateAccessToken(
        {
          name: serviceAccountResource(scope.serviceAccount),
          scope: ['https://www.googleapis.com/auth/cloud-platform'],
          delegates: (scope.delegates ?? []).map(serviceAccountResource),
          lifetime: { seconds: AUDIT_TOKEN_SECONDS },
        },
        { timeout: config.timeoutMs, retry: null },
      );
      if (typeof r?.accessToken !== 'string' || !r.accessToken) throw SubstrateFailed(name, 'audit token: the answer lacked accessToken');
      audit = r.accessToken;
    } catch (err) {
      throw classifySubstrateError(name, 'audit token', scrub(err), (e) => classifyGrpc(name, 'audit token', e));
    }
    const project = projectOfServiceAccount(scope.serviceAccount) ?? config.projectId;
    const where: Array<{ api: 'resourcemanager' | 'iam'; resource: string; label: string }> = [
      ...(project ? [{ api: 'resourcemanager' as const, resource: `projects/${project}`, label: `project ${project} (every service account in it)` }] : []),
      { api: 'iam', resource: serviceAccountResource(scope.serviceAccount), label: 'itself' },
    ];
    const findings: Finding[] = [];
    for (const w of where) {
      let held: string[];
      try {
        held = (await permissionsApi.testIamPermissions(w.api, w.resource, reachable, audit)).filter((p) => reachable.includes(p));
      } catch (err) {
        throw classifySubstrateError(name, `testIamPermissions on ${w.resource}`, err);
      }
      if (held.length > 0) {
        findings.push({
          severity: 'error',
          message:
            `${name}: ${scope.serviceAccount} holds ${held.join(', ')} on ${w.label}, and the scope's OAuth scopes (${scope.scopes.filter((s) => MINTING_SCOPES[s]).join(' ')}) let its token use them: ` +
            'the grantee can mint tokens, signed JWTs or keys that outlive the grant (a key never expires, and GCP tokens cannot be revoked). Remove those permissions from the account, or use product scopes (e.g. devstorage.read_write, bigquery) instead of cloud-platform/iam',
        });
      }
    }
    if (!project) {
      findings.push({ severity: 'warning', message: `${name}: cannot tell the project of ${scope.serviceAccount}; set projectId so project-wide grants are checked too` });
    }
    if (findings.length === 0) {
      findings.push({ severity: 'info', message: `${name}: ${scope.serviceAccount} holds none of ${reachable.join(', ')} on ${where.map((w) => w.label).join(' or ')}` });
    }
    return findings;
  }
  return checkMinting;
}
