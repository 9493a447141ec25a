// Maps a decrypted credential to the environment variables tools expect (`jit exec`). Only the
// keys the credential's substrate defines pass (each adapter's credential shape); anything else —
// NODE_OPTIONS, LD_PRELOAD, PATH from a hostile or broken server — refuses the whole payload.
import { credentialEnv } from '@jit/substrates';
import { credentialShapeFor } from '@jit/substrate-wiring/credentials';
import { CliError } from './cli-error';

/** The child's extra environment for a credential of `substrate` (an instance name such as `vault:prod`). */
export function envForCredential(substrate: string, secret: unknown): Record<string, string> {
  const shape = credentialShapeFor(String(substrate));
  if (!shape)
    throw new CliError(`jit exec does not know substrate ${JSON.stringify(String(substrate).slice(0, 40))}; refusing to put its credential in an environment (upgrade jit, or use \`jit credential\`)`);
  const result = credentialEnv(shape, secret);
  if (!result.ok) throw new CliError(`refusing to run: ${result.problem}`);
  return result.env;
}
