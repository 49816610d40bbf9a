export type { HistoryEntry } from './activation';
export type {
  EngineStats,
  ListOptions,
  ResultOptions,
  ScheduleInfo,
  ScheduleOptions,
  WorkflowSummary,
} from './engine';
export { createEngine, defineWorkflow, Engine, EngineOptions, ScheduleSpec } from './engine';
export {
  CancelledError,
  deserializeError,
  InputValidationError,
  NonDeterminismError,
  NonRetryableError,
  SerializedError,
  StepFailedError,
  serializeError,
  TerminatedError,
  TimeoutError,
  WorkflowExistsError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from './errors';
export type { RedisConnection } from './redis';
export type {
  ActivationEvent,
  ChildHandle,
  ChildOptions,
  EngineHooks,
  SignalMessage,
  StartOptions,
  StartResult,
  StepContext,
  StepEvent,
  StepOptions,
  WaitForSignalOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowDefinitionOptions,
  WorkflowEndEvent,
  WorkflowInfo,
  WorkflowInfoCtx,
  WorkflowInput,
  WorkflowOutput,
} from './types';
export {
  DEFAULT_RETRY,
  isTerminal,
  RetryPolicy,
  TERMINAL_STATUSES,
  WorkflowStatus,
} from './types';
export { WorkflowWorker, WorkflowWorkerOptions } from './worker';
