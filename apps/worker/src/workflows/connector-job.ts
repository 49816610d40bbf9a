import { CancelledError, defineWorkflow, type WorkflowContext } from '@sluice/workflow';
import { ConnectorInput } from '@sluice/workload';
import { z } from 'zod';
import { step, type WorkflowDeps } from '../deps';
import { CONNECTOR_JOB_WORKFLOW, WORKLOAD_SIGNAL } from '../ids';
import { waitForWorkload } from './wait';

export const ConnectorJobInput = z.object({
  kind: z.enum(['spec', 'check', 'discover']),
  workloadId: z.string().min(1),
  dataplaneGroup: z.string().min(1),
  timeoutMs: z.number().int().positive(),
  /** The API's check/discover job and attempt (spec runs have none). */
  jobId: z.uuid().optional(),
  attemptId: z.uuid().optional(),
  workspaceId: z.uuid().optional(),
  /** The connector, its config sealed as stored. */
  connector: ConnectorInput,
});
export type ConnectorJobInput = z.infer<typeof ConnectorJobInput>;

export interface ConnectorJobOutput {
  workloadId: string;
  status: 'success' | 'failure' | 'cancelled';
  reason: string | null;
  source: string | null;
  /** The workflow cancelled the workload because it ran out of time. */
  timedOut: boolean;
}

/**
 * Spec, check and discover behind the Config API: creates the workload, waits for it (cancelling
 * it at the deadline or when this workflow is cancelled) and returns how it ended. The result
 * itself (spec, connection status, catalog) is the workload's output in Postgres, which the
 * runner reads: catalogs can be large and do not belong in Redis.
 */
export function connectorJobWorkflow(deps: WorkflowDeps) {
  return defineWorkflow(
    CONNECTOR_JOB_WORKFLOW,
    ConnectorJobInput,
    async (ctx: WorkflowContext, input): Promise<ConnectorJobOutput> => {
      const id = input.workloadId;
      const deadline = ctx.info.startedAt + input.timeoutMs;
      try {
        const created = await step(ctx, deps, 'create-workload', () =>
          deps.workloads.create({
            id,
            type: input.kind,
            input: {
              ...(input.jobId ? { jobId: input.jobId, attemptNumber: 0 } : {}),
              ...(input.workspaceId ? { workspaceId: input.workspaceId } : {}),
              connector: input.connector,
            },
            dataplaneGroup: input.dataplaneGroup,
            attemptId: input.attemptId ?? null,
            // Interactive: ahead of syncs waiting for a launcher.
            priority: 100,
            signalInput: { workflowId: ctx.workflowId, signalName: WORKLOAD_SIGNAL },
          }),
        );
        const w = created
          ? { outcome: created, cancelledBecause: null }
          : await waitForWorkload(ctx, deps, id, {
              deadline,
              deadlineReason: `no result within ${Math.round(input.timeoutMs / 1000)} s`,
            });
        return {
          workloadId: id,
          status: w.outcome.status,
          reason: w.outcome.terminationReason,
          source: w.outcome.terminationSource,
          timedOut: w.cancelledBecause !== null,
        };
      } catch (err) {
        if (err instanceof CancelledError) {
          await step(ctx, deps, 'cancel-workload', () =>
            deps.workloads.cancel(id, 'the request was cancelled'),
          );
        }
        throw err;
      }
    },
  );
}
