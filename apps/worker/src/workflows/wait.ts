import { WORKLOAD_SIGNAL, type WorkloadOutcome, WorkloadSignalPayload } from '@sluice/platform';
import type { SignalMessage, WorkflowContext } from '@sluice/workflow';
import { step, type WorkflowDeps } from '../deps';

export interface WaitOptions {
  /** Other signals to listen to meanwhile. */
  signals?: readonly string[];
  /** Called for each of them: a string cancels the workload with that reason. */
  onSignal?: (sig: SignalMessage) => Promise<string | null> | string | null;
  /** Cancel the workload at this moment (epoch ms). */
  deadline?: number;
  deadlineReason?: string;
}

export interface WaitResult {
  outcome: WorkloadOutcome;
  /** Why this workflow cancelled the workload, if it did. */
  cancelledBecause: string | null;
}

/**
 * Waits for a workload to end. The completion normally arrives as a signal (the Workload
 * service's onTerminal hook); the workflow also re-reads the workload now and then (backing
 * off) so a lost signal only delays it. Signals for other workloads (left over from earlier
 * attempts, or sent twice by the reconciler) are skipped.
 */
export async function waitForWorkload(
  ctx: WorkflowContext,
  deps: WorkflowDeps,
  workloadId: string,
  opts: WaitOptions = {},
): Promise<WaitResult> {
  const names = [WORKLOAD_SIGNAL, ...(opts.signals ?? [])];
  let poll = deps.config.workloadPollMs;
  let cancelledBecause: string | null = null;
  setState(ctx, { ...(currentState(ctx) ?? {}), workloadId });
  const cancel = async (reason: string): Promise<WaitResult | null> => {
    if (cancelledBecause !== null) return null;
    cancelledBecause = reason;
    const o = await step(ctx, deps, 'cancel-workload', () => deps.workloads.cancel(workloadId, reason));
    return o ? { outcome: o, cancelledBecause } : null;
  };
  for (;;) {
    const now = ctx.now();
    const until = Math.min(now + poll, opts.deadline ?? Number.POSITIVE_INFINITY);
    const sig = await ctx.waitForSignal(names, { until });
    if (sig === null) {
      if (opts.deadline !== undefined && ctx.now() >= opts.deadline && cancelledBecause === null) {
        const done = await cancel(opts.deadlineReason ?? 'timed out');
        if (done) return done;
        continue;
      }
      const o = await step(ctx, deps, 'check-workload', () => deps.workloads.outcome(workloadId));
      if (o) return { outcome: o, cancelledBecause };
      poll = Math.min(poll * 2, deps.config.workloadPollMaxMs);
      continue;
    }
    if (sig.name === WORKLOAD_SIGNAL) {
      const p = WorkloadSignalPayload.safeParse(sig.payload);
      if (!p.success || p.data.workloadId !== workloadId) continue;
      const o = await step(ctx, deps, 'check-workload', () => deps.workloads.outcome(workloadId));
      if (o) return { outcome: o, cancelledBecause };
      continue;
    }
    const reason = (await opts.onSignal?.(sig)) ?? null;
    if (reason !== null) {
      const done = await cancel(reason);
      if (done) return done;
    }
  }
}

// setState replaces the whole value; workflows keep theirs in one object per context.
const states = new WeakMap<WorkflowContext, Record<string, unknown>>();

export function currentState(ctx: WorkflowContext): Record<string, unknown> | undefined {
  return states.get(ctx);
}

export function setState(ctx: WorkflowContext, state: Record<string, unknown>): void {
  states.set(ctx, state);
  ctx.setState(state);
}
