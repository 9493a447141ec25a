// What a scope's Vault policy lets its holder do to jit itself. A token role hands out any policy
// in its allowed_policies to whoever may write auth/token/create/<role>, whatever that caller's own
// policies: a scope policy with `path "auth/token/create/*" { capabilities = ["update"] }` let a
// grantee mint, through jit's own orphan role, a 32-day token carrying another scope's policy that
// no revoke of its grant touches (tested on OpenBao). Such reach is refused at issue and reported by
// the audit. Read from the policy text (HCL or JSON); Vault's globs: `+` one segment, `*` a prefix.

export interface PolicyReach {
  /** The policy's path rule that reaches jit. */
  rule: string;
  /** What a holder could do with it. */
  what: string;
}

export interface JitPaths {
  tokenRole: string;
  indexMount: string;
  deployment: string;
}

const WRITES = new Set(['create', 'update', 'patch', 'delete', 'sudo']);

/** Path rules of a policy and their capabilities (HCL `path "p" { capabilities = [..] }` or JSON). */
export function policyRules(text: string): { path: string; capabilities: string[] }[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const paths = (JSON.parse(trimmed) as { path?: Record<string, { capabilities?: unknown }> }).path ?? {};
      return Object.entries(paths).map(([path, body]) => ({
        path,
        capabilities: Array.isArray(body?.capabilities) ? body.capabilities.map(String) : [],
      }));
    } catch {
      /* not JSON: read it as HCL */
    }
  }
  const heads = [...text.matchAll(/path\s*=?\s*"([^"]*)"/g)];
  return heads.map((m, i) => {
    const body = text.slice((m.index ?? 0) + m[0].length, heads[i + 1]?.index ?? text.length);
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(body)?.[1] ?? '';
    return { path: m[1] as string, capabilities: [...caps.matchAll(/"([^"]*)"/g)].map((c) => c[1] as string) };
  });
}

/** Does Vault's path pattern (`+` = one segment, trailing `*` = any suffix) match `path`? */
export function pathMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const body = (glob ? pattern.slice(0, -1) : pattern)
    .split('+')
    .map((part) => part.replace(/[.*?^${}()|[\]\\]/g, '\\$&'))
    .join('[^/]+');
  return new RegExp(`^${body}${glob ? '.*' : ''}$`).test(path);
}

/** The rules of `policy` that let a holder mint tokens jit does not know of, rewrite jit's role or the ACL policies, give an identity or a login lasting policies, or edit jit's index. */
export function reachIntoJit(policy: string, jit: JitPaths): PolicyReach[] {
  const index = `jit/${jit.deployment}/any-instance/any-grant/any-accessor`; // vaultIndexPath/<grant>/<accessor>
  const targets: [string[], string][] = [
    [[`auth/token/create/${jit.tokenRole}`, 'auth/token/create-orphan'], `mint orphan tokens through jit's token role ${jit.tokenRole} (any policy it allows, never revoked with the grant)`],
    [[`auth/token/roles/${jit.tokenRole}`], `rewrite jit's token role ${jit.tokenRole}`],
    [['sys/policies/acl/any-policy', 'sys/policy/any-policy'], 'rewrite ACL policies'],
    [
      ['identity/entity/name/any', 'identity/entity/id/any', 'identity/entity', 'identity/group/name/any', 'identity/group/id/any', 'identity/group', 'identity/entity-alias', 'identity/group-alias'],
      'give an identity or group (its everyday login) policies that outlast the grant',
    ],
    [
      [
        'sys/auth/any-mount',
        'auth/userpass/users/any',
        'auth/approle/role/any',
        'auth/approle/role/any/secret-id',
        'auth/cert/certs/any',
        'auth/jwt/role/any',
        'auth/oidc/role/any',
        'auth/kubernetes/role/any',
        'auth/ldap/users/any',
        'auth/ldap/groups/any',
        'auth/token/roles/any-role',
      ],
      'create a login (a user, role, certificate or auth method) that carries policies beyond the grant and outlasts it',
    ],
    [['data', 'metadata', 'delete', 'destroy', 'undelete'].map((k) => `${jit.indexMount}/${k}/${index}`), "edit jit's index of issued tokens (the orphan sweep would miss the grant's token)"],
  ];
  const out: PolicyReach[] = [];
  for (const r of policyRules(policy)) {
    if (r.capabilities.includes('deny') || !r.capabilities.some((c) => WRITES.has(c))) continue;
    for (const [paths, what] of targets) {
      if (paths.some((p) => pathMatches(r.path, p))) out.push({ rule: r.path, what });
    }
  }
  return out;
}
