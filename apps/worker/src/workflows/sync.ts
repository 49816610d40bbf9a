import { type FailureReason, failuresOf, isRetryable, SIGNALS, type WorkloadOutcome } from '@sluice/platform';
import type { SignalMessage, WorkflowContext } from '@sluice/workflow';
import type { PlatformLine } from '@sluice/workload';
import { z } from 'zod';
import {
  type AttemptRef,
  applyDiscoveredCatalog,
  createDiscoverWorkload,
  createSyncWorkload,
  type SchemaOutcome,
  shouldDiscover,
} from '../attempt';
import { platformLine } from '../attempt-log';
import { countFailure, retryDecision } from '../config';
import { step, type WorkflowDeps } from '../deps';
import {
  type AttemptResult,
  createScheduledJob,
  evaluateAutoDisable,
  finalStatsOf,
  finishAttempt,
  finishJob,
  type JobSummary,
  type StartSpec,
  startAttempt,
  startJob,
} from '../jobs';
import { jobEventPayload, notify } from '../notifications';
import { currentState, setState, waitForWorkload } from './wait';

/** Signals a running job listens to (besides workload completions). */
export const JOB_SIGNALS = [
  SIGNALS.cancel,
  SIGNALS.reset,
  SIGNALS.delete,
  SIGNALS.update,
  SIGNALS.sync,
  SIGNALS.reconcile,
];

export const CancelPayload = z
  .object({ jobId: z.string().nullish(), reason: z.string().max(500).nullish() })
  .nullish();

export interface JobRun {
  status: 'succeeded' | 'failed' | 'cancelled' | 'skipped';
  jobId: string | null;
  reason?: string;
}

interface Control {
  connectionId: string;
  jobId: string;
  jobType: 'sync' | 'reset';
  /** Why the job must stop (cancel, reset, delete, disable), once a signal said so. */
  stop: string | null;
  /** Discover already succeeded in this job. */
  discovered: boolean;
}

function cancelledResult(reason: string, workloadId?: string): AttemptResult {
  return {
    status: 'cancelled',
    workloadId: workloadId ?? null,
    failures: [
      {
        failureOrigin: 'platform',
        failureType: 'manual_cancellation',
        externalMessage: reason,
        timestamp: Date.now(),
      },
    ],
  };
}

/** What a signal arriving during a job means for it: a reason to stop, or nothing. */
function signalHandler(ctx: WorkflowContext, deps: WorkflowDeps, control: Control) {
  return async (sig: SignalMessage): Promise<string | null> => {
    if (control.stop) return control.stop;
    let reason: string | null = null;
    switch (sig.name) {
      case SIGNALS.cancel: {
        const p = CancelPayload.safeParse(sig.payload);
        const target = p.success ? p.data?.jobId : null;
        if (!target || target === control.jobId)
          reason = p.success && p.data?.reason ? p.data.reason : 'cancelled by a user';
        break;
      }
      case SIGNALS.reset:
        // Airbyte: a reset cancels the running sync, then runs.
        if (control.jobType === 'sync') reason = 'cancelled: a reset of the connection was requested';
        break;
      case SIGNALS.delete:
        reason = 'cancelled: the connection was deleted';
        break;
      case SIGNALS.update: {
        const status = await step(ctx, deps, 'check-connection', async () => {
          const c = await deps.db.connection.findUnique({
            where: { id: control.connectionId },
            select: { status: true },
          });
          return c?.status ?? 'missing';
        });
        if (status === 'deprecated' || status === 'missing') reason = 'cancelled: the connection was deleted';
        else if (status === 'inactive' && control.jobType === 'sync')
          reason = 'cancelled: the connection was disabled';
        break;
      }
      default:
        break;
    }
    if (reason) control.stop = reason;
    return reason;
  };
}

async function failuresFor(
  ctx: WorkflowContext,
  deps: WorkflowDeps,
  outcome: WorkloadOutcome,
  origin: FailureReason['failureOrigin'] | null,
): Promise<FailureReason[]> {
  return step(ctx, deps, 'workload-failures', async () => {
    const failures = failuresOf(outcome, await deps.workloads.output(outcome.id));
    // Without details from the middleware, a discover failure is the source's.
    return origin
      ? failures.map((f) =>
          f.failureOrigin === 'platform' && f.failureType === 'system_error'
            ? { ...f, failureOrigin: origin }
            : f,
        )
      : failures;
  });
}

const line = (
  deps: WorkflowDeps,
  ref: AttemptRef,
  which: PlatformLine,
  level: 'INFO' | 'WARN' | 'ERROR',
  message: string,
) => platformLine(deps.db, deps.logger, ref.attemptId, which, level, message);

