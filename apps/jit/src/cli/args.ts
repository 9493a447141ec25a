// Argument parsers shared by the CLI's commands.
import { InvalidArgumentError } from 'commander';
import { ELEVATION_ID_RE } from '@jit/contracts';

/** An elevation id argument (`gl-<project_id>-<mr_iid>`), refused with a usage error otherwise. */
export function elevationIdArg(value: string): string {
  if (!ELEVATION_ID_RE.test(value)) throw new InvalidArgumentError('must be an elevation id like gl-42-7');
  return value;
}
