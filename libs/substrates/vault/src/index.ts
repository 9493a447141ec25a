export {
  VAULT_KIND,
  carrierPolicyHcl,
  createVaultSubstrate,
  vaultConfigSchema,
  vaultSubstrate,
} from './vault-substrate';
export type {
  VaultClientFactory,
  VaultClientLike,
  VaultClientOptions,
  VaultConfig,
  VaultDeps,
  VaultScope,
  VaultSubstrate,
} from './vault-substrate';