function schemaLine(o: SchemaOutcome): string {
  switch (o.action) {
    case 'unchanged':
      return 'the source schema is unchanged';
    case 'propagated':
      return 'the source schema changed; the change was applied to the connection (its preference)';
    case 'recorded':
      return 'the source schema changed (non-breaking); the change awaits review';
    case 'disabled':
      return o.reason;
    case 'breaking':
      return o.reason;
    case 'failed':
      return `the discovered catalog was not applied: ${o.failures[0]?.externalMessage ?? 'unknown error'}`;
  }
}

async function runAttempt(
  ctx: WorkflowContext,
  deps: WorkflowDeps,
  ref: AttemptRef,
  control: Control,
): Promise<AttemptResult> {
  const onSignal = signalHandler(ctx, deps, control);
  const wait = (workloadId: string) =>
    waitForWorkload(ctx, deps, workloadId, { signals: JOB_SIGNALS, onSignal });

  if (control.jobType === 'sync' && !control.discovered) {
    const needed = await step(ctx, deps, 'should-discover', () => shouldDiscover(deps, ref.jobId));
    if (needed) {
      const prep = await step(ctx, deps, 'create-discover-workload', async () => {
        const p = await createDiscoverWorkload(deps, ref);
        if (p.kind === 'created')
          await line(
            deps,
            ref,
            'discover',
            'INFO',
            `discover of the source runs as workload ${p.workloadId}`,
          );
        return p;
      });
      if (prep.kind === 'failed') return { status: 'failed', failures: prep.failures };
      const w = prep.outcome
        ? { outcome: prep.outcome, cancelledBecause: null }
        : await wait(prep.workloadId);
      if (w.cancelledBecause) return cancelledResult(w.cancelledBecause, prep.workloadId);
      if (w.outcome.status !== 'success') {
        return {
          status: 'failed',
          workloadId: prep.workloadId,
          failures: await failuresFor(ctx, deps, w.outcome, 'source'),
        };
      }
      const schema = await step(ctx, deps, 'apply-catalog', async () => {
        const o = await applyDiscoveredCatalog(deps, ref, prep.workloadId);
        await line(deps, ref, 'schema', o.action === 'breaking' ? 'ERROR' : 'INFO', schemaLine(o));
        return o;
      });
      switch (schema.action) {
        case 'failed':
          return { status: 'failed', workloadId: prep.workloadId, failures: schema.failures };
        case 'breaking':
          return {
            status: 'failed',
            workloadId: prep.workloadId,
            failures: [
              {
                failureOrigin: 'source',
                failureType: 'refresh_schema',
                externalMessage: schema.reason,
                timestamp: Date.now(),
                retryable: false,
              },
            ],
          };
        case 'disabled':
          control.stop = schema.reason;
          return cancelledResult(schema.reason, prep.workloadId);
        default:
          control.discovered = true;
      }
    }
  }

  const prep = await step(ctx, deps, 'create-sync-workload', async () => {
    const p = await createSyncWorkload(deps, ref);
    if (p.kind === 'created')
      await line(deps, ref, 'sync', 'INFO', `${control.jobType} runs as workload ${p.workloadId}`);
    return p;
  });
  if (prep.kind === 'failed') return { status: 'failed', failures: prep.failures };
  const w = prep.outcome ? { outcome: prep.outcome, cancelledBecause: null } : await wait(prep.workloadId);
  if (w.cancelledBecause) return cancelledResult(w.cancelledBecause, prep.workloadId);
  if (w.outcome.status === 'success') return { status: 'succeeded', workloadId: prep.workloadId };
  return {
    status: 'failed',
    workloadId: prep.workloadId,
    failures: await failuresFor(ctx, deps, w.outcome, null),
  };
}

/** Final status, Airbyte's auto-disable rule, notifications. Idempotent (a replayed step). */
async function completeJob(
  deps: WorkflowDeps,
  connectionId: string,
  jobId: string,
  status: 'succeeded' | 'failed' | 'cancelled',
): Promise<{ summary: JobSummary; disabled: boolean }> {
  const summary = await finishJob(deps.db, jobId, status);
  const events: {
    event: 'sync_success' | 'sync_failure' | 'sync_disabled' | 'sync_disabled_warning';
    reason?: string;
  }[] = [];
  let disabled = false;
  if (summary.status === 'succeeded') events.push({ event: 'sync_success' });
  if (summary.status === 'failed') {
    events.push({ event: 'sync_failure' });
    if (summary.type === 'sync') {
      const auto = await evaluateAutoDisable(deps.db, connectionId, deps.config.autoDisable);
      const why = `${auto.failuresInARow} sync jobs in a row failed${auto.failingSinceDays > 0 ? ` (failing for ${auto.failingSinceDays} days)` : ''}`;
      if (auto.action === 'disable') {
        disabled = true;
        events.push({ event: 'sync_disabled', reason: `${why}; re-enable it once the cause is fixed` });
      } else if (auto.action === 'warn') {
        events.push({ event: 'sync_disabled_warning', reason: why });
      }
    }
  }
  for (const e of events) {
    const eventId = `${jobId}:${e.event}`;
    const payload = await jobEventPayload(deps.db, {
      eventId,
      event: e.event,
      job: summary,
      ...(e.reason ? { reason: e.reason } : {}),
    });
    if (payload) await notify(deps, { eventId, workspaceId: summary.workspaceId, event: e.event, payload });
  }
  return { summary, disabled };
}

