// The vault scope: `{ mode: 'token', policies }` or `{ mode: 'database', role, loginUrl? }`; its
// problems are what validateScope (and the gate, through the facts) reports.
import type { Problem } from '@jit/substrates';
import { NAME } from './vault-config';

export function scopeProblems(scope: unknown): Problem[] {
  if (!scope || typeof scope !== 'object' || Array.isArray(scope)) {
    return [{ path: 'scope', message: "must be an object: { mode: 'token', policies: [...] } or { mode: 'database', role: <name> }" }];
  }
  const s = scope as Record<string, unknown>;
  const own = (k: string) => (Object.prototype.hasOwnProperty.call(s, k) ? s[k] : undefined);
  const mode = own('mode');
  if (mode === 'token') {
    const policies = own('policies');
    if (!Array.isArray(policies) || policies.length === 0 || policies.length > 20) {
      return [{ path: 'scope.policies', message: 'must list 1-20 Vault policy names' }];
    }
    const problems: Problem[] = [];
    policies.forEach((p, i) => {
      if (typeof p !== 'string' || !NAME.test(p)) problems.push({ path: `scope.policies[${i}]`, message: 'must be a policy name (letters, digits, _ . -)' });
      else if (p === 'root') problems.push({ path: `scope.policies[${i}]`, message: 'the root policy is never issued' });
    });
    return problems;
  }
  if (mode === 'database') {
    const problems: Problem[] = [];
    const role = own('role');
    if (typeof role !== 'string' || !NAME.test(role)) problems.push({ path: 'scope.role', message: 'must be a database secrets engine role name (letters, digits, _ . -)' });
    const loginUrl = own('loginUrl');
    if (loginUrl !== undefined) {
      let u: URL | undefined;
      try {
        u = typeof loginUrl === 'string' && loginUrl.length <= 500 ? new URL(loginUrl) : undefined;
      } catch {
        u = undefined;
      }
      if (!u) problems.push({ path: 'scope.loginUrl', message: 'must be a URL of at most 500 characters, e.g. postgres://db:5432/orders' });
      else if (u.username || u.password) problems.push({ path: 'scope.loginUrl', message: 'must not carry credentials' });
    }
    return problems;
  }
  return [{ path: 'scope.mode', message: "must be 'token' or 'database'" }];
}
