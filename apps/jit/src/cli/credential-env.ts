// Maps a decrypted credential to the environment variables tools expect (`jit exec`).

const LOWER_TO_ENV: Record<string, string[]> = {
  url: ['DATABASE_URL'],
  host: ['PGHOST'],
  port: ['PGPORT'],
  user: ['PGUSER'],
  username: ['PGUSER'],
  password: ['PGPASSWORD'],
  database: ['PGDATABASE'],
  token: ['VAULT_TOKEN'],
  address: ['VAULT_ADDR'],
};

/** UPPER_CASE keys (AWS_*, GOOGLE_OAUTH_ACCESS_TOKEN, VAULT_*) pass through; known lower-case keys map. */
export function envForCredential(secret: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret)) {
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    if (/^[A-Z][A-Z0-9_]*$/.test(key)) env[key] = String(value);
    for (const name of LOWER_TO_ENV[key] ?? []) env[name] = String(value);
  }
  return env;
}
