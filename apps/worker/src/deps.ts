import type { SecretBox } from '@sluice/api';
import type { Db } from '@sluice/db';
import type { Logger } from '@sluice/shared';
import type { Engine, StepContext, StepOptions, WorkflowContext } from '@sluice/workflow';
import type { WorkerConfig } from './config';
import type { WorkloadGateway } from './workloads';

/** Where a step is, for fault injection in tests. */
export interface StepPoint {
  workflowId: string;
  runId: string;
  step: string;
  /** How many steps of this name ran before in this run: with the name, it identifies the step. */
  occurrence: number;
  attempt: number;
}

/**
 * Hooks around every step of the worker's workflows. Production leaves them unset; the crash
 * tests count each step's side effect in Postgres and kill the process at random points.
 */
export interface StepFaults {
  beforeStep?(point: StepPoint): Promise<void> | void;
  /** After the step's side effect, before its result is stored. */
  afterStep?(point: StepPoint): Promise<void> | void;
}

/** What the workflows need; one instance per worker process. */
export interface WorkflowDeps {
  db: Db;
  engine: Engine;
  box: SecretBox;
  workloads: WorkloadGateway;
  config: WorkerConfig;
  logger: Logger;
  faults?: StepFaults | undefined;
  /** Observes when a scheduled sync's job row was created (metrics). */
  onScheduledJob?(info: { connectionId: string; dueAt: number; createdAt: number }): void;
}

const occurrences = new WeakMap<WorkflowContext, Map<string, number>>();

/**
 * `ctx.step` with the platform's retry policy and the fault hooks. A fresh context is built
 * for every activation and the replay issues the same steps in the same order, so counting
 * calls per name gives each step a stable identity.
 */
export function step<T>(
  ctx: WorkflowContext,
  deps: WorkflowDeps,
  name: string,
  fn: (s: StepContext) => Promise<T> | T,
  options: StepOptions = {},
): Promise<T> {
  let counts = occurrences.get(ctx);
  if (!counts) {
    counts = new Map();
    occurrences.set(ctx, counts);
  }
  const occurrence = counts.get(name) ?? 0;
  counts.set(name, occurrence + 1);
  const faults = deps.faults;
  const retry = { ...deps.config.stepRetry, ...options.retry };
  if (!faults) return ctx.step(name, fn, { ...options, retry });
  return ctx.step(
    name,
    async (s) => {
      const point = {
        workflowId: ctx.workflowId,
        runId: ctx.runId,
        step: name,
        occurrence,
        attempt: s.attempt,
      };
      await faults.beforeStep?.(point);
      const result = await fn(s);
      await faults.afterStep?.(point);
      return result;
    },
    { ...options, retry },
  );
}
