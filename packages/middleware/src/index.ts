export { createWorkloadApi, type HeartbeatAnswer, type WorkloadApi, type WorkloadApiOptions } from './api';
export { ChunkWriter, type ChunkWriterOptions } from './chunk-writer';
export { runConnectorJob } from './connector-job';
export { loadMiddlewareEnv, MiddlewareEnv } from './env';
export { LogBatcher, type LogBatcherOptions, type LogChunk } from './log-batcher';
export { type Route, StreamRoutes, selectFields } from './mapping';
export { AttemptLog, type FailureReason, failure, MessageHandler } from './messages';
export type { ConnectorJobOutput, JobOutcome, SyncOutput } from './output';
export { reasonOf } from './output';
export { OutputReader, TextLines } from './output-reader';
export * from './plan-support';
export { Replication, type ReplicationOptions } from './replication';
export { errorCode, isTransientError, type RetryOptions, withRetry } from './retry';
export { type LineSink, type RouterOptions, StdioRouter } from './router';
export { StateReporter, type StateReporterOptions } from './state-reporter';
export {
  type EchoOutcome,
  mapStateDescriptors,
  persistableState,
  recordCountOf,
  SocketStateTracker,
  StdioStateTracker,
} from './state-tracker';
export { type CounterSnapshot, type StreamCounter, type StreamStatsReport, SyncStats } from './stats';
export { loadWorkdir, MiddlewareConfig, type Workdir, WorkdirError, WorkloadType } from './workdir';
export { type RunWorkloadOptions, runWorkload, type WorkloadResult } from './workload';
