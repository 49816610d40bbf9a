import {
  CONNECTOR_JOB_WORKFLOW,
  ConnectorJobInput,
  type ConnectorJobOutput,
  WORKLOAD_SIGNAL,
} from '@sluice/platform';
import { CancelledError, defineWorkflow, type WorkflowContext } from '@sluice/workflow';
import { step, type WorkflowDeps } from '../deps';
import { waitForWorkload } from './wait';

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
