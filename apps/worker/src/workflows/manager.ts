import { MANAGER_SIGNALS, MANAGER_WORKFLOW, SIGNALS, WORKLOAD_SIGNAL } from '@sluice/platform';
import { defineWorkflow, type WorkflowContext } from '@sluice/workflow';
import { z } from 'zod';
import { step, type WorkflowDeps } from '../deps';
import { abandonJob, cancelPendingJobs, loadManagerPlan } from '../jobs';
import { nextDue } from '../schedule';
import { runJob } from './sync';
import { setState } from './wait';

export const ManagerInput = z.object({
  connectionId: z.uuid(),
  /** The scheduled instant the last scheduled sync ran for (epoch ms). */
  lastDueAt: z.number().nullable().default(null),
  /** Runs so far (continue-as-new count), for operators. */
  cycle: z.number().int().nonnegative().default(0),
});
export type ManagerInput = z.infer<typeof ManagerInput>;

export interface ManagerOutput {
  stopped: 'inactive' | 'deprecated' | 'missing';
}

/** Idle signals that do not change anything; a run ends (continue-as-new) after this many. */
const MAX_IGNORED = 100;

/**
 * One per connection (`connection-manager:<id>`), as Airbyte's ConnectionManagerWorkflow. A run
 * reads the connection from Postgres, then:
 * - takes over a running job whose workflow was lost (the reconciler restarts managers);
 * - runs the oldest queued job (sync now, reset), or
 * - sleeps until the next scheduled instant, woken early by signals (`sync`, `reset`, `update`,
 *   `delete`, `reconcile` re-read Postgres; `cancel` while idle is moot).
 * After each job it continues as new, so its history stays bounded. One workflow per
 * connection running jobs one at a time is what makes "one sync per connection" hold; jobs
 * queued meanwhile (a `pending` row each, made by the API) run afterwards, once.
 * A disabled or deleted connection's manager cancels its queued syncs and ends; the API starts it
 * again when the connection is enabled, and the reconciler if that call was lost.
 */
export function connectionManagerWorkflow(deps: WorkflowDeps) {
  return defineWorkflow(
    MANAGER_WORKFLOW,
    ManagerInput,
    async (ctx: WorkflowContext, input): Promise<ManagerOutput> => {
      const { connectionId } = input;
      const again = (lastDueAt: number | null) =>
        ctx.continueAsNew({ connectionId, lastDueAt, cycle: input.cycle + 1 });
      const plan = await step(ctx, deps, 'load', async () => {
        const p = await loadManagerPlan(deps.db, connectionId);
        let due: number | null = null;
        let scheduleError: string | null = null;
        if (p.status === 'active' && !p.breakingChange) {
          try {
            due = nextDue(p.schedule, {
              lastDueAt: input.lastDueAt,
              lastJobCreatedAt: p.lastJobCreatedAt,
              now: Date.now(),
              minIntervalMs: deps.config.minScheduleIntervalMs,
              timeScale: deps.config.scheduleTimeScale,
            });
          } catch (err) {
            // A schedule the API would refuse (written around it): wait for a fix, do not fail.
            scheduleError = (err as Error).message;
          }
        }
        return { ...p, due, scheduleError };
      });

      if (
        plan.orphan &&
        plan.status !== 'active' &&
        !(plan.status === 'inactive' && plan.orphan.type === 'reset')
      ) {
        const orphan = plan.orphan;
        await step(ctx, deps, 'abandon-job', () =>
          abandonJob(
            deps.db,
            orphan.jobId,
            `cancelled: the connection is ${plan.status === 'inactive' ? 'disabled' : 'deleted'}`,
          ),
        );
        return again(input.lastDueAt);
      }
      if (plan.orphan) {
        setState(ctx, { phase: 'adopting', jobId: plan.orphan.jobId });
        await runJob(ctx, deps, connectionId, { kind: 'adopt', jobId: plan.orphan.jobId });
        return again(input.lastDueAt);
      }
      if (plan.status !== 'active') {
        // A disabled connection may still run a reset it was asked for; nothing else.
        const runnable = plan.status === 'inactive' && plan.pending?.type === 'reset' ? plan.pending : null;
        if (runnable) {
          await runJob(ctx, deps, connectionId, { kind: 'pending', jobId: runnable.jobId });
          return again(input.lastDueAt);
        }
        await step(ctx, deps, 'cancel-queued', () =>
          cancelPendingJobs(deps.db, connectionId, { keepResets: plan.status === 'inactive' }),
        );
        setState(ctx, { phase: 'stopped', status: plan.status });
        return { stopped: plan.status };
      }
      if (plan.pending) {
        await runJob(ctx, deps, connectionId, { kind: 'pending', jobId: plan.pending.jobId });
        return again(input.lastDueAt);
      }

      setState(ctx, {
        phase: 'idle',
        nextSyncAt: plan.due,
        schedule: plan.schedule.type,
        ...(plan.breakingChange ? { paused: 'a breaking schema change awaits review' } : {}),
        ...(plan.scheduleError ? { scheduleError: plan.scheduleError } : {}),
      });
      for (let ignored = 0; ignored < MAX_IGNORED; ignored++) {
        const sig = await ctx.waitForSignal(MANAGER_SIGNALS, plan.due !== null ? { until: plan.due } : {});
        if (sig === null) {
          const due = plan.due as number;
          await runJob(ctx, deps, connectionId, { kind: 'scheduled', jobId: ctx.uuid(), dueAt: due });
          return again(due);
        }
        if (sig.name === SIGNALS.cancel || sig.name === WORKLOAD_SIGNAL) continue;
        return again(input.lastDueAt);
      }
      return again(input.lastDueAt);
    },
  );
}
