export { VAULT_KIND, adminPolicyHcl, carrierPolicyHcl, createVaultSubstrate, isGoneAnswer, tokenRoleSettings, vaultConfigSchema, vaultIndexPath, vaultSubstrate } from './vault-substrate';
export type { VaultClientFactory, VaultClientLike, VaultClientOptions, VaultConfig, VaultDeps, VaultGoneOperation, VaultScope, VaultSubstrate } from './vault-substrate';
export { VAULT_ERRORS, VaultAuthConflict, VaultAuthFileUnreadable, VaultCredentialRefused, VaultGrantRevoked, VaultLoginFailed, VaultNotFound } from './errors';
export { KUBERNETES_TOKEN_FILE, createVaultAuth, vaultAuthSchema } from './vault-auth';
export type { VaultAuth, VaultAuthConfig, VaultAuthEvent, VaultAuthOptions } from './vault-auth';
export { VAULT_CREDENTIAL } from './credential';
export { POSTGRES_REVOCATION_STATEMENTS, revocationGaps } from './revocation-statements';
