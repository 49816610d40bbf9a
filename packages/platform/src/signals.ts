import type { Workload } from '@sluice/db';
import type { Engine } from '@sluice/workflow';
import { isTerminalStatus, SignalInput, type TerminalHook } from '@sluice/workload';
import { z } from 'zod';

/** A workload that has ended, as a workflow records it (its output stays in Postgres). */
export interface WorkloadOutcome {
  id: string;
  status: 'success' | 'failure' | 'cancelled';
  terminationReason: string | null;
  terminationSource: string | null;
}

export function outcomeOf(
  w: Pick<Workload, 'id' | 'status' | 'terminationReason' | 'terminationSource'>,
): WorkloadOutcome | null {
  if (!isTerminalStatus(w.status)) return null;
  return {
    id: w.id,
    status: w.status,
    terminationReason: w.terminationReason,
    terminationSource: w.terminationSource,
  };
}

/** The payload of the completion signal. */
export const WorkloadSignalPayload = z.object({ workloadId: z.string(), status: z.string() });
export type WorkloadSignalPayload = z.infer<typeof WorkloadSignalPayload>;

/**
 * The Workload service's `onTerminal` hook: signals the workflow waiting on the workload. Give
 * it to every process whose Workload service ends workloads — the API (the middleware reports
 * success and failure there), the worker (cancel, sweeper) and launchers.
 */
export function workloadSignaller(
  engine: Pick<Engine, 'signal'>,
  log?: { warn(o: object, m: string): void },
): TerminalHook {
  return async (w) => {
    const target = SignalInput.safeParse(w.signalInput);
    if (!target.success) return;
    try {
      await engine.signal(target.data.workflowId, target.data.signalName, {
        workloadId: w.id,
        status: w.status,
      } satisfies WorkloadSignalPayload);
    } catch (err) {
      // The workflow is gone (finished, or lost with Redis): the reconciler takes over.
      log?.warn(
        { err: (err as Error).message, workloadId: w.id },
        'could not signal the workload completion',
      );
    }
  };
}
