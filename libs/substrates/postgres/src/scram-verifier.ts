// SCRAM-SHA-256 verifier (RFC 5802/7677, PostgreSQL's stored format) computed here, so the
// plain password never travels in a CREATE/ALTER ROLE statement and so never lands in the
// server's statement log (log_statement = ddl) or pg_stat_statements.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export function scramVerifier(password: string, iterations = 4096, salt: Buffer = randomBytes(16)): string {
  // The passwords we generate are base64url ASCII, for which SASLprep is the identity.
  if (!/^[\x21-\x7e]+$/.test(password)) throw new Error('scramVerifier: password must be printable ASCII');
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
