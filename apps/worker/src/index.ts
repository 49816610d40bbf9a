export {
  type AttemptRetryConfig,
  type AutoDisableConfig,
  countFailure,
  DEFAULT_CONFIG,
  NO_FAILURES,
  type RetryCounters,
  resolveConfig,
  retryDecision,
  type WorkerConfig,
  type WorkerConfigInput,
} from './config';
export type { StepFaults, StepPoint, WorkflowDeps } from './deps';
export { loadWorkerEnv, WorkerEnv } from './env';
export { type FailureReason, failuresOf } from './failures';
export * from './ids';
export { JobConfig, JobSnapshot } from './jobs';
export {
  type ExecutionContext,
  type ExecutionResult,
  type LocalLauncher,
  type LocalLauncherOptions,
  startLocalLauncher,
  type WorkloadExecutor,
} from './local/launcher';
export { mapStream } from './local/mapping';
export { type ProcessExecutorOptions, processExecutor } from './local/process-executor';
export { WorkerMetrics } from './metrics';
export { type NotificationPayload, NotifyInput } from './notifications';
export { type OrchestratorDeps, WorkflowConnectionOrchestrator } from './orchestrator';
export {
  configSecrets,
  createPlatformServices,
  type PlatformServices,
  type PlatformServicesOptions,
} from './platform';
export { type ConnectorRunnerDeps, WorkflowConnectorRunner } from './runner';
export { assertCronInterval, nextDue, type Schedule, ScheduleError, scheduleOf } from './schedule';
export { SERVICE_NAME, serviceLogger } from './service';
export {
  DEFAULT_SWEEP_INTERVALS,
  type ReconcileReport,
  type RetentionSettings,
  type SweepIntervals,
  Sweeps,
} from './sweeps';
export { type RunningWorker, type StartWorkerOptions, startWorker } from './worker';
export { createWorkflows } from './workflows';
export {
  noopWorkloads,
  outcomeOf,
  serviceWorkloads,
  type WorkloadGateway,
  type WorkloadOutcome,
  WorkloadSignalPayload,
  workloadSignaller,
} from './workloads';
