/**
 * How long a workload may stay in each status before the sweeper fails it. Every value is
 * configurable (tests use milliseconds; deployments use `env.ts`).
 */
export interface WorkloadTimeouts {
  /** pending → claimed: no launcher of the group took it. */
  pendingMs: number;
  /** claimed → launched: the launcher claimed it but did not start it. */
  claimedMs: number;
  /** launched → running: the programs started but the middleware never reported. */
  launchedMs: number;
  /** How often the middleware heartbeats (told to it in every heartbeat answer). */
  heartbeatIntervalMs: number;
  /** running without a heartbeat for this long: failed. */
  heartbeatTimeoutMs: number;
  /** After a cancel, how long the programs get to stop before the workload counts as ended
   * anyway (it then releases its mutex). Longer than a heartbeat interval plus a stop grace. */
  cancelGraceMs: number;
  /** What a launcher is told to wait before retrying a claim blocked by the mutex. */
  blockedRetryMs: number;
}

export const DEFAULT_TIMEOUTS: WorkloadTimeouts = {
  pendingMs: 60 * 60_000,
  claimedMs: 5 * 60_000,
  launchedMs: 5 * 60_000,
  heartbeatIntervalMs: 30_000,
  heartbeatTimeoutMs: 5 * 60_000,
  cancelGraceMs: 2 * 60_000,
  blockedRetryMs: 2_000,
};

/** Go-style durations as users read them in failure reasons: 5m0s, 1h0m0s, 30s, 250ms. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
