import { describe, expect, it } from 'vitest';
import { pathMatches, policyRules, reachIntoJit } from './policy-reach';

const jit = { tokenRole: 'jit-prod', indexMount: 'secret', deployment: 'jit-prod' };

describe('policy reach into jit', () => {
  it.each([
    ['auth/token/create/*', 'auth/token/create/jit-prod', true],
    ['auth/token/create/+', 'auth/token/create/jit-prod', true],
    ['auth/token/*', 'auth/token/create-orphan', true],
    ['auth/token/create', 'auth/token/create/jit-prod', false],
    ['secret/+/jit/*', 'secret/data/jit/a/b/c', true],
    ['secret/data/app/*', 'secret/data/jit/a/b/c', false],
    ['auth/token/create/jit-prod.', 'auth/token/create/jit-prodx', false],
  ])('Vault glob %s against %s: %s', (pattern, path, expected) => {
    expect(pathMatches(pattern, path)).toBe(expected);
  });

  it('reads HCL and JSON policies', () => {
    expect(policyRules('path "a/*" {\n capabilities = ["read", "update"]\n allowed_parameters = { "x" = [] }\n}\npath "b" { capabilities = ["deny"] }')).toEqual([
      { path: 'a/*', capabilities: ['read', 'update'] },
      { path: 'b', capabilities: ['deny'] },
    ]);
    expect(policyRules('{"path": {"c/+": {"capabilities": ["create"]}}}')).toEqual([{ path: 'c/+', capabilities: ['create'] }]);
  });

  it.each([
    ['identity/group/*', 'identity or group'],
    ['identity/entity/name/+', 'identity or group'],
    ['auth/userpass/users/*', 'create a login'],
    ['auth/approle/role/+/secret-id', 'create a login'],
    ['sys/auth/*', 'create a login'],
    ['auth/token/roles/*', 'create a login'],
  ])('flags %s: a login or identity that keeps policies after the grant', (rule, what) => {
    expect(reachIntoJit(`path "${rule}" { capabilities = ["create", "update"] }`, jit)).toContainEqual({ rule, what: expect.stringContaining(what) });
  });

  it('flags writes that reach jit’s token role, the ACL policies and jit’s index; reads, denies and other paths pass', () => {
    const reach = reachIntoJit(
      `path "auth/token/create/*" { capabilities = ["update"] }
       path "sys/policies/acl/*" { capabilities = ["create", "update"] }
       path "secret/data/*" { capabilities = ["create", "update", "read"] }
       path "auth/token/roles/*" { capabilities = ["read"] }
       path "auth/token/create-orphan" { capabilities = ["deny"] }
       path "secret/data/app/*" { capabilities = ["update"] }
       path "secret/data/jit/+/+/+/+" { capabilities = ["delete"] }`,
      jit,
    );
    expect(reach.map((r) => r.rule)).toEqual(['auth/token/create/*', 'sys/policies/acl/*', 'secret/data/*', 'secret/data/jit/+/+/+/+']);
    expect(reach[0]?.what).toMatch(/mint orphan tokens through jit's token role jit-prod/);
  });
});