/**
 * Runs one sync or reset job to its end inside the connection manager: attempts with Airbyte's
 * retry rules (state committed by an attempt carries over to the next, since every attempt's
 * workload reads the connection's state when it starts), then the final status, stats rollup
 * and notifications.
 */
export async function runJob(
  ctx: WorkflowContext,
  deps: WorkflowDeps,
  connectionId: string,
  spec: StartSpec,
): Promise<JobRun> {
  if (spec.kind === 'scheduled') {
    const created = await step(ctx, deps, 'create-job', async () => {
      const r = await createScheduledJob(deps.db, { jobId: spec.jobId, connectionId, dueAt: spec.dueAt });
      if (r.created) deps.onScheduledJob?.({ connectionId, dueAt: spec.dueAt, createdAt: Date.now() });
      return r;
    });
    if (!created.created) return { status: 'skipped', jobId: null, reason: 'the connection is not active' };
  }
  const started = await step(ctx, deps, 'start-job', () => startJob(deps.db, connectionId, spec));
  if (!started.started) return { status: 'skipped', jobId: null, reason: started.reason };
  const { jobId } = started;
  const control: Control = { connectionId, jobId, jobType: started.type, stop: null, discovered: false };
  const onSignal = signalHandler(ctx, deps, control);
  let counters = started.counters;
  let attemptNumber = started.nextAttempt;
  let final: 'succeeded' | 'failed' | 'cancelled';
  for (;;) {
    setState(ctx, { phase: 'running', jobId, jobType: started.type, attempt: attemptNumber });
    const att = await step(ctx, deps, 'start-attempt', async () => {
      const a = await startAttempt(deps.db, jobId, attemptNumber);
      await platformLine(
        deps.db,
        deps.logger,
        a.attemptId,
        'started',
        'INFO',
        `attempt ${attemptNumber} of ${started.type} job ${jobId} started`,
      );
      return a;
    });
    const ref: AttemptRef = { jobId, attemptId: att.attemptId, attemptNumber, workflowId: ctx.workflowId };
    const result = await runAttempt(ctx, deps, ref, control);
    const fin = await step(ctx, deps, 'finish-attempt', async () => {
      const output = result.workloadId ? await deps.workloads.output(result.workloadId) : null;
      const f = await finishAttempt(deps.db, {
        jobId,
        attemptId: att.attemptId,
        stateVersionAtStart: att.stateVersionAtStart,
        result,
        finalStats: finalStatsOf(output),
      });
      const counts = `${f.totals.recordsCommitted} records committed (${f.totals.recordsEmitted} read)`;
      const why = result.failures?.[0]?.externalMessage;
      await line(
        deps,
        ref,
        'ended',
        result.status === 'succeeded' ? 'INFO' : result.status === 'failed' ? 'ERROR' : 'WARN',
        `attempt ${attemptNumber} ${result.status}: ${counts}${why ? `; ${why}` : ''}`,
      );
      return f;
    });
    if (result.status !== 'failed') {
      final = result.status;
      break;
    }
    counters = countFailure(counters, fin.progress);
    if (!isRetryable(result.failures ?? [])) {
      final = 'failed';
      break;
    }
    const decision = retryDecision(counters, deps.config.retry);
    if (!decision.retry) {
      final = 'failed';
      break;
    }
    if (decision.backoffMs > 0) {
      const retryAt = ctx.now() + decision.backoffMs;
      setState(ctx, { ...(currentState(ctx) ?? {}), phase: 'backoff', retryAt });
      let stopped = false;
      for (;;) {
        const sig = await ctx.waitForSignal(JOB_SIGNALS, { until: retryAt });
        if (sig === null) break;
        if (await onSignal(sig)) {
          stopped = true;
          break;
        }
      }
      if (stopped) {
        final = 'cancelled';
        break;
      }
    }
    attemptNumber++;
  }
  const done = await step(ctx, deps, 'finish-job', () => completeJob(deps, connectionId, jobId, final));
  return {
    status: final,
    jobId,
    ...(control.stop ? { reason: control.stop } : {}),
    ...(done.disabled ? { reason: 'auto-disabled' } : {}),
  };
}
