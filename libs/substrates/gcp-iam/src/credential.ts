// The gcp-iam credential as its requester opens it (SDK-free: the CLI imports it for `jit exec`).
import { defineCredentialShape } from '@jit/substrates';

export const GCP_IAM_CREDENTIAL = defineCredentialShape('gcp-iam', {
  GOOGLE_OAUTH_ACCESS_TOKEN: ['GOOGLE_OAUTH_ACCESS_TOKEN'],
});
