export { FakeAws, awsError } from './fake-aws';
export type { FakeCall } from './fake-aws';
export { probeOnMoto } from './probe-on-moto';
