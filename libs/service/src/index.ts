export { runService } from './run-service';
export type { ProcessLike, RunningService, ServiceDefinition } from './run-service';
export { ConfigError } from './config-error';
export { ConfigInvalid } from './errors';
export { parseEnv, formatEnvIssues } from './parse-env';
export type { Env, ParseEnvOptions } from './parse-env';
export {
  envSchemas,
  isBrokerAddress,
  serverEnv,
  serverFromEnv,
  opsEnv,
  authEnv,
  authFromEnv,
  allowedCiProjects,
  dashboardEnv,
  dashboardFromEnv,
  sessionKeysSchema,
  checkDashboard,
  opsFromEnv,
  kafkaConsumerEnv,
  kafkaConsumerFromEnv,
  busEnv,
  busConsumerEnv,
  busFromEnv,
  checkBusChoice,
  gitlabEnv,
  gitlabFromEnv,
  openGitlabToken,
  gitlabClientToken,
  projectId,
} from './env-schemas';
export type { AuthConfig, CiProjectRule, DashboardConfig, BusConfig, KafkaConsumerConfig, ServerConfig } from './env-schemas';
export { KAFKA_SASL_MECHANISMS, checkKafkaSecurity, kafkaSecurityEnv, kafkaSecurityFromEnv } from './kafka-env';
export type { KafkaSaslMechanism, KafkaSaslSettings, KafkaSecurity, KafkaSecurityEnv, KafkaTlsSettings } from './kafka-env';
export { publicKeysSetting, readSigningKeyFile, readSigningKeySetting, signingEnv, signingFromEnv, signingKeyFileSetting } from './signing-env';
export type { SigningConfig, SigningRequirements } from './signing-env';
export { KERNEL_TREES, MAX_SECRET_FILE_BYTES, describeReadFailure, readSecretFile, secretEnv, secretFileRegistry } from './secret-file';
export type { SecretFileReader } from './secret-file';
export { openSecret, secretSetting, staticSecret } from './secret-source';
export type { OpenSecretOptions, SecretFeed, SecretLog, SecretSetting, SecretSource } from './secret-source';
export { createOpsServer } from './ops-server';
export type { OpsConfig, OpsServerOptions, Readiness } from './ops-server';
