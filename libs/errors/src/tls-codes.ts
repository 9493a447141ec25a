// Node's error codes for a peer certificate a TLS client refuses, shared by every client that
// turns them into its own catalogue error (Kafka, PostgreSQL).

/** The certificate is not signed by a trusted CA (or its chain cannot be built). */
export const UNTRUSTED_CERT_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
]);

/** The certificate is outside its validity period. */
export const EXPIRED_CERT_CODES: ReadonlySet<string> = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** The certificate does not name the host connected to. */
export const HOSTNAME_CERT_CODE = 'ERR_TLS_CERT_ALTNAME_INVALID';
