export {
  type ConnectorTimeouts,
  DEFAULT_PLATFORM_CONFIG,
  type PlatformConfig,
  type PlatformConfigInput,
  resolvePlatformConfig,
} from './config';
export { ConnectorJobInput, type ConnectorJobOutput } from './connector-job';
export {
  type FailureOrigin,
  type FailureReason,
  type FailureType,
  failuresOf,
  isRetryable,
  platformFailure,
  summaryOf,
} from './failures';
export * from './ids';
export {
  JobConfig,
  JobSnapshot,
  StreamGeneration,
  StreamRef,
  streamKey,
  streamLabel,
} from './job-config';
export { type OrchestratorDeps, WorkflowConnectionOrchestrator } from './orchestrator';
export {
  configSecrets,
  createPlatformServices,
  type PlatformServices,
  type PlatformServicesOptions,
} from './platform';
export { type ConnectorRunnerDeps, WorkflowConnectorRunner } from './runner';
export { outcomeOf, type WorkloadOutcome, WorkloadSignalPayload, workloadSignaller } from './signals';
