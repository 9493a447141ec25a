// approval-gate configuration: read from the environment once, here, and passed down as a plain
// object. A bad setting stops the process with a message naming it (never echoing a secret).
import { z } from 'zod';
import {
  authEnv,
  authFromEnv,
  busConsumerEnv,
  busFromEnv,
  checkBusChoice,
  envSchemas as s,
  gitlabEnv,
  gitlabFromEnv,
  parseEnv,
  publicKeysSetting,
  readSigningKeySetting,
  serverEnv,
  serverFromEnv,
  signingKeyFileSetting,
  type AuthConfig,
  type BusConfig,
  type ServerConfig,
} from '@jit/service';

export { ConfigError } from '@jit/service';

const EnvSchema = z
  .object({
    ...busConsumerEnv('jit-approval-gate'),
    ...gitlabEnv(),
    JIT_BOT_USERNAME: s.gitlabUsername().optional(),
    JIT_POLICY_REFRESH_MS: s.durationMs().default(60_000),
    /** Blob sha of the first policy.yaml the operator trusts (used only while the log has ratified nothing). */
    JIT_POLICY_PIN: z
      .string()
      .trim()
      .regex(/^[0-9a-fA-F]{40}$/, 'must be the 40-hex blob sha of policy.yaml (jit prints it when no policy is trusted)')
      .optional(),
    JIT_GCP_EXTENDED_LIFETIME: s.flag(false),
    /** How often open and recently merged MRs are compared with GitLab (missed webhooks); 0 = at start only. */
    JIT_RECONCILE_INTERVAL_MS: s.durationMs().default(300_000),
    /** Signs every elevation event the gate emits; issuers act only on approvals signed by a gate key they trust. */
    JIT_SIGNING_KEY_FILE: signingKeyFileSetting(true),
    /** Other gate replicas' public keys (when they sign with keys of their own): their requests and approvals count here too. */
    JIT_TRUSTED_GATE_KEYS: publicKeysSetting('the public keys (GET /v1/keys) of the other approval-gate replicas, comma-separated'),
    ...serverEnv(8082),
    ...authEnv(),
  })
  .superRefine(checkBusChoice);

export interface GateAppConfig extends ServerConfig {
  /** API authentication of GET /v1/catalog and /v1/keys (CI ID tokens only with JIT_OIDC_AUDIENCE). */
  auth: AuthConfig;
  bus: BusConfig;
  /** `tokenFile`: GITLAB_TOKEN_FILE, re-read when rotated. */
  gitlab: { url: string; token: string; tokenFile?: string };
  elevationsProject: string | number;
  botUsername?: string;
  policyRefreshMs: number;
  /** JIT_POLICY_PIN: the first policy's blob sha (lower-case). */
  policyPin?: string;
  /**
   * Per substrate kind, the config keys the policy checks depend on (staticSubstrateCatalog): the
   * gate runs no substrate instance. JIT_GCP_EXTENDED_LIFETIME sets gcp-iam's allowExtendedLifetime.
   */
  substrateSettings: Record<string, Record<string, unknown>>;
  reconcileIntervalMs: number;
  /** PEM of the gate's Ed25519 event-signing key (never logged). */
  signingKeyPem: string;
  /** JIT_TRUSTED_GATE_KEYS: the other replicas' keys; the gate's book takes gate events signed by its own key or one of these. */
  trustedGateKeys: string[];
}

/** Parses the environment; throws ConfigError naming every bad setting (values are never echoed). */
export function parseConfig(env: Record<string, string | undefined>, readFile?: (path: string) => string): GateAppConfig {
  const key = readSigningKeySetting(env, readFile);
  const e = parseEnv(EnvSchema, env, { service: 'approval-gate', problems: key.problems });
  return {
    bus: busFromEnv(e),
    ...gitlabFromEnv(e),
    ...(e.JIT_BOT_USERNAME ? { botUsername: e.JIT_BOT_USERNAME } : {}),
    policyRefreshMs: e.JIT_POLICY_REFRESH_MS,
    ...(e.JIT_POLICY_PIN ? { policyPin: e.JIT_POLICY_PIN.toLowerCase() } : {}),
    substrateSettings: e.JIT_GCP_EXTENDED_LIFETIME ? { 'gcp-iam': { allowExtendedLifetime: true } } : {},
    reconcileIntervalMs: e.JIT_RECONCILE_INTERVAL_MS,
    signingKeyPem: key.pem!,
    trustedGateKeys: e.JIT_TRUSTED_GATE_KEYS,
    ...serverFromEnv(e),
    auth: authFromEnv(e),
  };
}
