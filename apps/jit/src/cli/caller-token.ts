// Which token the CLI authenticates to jit with: a flag, else a CI ID token (JIT_ID_TOKEN, what a
// job's `id_tokens:` sets), else the caller's GitLab token (GITLAB_TOKEN), or either from a file.
// The value is never printed; errors name where it came from, not what it is.
import { readFile } from 'node:fs/promises';
import { CliError } from './cli-error';

export type TokenKind = 'GitLab token' | 'CI ID token' | 'token';

export interface CallerToken {
  readonly token: string;
  /** Where it came from, for messages: `GITLAB_TOKEN`, `--token-file /path`, … */
  readonly from: string;
  readonly kind: TokenKind;
}

export interface TokenFlags {
  token?: string;
  idToken?: string;
  tokenFile?: string;
}

/** A bearer token: printable ASCII without spaces, as GitLab tokens and JWTs are; bounded. */
const TOKEN_RE = /^[\x21-\x7e]{1,16384}$/;

export const MISSING_TOKEN = "no token to authenticate to jit: set GITLAB_TOKEN to your GitLab token (in GitLab CI, JIT_ID_TOKEN from `id_tokens:` with aud = jit's URL), or pass --token-file <file>";

async function fromFile(file: string, from: string, kind: TokenKind): Promise<CallerToken> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read the token file ${file} (${err.code ?? 'error'}) given by ${from}`);
  });
  return check({ token: text.trim(), from, kind });
}

function check(t: CallerToken): CallerToken {
  if (t.token === '') throw new CliError(`the token from ${t.from} is empty; ${MISSING_TOKEN.slice(MISSING_TOKEN.indexOf('set '))}`);
  if (!TOKEN_RE.test(t.token)) throw new CliError(`the value from ${t.from} is not a token (it has spaces, line breaks or other characters no token has)`);
  return t;
}

/** The caller's token for jit's API, or a CliError saying which variable to set. */
export async function callerToken(flags: TokenFlags, env: Record<string, string | undefined>): Promise<CallerToken> {
  const given = [flags.token !== undefined && '--token', flags.idToken !== undefined && '--id-token', flags.tokenFile !== undefined && '--token-file'].filter(Boolean);
  if (given.length > 1) throw new CliError(`pass one of ${given.join(', ')}, not several`);
  if (flags.token !== undefined) return check({ token: flags.token, from: '--token', kind: 'GitLab token' });
  if (flags.idToken !== undefined) return check({ token: flags.idToken, from: '--id-token', kind: 'CI ID token' });
  if (flags.tokenFile !== undefined) return fromFile(flags.tokenFile, `--token-file ${flags.tokenFile}`, 'token');
  // An ID token is what a pipeline gives jit specifically; GITLAB_TOKEN there may be for GitLab only.
  if (env.JIT_ID_TOKEN) return check({ token: env.JIT_ID_TOKEN, from: 'JIT_ID_TOKEN', kind: 'CI ID token' });
  if (env.JIT_ID_TOKEN_FILE) return fromFile(env.JIT_ID_TOKEN_FILE, 'JIT_ID_TOKEN_FILE', 'CI ID token');
  if (env.GITLAB_TOKEN) return check({ token: env.GITLAB_TOKEN, from: 'GITLAB_TOKEN', kind: 'GitLab token' });
  if (env.GITLAB_TOKEN_FILE) return fromFile(env.GITLAB_TOKEN_FILE, 'GITLAB_TOKEN_FILE', 'GitLab token');
  throw new CliError(MISSING_TOKEN);
}

/** What a refused token most likely means, by kind. */
export function refusalHint(kind: TokenKind): string {
  if (kind === 'CI ID token') return "a CI ID token must be unexpired and issued by the GitLab jit trusts, with aud = jit's URL (.gitlab-ci.yml: id_tokens: JIT_ID_TOKEN: aud: <jit URL>)";
  if (kind === 'GitLab token') return 'the GitLab token is unknown, expired or revoked, or belongs to a blocked user; create a new one (scope read_user or api)';
  return 'the token is unknown, expired or revoked, or (a CI ID token) not meant for this jit';
}
