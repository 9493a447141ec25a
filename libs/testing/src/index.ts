// @jit/testing: the harness that gives integration tests real Kafka, OpenBao, moto and PostgreSQL.
export { TestingErrors } from './errors';
export { freePort } from './free-port';
export { uniqueName } from './unique-name';
export { waitFor } from './wait-for';
export type { WaitForOptions } from './wait-for';
export { getKafka, getMoto, getPostgres, getServices, getVault, SERVICE_ENV } from './services';
export type { Services, VaultService } from './services';
export { startKafka, kafkaServerProperties, KAFKA_JVM_OPTS } from './kafka';
export type { KafkaHandle, StartKafkaOptions } from './kafka';
export { probeKafka } from './kafka-probe';
export type { KafkaProbeResult } from './kafka-probe';
export { startOpenBao } from './openbao';
export type { OpenBaoHandle, StartServerOptions } from './openbao';
export { startMoto } from './moto';
export type { MotoHandle } from './moto';
export { startPostgres, postgresUrl } from './postgres';
export type { PostgresHandle, StartPostgresOptions } from './postgres';
export { REPO_ROOT, KAFKA_JARS_DIR, SERVICES_DIR } from './paths';
