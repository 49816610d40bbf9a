/** Workflow ids, workload ids and signal names shared by the worker, its clients and tests. */

export const MANAGER_WORKFLOW = 'connection-manager';
export const CONNECTOR_JOB_WORKFLOW = 'connector-job';
export const NOTIFY_WORKFLOW = 'notify';

export const managerWorkflowId = (connectionId: string) => `connection-manager:${connectionId}`;
export const connectorJobWorkflowId = (key: string) => `connector-job:${key}`;
export const notifyWorkflowId = (eventId: string) => `notify:${eventId}`;

/** Deterministic per job attempt, so a replayed step never creates a second workload. */
export const workloadIdFor = (
  jobId: string,
  attemptNumber: number,
  kind: 'sync' | 'discover' | 'check' | 'spec',
) => `${jobId}_${attemptNumber}_${kind}`;

export const connectionMutexKey = (connectionId: string) => `connection:${connectionId}`;

/** The signal a workload's completion sends (through the Workload service's onTerminal hook). */
export const WORKLOAD_SIGNAL = 'workload';

/** Signals of the connection manager. */
export const SIGNALS = {
  sync: 'sync',
  cancel: 'cancel',
  update: 'update',
  reset: 'reset',
  delete: 'delete',
  /** From the reconciler: re-read Postgres (adopt orphaned jobs). */
  reconcile: 'reconcile',
} as const;
export type ManagerSignal = (typeof SIGNALS)[keyof typeof SIGNALS];

export const MANAGER_SIGNALS: readonly string[] = [...Object.values(SIGNALS), WORKLOAD_SIGNAL];
