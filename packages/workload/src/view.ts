import type { Workload } from '@sluice/db';
import type { WorkloadView } from './types';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** JSON-safe view of a row (the API has no transformer): dates as ISO strings, no input. */
export function toWorkloadView(w: Workload): WorkloadView {
  return {
    id: w.id,
    autoId: w.autoId,
    type: w.type,
    status: w.status,
    dataplaneGroup: w.dataplaneGroup,
    priority: w.priority,
    mutexKey: w.mutexKey,
    claimedBy: w.claimedBy,
    deadline: iso(w.deadline),
    lastHeartbeatAt: iso(w.lastHeartbeatAt),
    output: w.output ?? null,
    signalInput: w.signalInput ?? null,
    terminationReason: w.terminationReason,
    terminationSource: w.terminationSource,
    attemptId: w.attemptId,
    createdAt: w.createdAt.toISOString(),
    updatedAt: w.updatedAt.toISOString(),
    claimedAt: iso(w.claimedAt),
    launchedAt: iso(w.launchedAt),
    runningAt: iso(w.runningAt),
    endedAt: iso(w.endedAt),
  };
}
