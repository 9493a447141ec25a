// Error catalogue of the read API (JIT_ERR_API_*).
import { defineError } from '@jit/errors';

export const ElevationNotFound = defineError<[string]>('JIT_ERR_API_NOT_FOUND', 'no elevation %s; check the id (gl-<project_id>-<mr_iid>) with `jit audit`', { statusCode: 404 });
export const CredentialNotGranted = defineError<[string, string]>('JIT_ERR_API_NOT_GRANTED', 'elevation %s is %s: there is no credential to fetch', { statusCode: 409 });
export const CredentialEnded = defineError<[string, string]>('JIT_ERR_API_CREDENTIAL_ENDED', 'the credential of elevation %s was %s and is no longer served', { statusCode: 410 });
export const BadQuery = defineError<[string]>('JIT_ERR_API_BAD_QUERY', 'bad query: %s', { statusCode: 400 });
export const CredentialUnrecorded = defineError<[string]>(
  'JIT_ERR_API_FETCH_UNRECORDED',
  'the fetch of the credential of elevation %s could not be recorded on the event log, so it is not served; try again shortly',
  { statusCode: 503, retriable: true },
);
