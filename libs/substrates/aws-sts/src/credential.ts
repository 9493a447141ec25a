// The aws-sts credential as its requester opens it (SDK-free: the CLI imports it for `jit exec`).
import { defineCredentialShape } from '@jit/substrates';

export const AWS_STS_CREDENTIAL = defineCredentialShape('aws-sts', {
  AWS_ACCESS_KEY_ID: ['AWS_ACCESS_KEY_ID'],
  AWS_SECRET_ACCESS_KEY: ['AWS_SECRET_ACCESS_KEY'],
  AWS_SESSION_TOKEN: ['AWS_SESSION_TOKEN'],
  AWS_REGION: ['AWS_REGION'],
});
