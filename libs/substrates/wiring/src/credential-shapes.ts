// Every adapter's credential shape, by kind, for `jit exec` (its own entry point so the CLI loads
// no SDK: each adapter's shape module is SDK-free). Generated from the same Nx tags as
// SUBSTRATE_DEFINITIONS; a test keeps the two in step.
import type { CredentialShape } from '@jit/substrates';
import { ADAPTER_CREDENTIALS } from './credential-shapes.generated';

export const CREDENTIAL_SHAPES: readonly CredentialShape[] = ADAPTER_CREDENTIALS;

/** The shape for a substrate instance name (`vault:prod` -> vault's), or undefined for an unknown kind. */
export function credentialShapeFor(substrate: string): CredentialShape | undefined {
  const kind = substrate.split(':')[0];
  return CREDENTIAL_SHAPES.find((s) => s.kind === kind);
}
