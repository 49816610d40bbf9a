import { ConnectorInput } from '@sluice/workload';
import { z } from 'zod';

/**
 * The input of the worker's `connector-job` workflow (spec, check, discover), started by
 * `WorkflowConnectorRunner` in the API process.
 */
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

/** How the workload ended; its result (spec, status, catalog) stays in Postgres as its output. */
export interface ConnectorJobOutput {
  workloadId: string;
  status: 'success' | 'failure' | 'cancelled';
  reason: string | null;
  source: string | null;
  /** The workflow cancelled the workload because it ran out of time. */
  timedOut: boolean;
}
