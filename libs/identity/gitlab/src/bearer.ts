// Reading `Authorization: Bearer <token>` (RFC 6750 §2.1) and telling a JWT from an opaque token.
// A GitLab token (glpat-…, gloas-…, an OAuth token) never has dots; a CI ID token is a compact
// JWS (three base64url parts). A JWT-shaped string is only ever verified as a JWT, never sent to
// GitLab as a token — whatever its fate, it does not leave this process.
import { AuthHeaderTooLarge, AuthMalformed, AuthMissing, AuthSchemeUnsupported } from '@jit/identity-contract';

/** Largest Authorization header read (a CI ID token is 1-2 KiB; GitLab tokens are short). */
export const MAX_AUTHORIZATION_BYTES = 8192;

const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** The token of a Bearer header, or the error that says what is wrong with the header (never quoting it). */
export function bearerToken(header: string | undefined, maxBytes = MAX_AUTHORIZATION_BYTES): string {
  if (header === undefined || header.trim() === '') throw AuthMissing();
  if (Buffer.byteLength(header, 'utf8') > maxBytes) throw AuthHeaderTooLarge(maxBytes);
  const space = header.indexOf(' ');
  const scheme = space < 0 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') {
    // a bare token with no scheme is a common mistake: say so rather than "unsupported scheme"
    if (space < 0 && TOKEN68.test(header)) throw AuthMalformed('no scheme before the token');
    throw AuthSchemeUnsupported();
  }
  const token = header.slice(space + 1).trim();
  if (space < 0 || token === '') throw AuthMalformed('no token after Bearer');
  if (!TOKEN68.test(token)) throw AuthMalformed('the token has characters no bearer token has (one token, no spaces)');
  return token;
}

/** Whether a token has the shape of a compact JWS/JWT (and so must be verified as one). */
export function isJwtShaped(token: string): boolean {
  return COMPACT_JWS.test(token);
}
