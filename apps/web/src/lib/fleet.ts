import { z } from 'zod';

/**
 * The fleet views of the dashboard's Fleet page (`workload.admin.*`, instance admins): the page
 * parses the API's answers with these, so a change of shape shows as an error, not a blank.
 */

/** `workload.admin.fleet` (instance admin, query, no input). */
export const FleetMember = z.object({
  id: z.string(),
  kind: z.enum(['worker', 'launcher']),
  dataplaneGroup: z.string().nullable(),
  /** launchers: process | docker | kubernetes. */
  runtime: z.string().nullable(),
  host: z.string().nullable(),
  startedAt: z.string(),
  lastSeenAt: z.string(),
  /** Workloads (launcher) or workflow activations (worker) running now, and the limit. */
  running: z.number(),
  capacity: z.number().nullable(),
});
export type FleetMember = z.infer<typeof FleetMember>;
export const FleetOverview = z.object({ members: z.array(FleetMember) });
export type FleetOverview = z.infer<typeof FleetOverview>;

/** `workload.admin.listActive` (instance admin, query, input `{ dataplaneGroup?, limit? }`). */
export const ActiveWorkload = z.object({
  id: z.string(),
  type: z.string(),
  status: z.string(),
  dataplaneGroup: z.string(),
  claimedBy: z.string().nullable(),
  createdAt: z.string(),
  runningAt: z.string().nullable(),
  lastHeartbeatAt: z.string().nullable(),
  workspaceId: z.string().nullable().optional(),
  connectionId: z.string().nullable().optional(),
  jobId: z.string().nullable().optional(),
});
export type ActiveWorkload = z.infer<typeof ActiveWorkload>;
export const ActiveWorkloads = z.object({ items: z.array(ActiveWorkload) });
