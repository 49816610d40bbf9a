import type { Logger } from 'pino';
import { z } from 'zod';
import type { SerializedError } from './errors';

export const WorkflowStatus = z.enum(['running', 'sleeping', 'waiting', 'completed', 'failed', 'cancelled']);
export type WorkflowStatus = z.infer<typeof WorkflowStatus>;

export const TERMINAL_STATUSES: readonly WorkflowStatus[] = ['completed', 'failed', 'cancelled'];
export function isTerminal(status: string | null | undefined): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/** How a step is retried. Delays grow as initialIntervalMs × backoffCoefficient^(attempt-1). */
export const RetryPolicy = z.object({
  /** Total attempts including the first; 1 disables retries. */
  maxAttempts: z.number().int().min(1),
  initialIntervalMs: z.number().int().min(0),
  backoffCoefficient: z.number().min(1),
  maxIntervalMs: z.number().int().min(0),
  /** Random spread of each delay, 0..1 (0.1 = ±10%). */
  jitter: z.number().min(0).max(1),
  /** Error names (err.name) never retried, besides NonRetryableError and CancelledError. */
  nonRetryableErrors: z.array(z.string()),
});
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const DEFAULT_RETRY: RetryPolicy = {
  maxAttempts: 5,
  initialIntervalMs: 1000,
  backoffCoefficient: 2,
  maxIntervalMs: 60_000,
  jitter: 0,
  nonRetryableErrors: [],
};

export interface StepOptions {
  retry?: Partial<RetryPolicy>;
  /** Per-attempt timeout; the step's AbortSignal fires and the attempt fails with TimeoutError. */
  timeoutMs?: number;
}

export interface StepContext {
  /** Fires on cancellation (from any process), on the step timeout and on worker shutdown. */
  readonly signal: AbortSignal;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly stepName: string;
  readonly workflowId: string;
  readonly runId: string;
  readonly log: Logger;
}

export interface SignalMessage<T = unknown> {
  name: string;
  payload: T;
  /** Epoch ms at which `signal()` stored it. */
  sentAt: number;
}

export interface WaitForSignalOptions {
  /** Give up after this many ms and return null; 0 polls without waiting. */
  timeout?: number;
  /** Give up at this moment and return null. */
  until?: Date | number;
}

export interface ChildOptions {
  /** Default true: an existing child with that id (even finished) is reused, never restarted. */
  idempotent?: boolean;
}

export interface ChildHandle<O = unknown> {
  readonly workflowId: string;
  readonly runId: string;
  /** Waits (durably) for the child to finish; rejects with WorkflowFailedError or CancelledError. */
  result(): Promise<O>;
}

export interface WorkflowInfoCtx {
  readonly workflowId: string;
  readonly runId: string;
  readonly workflowName: string;
  /** Epoch ms of the first run of this workflow id. */
  readonly startedAt: number;
  /** Epoch ms at which this run (after continue-as-new, the new run) started. */
  readonly runStartedAt: number;
  /** 1 for the first run, +1 per continue-as-new. */
  readonly runNumber: number;
}

/**
 * What a workflow function sees. The function is replayed from the top on each activation,
 * so it must reach the outside world only through these commands, issued in a
 * deterministic order (Promise.all over commands is fine; Promise.race is not).
 */
export interface WorkflowContext {
  readonly workflowId: string;
  readonly runId: string;
  readonly info: WorkflowInfoCtx;
  /** Aborted once a cancellation has been delivered to this run (deterministic across replays). */
  readonly signal: AbortSignal;
  /** True once a cancellation has been delivered (deterministic across replays). */
  readonly cancelled: boolean;
  /** True while the code is re-executing commands whose results are already recorded. */
  readonly isReplaying: boolean;
  /** Logs only when not replaying. */
  readonly log: Logger;

