import { z } from 'zod';

/**
 * A failure as it is stored in Redis: errors cross process boundaries and replays, so only
 * their name, message, stack and JSON-safe details survive.
 */
export const SerializedError = z.object({
  name: z.string(),
  message: z.string(),
  stack: z.string().optional(),
  details: z.unknown().optional(),
  nonRetryable: z.boolean().optional(),
  cause: z.unknown().optional(),
});
export type SerializedError = {
  name: string;
  message: string;
  stack?: string;
  details?: unknown;
  nonRetryable?: boolean;
  cause?: SerializedError;
};

interface ErrorOptions {
  cause?: unknown;
  details?: unknown;
}

/** Thrown from a step (or a workflow) to stop retries at once. */
export class NonRetryableError extends Error {
  override name = 'NonRetryableError';
  readonly details?: unknown;
  constructor(message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
  }
}

/** The workflow (or the command it was waiting on) was cancelled. */
export class CancelledError extends Error {
  override name = 'CancelledError';
  readonly reason?: string;
  constructor(reason?: string) {
    super(reason ? `cancelled: ${reason}` : 'cancelled');
    this.reason = reason;
  }
}

/** A step exceeded its timeout, or `result()` gave up waiting. */
export class TimeoutError extends Error {
  override name = 'TimeoutError';
}

/** A step failed for good: its retries ran out or it threw a non-retryable error. */
export class StepFailedError extends Error {
  override name = 'StepFailedError';
  readonly stepName: string;
  readonly attempts: number;
  readonly nonRetryable: boolean;
  override readonly cause: Error;
  constructor(stepName: string, attempts: number, cause: Error, nonRetryable: boolean) {
    super(
      `step "${stepName}" failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${cause.message}`,
    );
    this.stepName = stepName;
    this.attempts = attempts;
    this.cause = cause;
    this.nonRetryable = nonRetryable;
  }
}

/** Returned by `engine.result()` (and a child's result) when the workflow failed. */
export class WorkflowFailedError extends Error {
  override name = 'WorkflowFailedError';
  readonly workflowId: string;
  readonly failure: SerializedError;
  constructor(workflowId: string, failure: SerializedError) {
    super(`workflow "${workflowId}" failed: ${failure.name}: ${failure.message}`);
    this.workflowId = workflowId;
    this.failure = failure;
  }
}

export class WorkflowNotFoundError extends Error {
  override name = 'WorkflowNotFoundError';
  readonly workflowId: string;
  constructor(workflowId: string) {
    super(`workflow "${workflowId}" does not exist`);
    this.workflowId = workflowId;
  }
}

/** `start` found the id taken by a workflow of another type. */
export class WorkflowExistsError extends Error {
  override name = 'WorkflowExistsError';
  readonly workflowId: string;
  constructor(workflowId: string, existingName: string, requestedName: string) {
    super(`workflow id "${workflowId}" belongs to a "${existingName}" workflow, not "${requestedName}"`);
    this.workflowId = workflowId;
  }
}

/** The workflow code issued commands in a different order than its recorded history. */
export class NonDeterminismError extends NonRetryableError {
  override name = 'NonDeterminismError';
}

/** Input rejected by a workflow's schema. */
export class InputValidationError extends NonRetryableError {
  override name = 'InputValidationError';
}

/** Set as the error of a workflow ended by `engine.terminate()`. */
export class TerminatedError extends NonRetryableError {
  override name = 'TerminatedError';
}

/** Rejects a step that a worker abandoned while shutting down; never stored. */
export class ShutdownError extends Error {
  override name = 'ShutdownError';
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const out: SerializedError = { name: err.name || 'Error', message: err.message };
    if (err.stack) out.stack = err.stack;
    const details = (err as { details?: unknown }).details;
    if (details !== undefined) out.details = jsonSafe(details);
    if (err instanceof NonRetryableError) out.nonRetryable = true;
    if (err.cause instanceof Error) out.cause = serializeError(err.cause);
    return out;
  }
  return { name: 'Error', message: typeof err === 'string' ? err : safeString(err) };
}

/** Rebuilds a stored failure; known names come back as their classes so `instanceof` works. */
export function deserializeError(s: SerializedError): Error {
  let err: Error;
  const cause = s.cause ? deserializeError(s.cause) : undefined;
  switch (s.name) {
    case 'CancelledError':
      err = new CancelledError(s.message.replace(/^cancelled:? ?/, '') || undefined);
      break;
    case 'TimeoutError':
      err = new TimeoutError(s.message);
      break;
    case 'NonRetryableError':
      err = new NonRetryableError(s.message, { cause, details: s.details });
      break;
    case 'NonDeterminismError':
      err = new NonDeterminismError(s.message, { cause, details: s.details });
      break;
    case 'InputValidationError':
      err = new InputValidationError(s.message, { cause, details: s.details });
      break;
    case 'TerminatedError':
      err = new TerminatedError(s.message, { cause, details: s.details });
      break;
    default: {
      err = s.nonRetryable ? new NonRetryableError(s.message, { cause }) : new Error(s.message, { cause });
      err.name = s.name;
      if (s.details !== undefined) (err as { details?: unknown }).details = s.details;
    }
  }
  if (s.stack) err.stack = s.stack;
  return err;
}

function jsonSafe(value: unknown): unknown {
  try {
    return JSON.parse(JSON.stringify(value));
  } catch {
    return safeString(value);
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return 'unknown error';
  }
}
