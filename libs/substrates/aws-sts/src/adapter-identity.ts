// The adapter's own AWS identity (static keys or the SDK's default provider chain: IRSA, Pod
// Identity, ...) and the real STS/IAM clients built on it.
import { STSClient } from '@aws-sdk/client-sts';
import { IAMClient } from '@aws-sdk/client-iam';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsClients, AwsStsConfig } from './config';

type CredentialIdentity = Awaited<ReturnType<ReturnType<typeof defaultProvider>>>;

/** The adapter's own identity and when its current credentials expire (for the gauge). */
export interface AdapterIdentity {
  credentials: (options?: { forceRefresh?: boolean }) => Promise<CredentialIdentity>;
  /** ms since epoch; Infinity for static keys; undefined before the chain resolved or when the source gives none. */
  expiresAt(): number | undefined;
}

/**
 * Static keys from the config, else the SDK's default chain. A custom `endpoint` is handed to the
 * chain as well, so the web-identity exchange (AssumeRoleWithWebIdentity) goes where jit's own STS
 * calls go (a VPC endpoint, moto) instead of the public regional endpoint.
 */
export function adapterIdentity(config: Pick<AwsStsConfig, 'region' | 'endpoint' | 'credentials'>): AdapterIdentity {
  if (config.credentials) {
    const keys = config.credentials;
    return { credentials: async () => ({ ...keys }), expiresAt: () => (keys.sessionToken ? undefined : Infinity) };
  }
  const chain = defaultProvider({ clientConfig: { region: config.region, ...(config.endpoint ? { endpoint: config.endpoint } : {}) } });
  let expiresAt: number | undefined;
  return {
    // The SDK decorates the identity it is given ($source): each caller gets its own copy.
    credentials: async (options) => {
      let c: CredentialIdentity;
      try {
        c = await chain(options);
      } catch (err) {
        // STS's own answer to the exchange (InvalidIdentityToken, AccessDenied) is classified as such;
        // anything else (the token file missing: ENOENT, no source at all) means no identity yet.
        if ((err as { $metadata?: unknown })?.$metadata) throw err;
        const code = (err as { code?: unknown })?.code;
        throw Object.assign(new Error('no AWS credentials from the default chain'), { name: 'CredentialsProviderError', ...(typeof code === 'string' ? { code } : {}) });
      }
      expiresAt = c.expiration ? c.expiration.getTime() : undefined;
      return { ...c };
    },
    expiresAt: () => expiresAt,
  };
}

export function defaultClients(config: AwsStsConfig, identity: AdapterIdentity = adapterIdentity(config)): AwsClients {
  const common = () => ({ region: config.region, endpoint: config.endpoint, credentials: identity.credentials, maxAttempts: 2 });
  return { sts: new STSClient(common()), iam: new IAMClient(common()) };
}
