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
export { WorkerMetrics } from './metrics';
export { type NotificationPayload, NotifyInput } from './notifications';
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
export { noopWorkloads, serviceWorkloads, type WorkloadGateway } from './workloads';
