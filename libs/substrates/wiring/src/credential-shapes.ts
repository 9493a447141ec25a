// Every adapter's credential shape, by kind, for `jit exec` (its own entry point so the CLI loads
// no SDK: each adapter's shape module is SDK-free). A test keeps it in step with SUBSTRATE_DEFINITIONS.
import type { CredentialShape } from '@jit/substrates';
import { AWS_STS_CREDENTIAL } from '@jit/substrate-aws-sts/credential';
import { GCP_IAM_CREDENTIAL } from '@jit/substrate-gcp-iam/credential';
import { POSTGRES_CREDENTIAL } from '@jit/substrate-postgres/credential';
import { VAULT_CREDENTIAL } from '@jit/substrate-vault/credential';

export const CREDENTIAL_SHAPES: readonly CredentialShape[] = [POSTGRES_CREDENTIAL, VAULT_CREDENTIAL, AWS_STS_CREDENTIAL, GCP_IAM_CREDENTIAL];

/** The shape for a substrate instance name (`vault:prod` -> vault's), or undefined for an unknown kind. */
export function credentialShapeFor(substrate: string): CredentialShape | undefined {
  const kind = substrate.split(':')[0];
  return CREDENTIAL_SHAPES.find((s) => s.kind === kind);
}
