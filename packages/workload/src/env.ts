import { parseEnv } from '@sluice/shared';
import { z } from 'zod';
import type { WorkloadTimeouts } from './timeouts';
import { DATAPLANE_TOKEN_PREFIX } from './tokens';
import { DataplaneGroup } from './types';

const ms = z.coerce.number().int().positive().optional();

/**
 * What the API, worker and launcher read about workloads from their environment. Timeouts are
 * milliseconds; unset ones keep the defaults (DEFAULT_TIMEOUTS).
 */
export const WorkloadEnv = z.object({
  /** A dataplane token configured by environment (quickstart): set on the API, which registers
   * it with `ensureDataplaneToken`, and on the launchers, which send it. */
  SLUICE_DATAPLANE_TOKEN: z
    .string()
    .startsWith(DATAPLANE_TOKEN_PREFIX, `must start with "${DATAPLANE_TOKEN_PREFIX}"`)
    .min(DATAPLANE_TOKEN_PREFIX.length + 24, 'is too short')
    .optional(),
  SLUICE_DATAPLANE_GROUP: DataplaneGroup.default('default'),
  SLUICE_WORKLOAD_PENDING_TIMEOUT_MS: ms,
  SLUICE_WORKLOAD_CLAIMED_TIMEOUT_MS: ms,
  SLUICE_WORKLOAD_LAUNCHED_TIMEOUT_MS: ms,
  SLUICE_WORKLOAD_HEARTBEAT_INTERVAL_MS: ms,
  SLUICE_WORKLOAD_HEARTBEAT_TIMEOUT_MS: ms,
  SLUICE_WORKLOAD_CANCEL_GRACE_MS: ms,
});
export type WorkloadEnv = z.infer<typeof WorkloadEnv>;

export interface WorkloadSettings {
  dataplaneToken: string | undefined;
  dataplaneGroup: string;
  timeouts: Partial<WorkloadTimeouts>;
}

export function loadWorkloadEnv(env?: Record<string, string | undefined>): WorkloadSettings {
  const e = parseEnv(WorkloadEnv, env);
  const timeouts: Partial<WorkloadTimeouts> = {};
  const set = (key: keyof WorkloadTimeouts, v: number | undefined) => {
    if (v !== undefined) timeouts[key] = v;
  };
  set('pendingMs', e.SLUICE_WORKLOAD_PENDING_TIMEOUT_MS);
  set('claimedMs', e.SLUICE_WORKLOAD_CLAIMED_TIMEOUT_MS);
  set('launchedMs', e.SLUICE_WORKLOAD_LAUNCHED_TIMEOUT_MS);
  set('heartbeatIntervalMs', e.SLUICE_WORKLOAD_HEARTBEAT_INTERVAL_MS);
  set('heartbeatTimeoutMs', e.SLUICE_WORKLOAD_HEARTBEAT_TIMEOUT_MS);
  set('cancelGraceMs', e.SLUICE_WORKLOAD_CANCEL_GRACE_MS);
  return { dataplaneToken: e.SLUICE_DATAPLANE_TOKEN, dataplaneGroup: e.SLUICE_DATAPLANE_GROUP, timeouts };
}