  step<T>(name: string, fn: (step: StepContext) => Promise<T> | T, options?: StepOptions): Promise<T>;
  sleep(ms: number): Promise<void>;
  sleepUntil(date: Date | number): Promise<void>;
  waitForSignal<T = unknown>(
    name: string | readonly string[],
    options?: WaitForSignalOptions,
  ): Promise<SignalMessage<T> | null>;
  /** Deterministic clock: the first execution records Date.now(), replays return it. */
  now(): number;
  /** Deterministic random UUID. */
  uuid(): string;
  /** Shown by `engine.query()`; JSON. */
  setState(state: unknown): void;
  /** Ends this run and starts a fresh one with an empty history (pending signals carry over). */
  continueAsNew(input: unknown): Promise<never>;
  startChild<O = unknown>(
    workflow: string | WorkflowDefinition<z.ZodType, O>,
    workflowId: string,
    input: unknown,
    options?: ChildOptions,
  ): Promise<ChildHandle<O>>;
  executeChild<O = unknown>(
    workflow: string | WorkflowDefinition<z.ZodType, O>,
    workflowId: string,
    input: unknown,
    options?: ChildOptions,
  ): Promise<O>;
}

export interface WorkflowDefinitionOptions {
  /** Default retry policy for this workflow's steps. */
  retry?: Partial<RetryPolicy>;
}

export interface WorkflowDefinition<S extends z.ZodType = z.ZodType, O = unknown> {
  readonly name: string;
  readonly inputSchema: S;
  readonly fn: (ctx: WorkflowContext, input: z.output<S>) => Promise<O>;
  readonly options: WorkflowDefinitionOptions;
  /** Phantom member carrying the output type. */
  readonly __output?: O;
}

export type WorkflowInput<D> = D extends WorkflowDefinition<infer S, unknown> ? z.input<S> : unknown;
export type WorkflowOutput<D> = D extends WorkflowDefinition<z.ZodType, infer O> ? O : unknown;

export interface WorkflowInfo {
  workflowId: string;
  name: string;
  runId: string;
  status: WorkflowStatus;
  input: unknown;
  /** Last value passed to ctx.setState (kept across continue-as-new). */
  state: unknown;
  output: unknown;
  error: SerializedError | null;
  startedAt: number;
  runStartedAt: number;
  updatedAt: number;
  closedAt: number | null;
  /** Runs so far (continue-as-new adds one). */
  runs: number;
  /** When a sleeping/waiting workflow's job is due next. */
  wakeAt: number | null;
  waitingFor: { signals: string[]; children: string[]; timer: boolean } | null;
  parent: { workflowId: string; runId: string } | null;
  cancelRequested: boolean;
  /** Entries in the current run's history. */
  historyLength: number;
  pendingSignals: number;
}

export interface StartOptions {
  /**
   * true (default): an existing workflow with this id is returned whatever its status;
   * false: a finished one (completed/failed/cancelled) is replaced by a fresh run.
   * A running one is always returned: one id never runs twice at once.
   */
  idempotent?: boolean;
}

export interface StartResult {
  workflowId: string;
  runId: string;
  /** False when an existing run was returned. */
  created: boolean;
  status: WorkflowStatus;
}

export interface StepEvent {
  workflowName: string;
  workflowId: string;
  step: string;
  attempt: number;
  durationMs: number;
  outcome: 'completed' | 'retrying' | 'failed' | 'cancelled';
}

export interface ActivationEvent {
  workflowName: string;
  workflowId: string;
  durationMs: number;
  outcome: 'completed' | 'failed' | 'cancelled' | 'suspended' | 'continued' | 'abandoned';
}

export interface WorkflowEndEvent {
  workflowName: string;
  workflowId: string;
  status: 'completed' | 'failed' | 'cancelled';
  /** Since runStartedAt. */
  durationMs: number;
}

/** Metrics hooks (e.g. for prom-client); called synchronously, errors are swallowed. */
export interface EngineHooks {
  onStep?(event: StepEvent): void;
  onActivation?(event: ActivationEvent): void;
  onWorkflowEnd?(event: WorkflowEndEvent): void;
}
