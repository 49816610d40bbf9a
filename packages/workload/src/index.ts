export {
  type AttemptLogEntry,
  type AttemptLogPage,
  appendAttemptLogChunks,
  decodeLogCursor,
  encodeLogCursor,
  hasClosingLine,
  LOG_WRITERS,
  PLATFORM_LINE,
  type PlatformLine,
  readAttemptLog,
} from './attempt-log';
export { loadWorkloadEnv, WorkloadEnv, type WorkloadSettings } from './env';
export { WorkloadError, type WorkloadErrorCode, type WorkloadErrorDetails } from './errors';
export * from './queue';
export {
  type ActiveWorkloadInfo,
  type ConfigSecrets,
  type CreateResult,
  type HeartbeatOutcome,
  type QueueDepth,
  type Scope,
  type SweepResult,
  type TerminalHook,
  type WorkloadApiOptions,
  WorkloadService,
  type WorkloadServiceOptions,
} from './service';
export { StateReport, toConnectionState } from './state-report';
export { DEFAULT_TIMEOUTS, formatDuration, type WorkloadTimeouts } from './timeouts';
export {
  createDataplaneToken,
  DATAPLANE_TOKEN_PREFIX,
  DataplaneTokenError,
  type DataplaneTokenInfo,
  ensureDataplaneToken,
  listDataplaneTokens,
  revokeDataplaneToken,
} from './tokens';
export * from './types';
export { toWorkloadView } from './view';
