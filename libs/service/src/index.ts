export { runService } from './run-service';
export type { ProcessLike, RunningService, ServiceDefinition } from './run-service';
