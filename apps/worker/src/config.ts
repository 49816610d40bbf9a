import { DEFAULT_PLATFORM_CONFIG, type PlatformConfig } from '@sluice/platform';
import type { RetryPolicy } from '@sluice/workflow';

/**
 * When a failed attempt is retried, as Airbyte's RetryManager decides it. An attempt that made
 * progress (committed records or state) is a partial failure and is retried at once; one
 * without progress is a complete failure and waits `min × base^(n-1)` (n = complete failures in
 * a row), capped at `maxMs`.
 */
export interface AttemptRetryConfig {
  completeFailureBackoffMinMs: number;
  completeFailureBackoffBase: number;
  completeFailureBackoffMaxMs: number;
  successiveCompleteFailureLimit: number;
  totalCompleteFailureLimit: number;
  successivePartialFailureLimit: number;
  totalPartialFailureLimit: number;
}

/** Airbyte disables a connection whose syncs keep failing, and warns before. */
export interface AutoDisableConfig {
  maxFailedJobsInARow: number;
  maxDaysOfOnlyFailedJobs: number;
  warnFailedJobsInARow: number;
  warnDaysOfOnlyFailedJobs: number;
}

/** The platform's part (connector timeouts, the spec runs' dataplane group) plus the workflows'. */
export interface WorkerConfig extends PlatformConfig {
  retry: AttemptRetryConfig;
  autoDisable: AutoDisableConfig;
  /** Discover runs before a sync attempt unless the source's catalog is younger than this (0: always). */
  discoverMaxAgeMs: number;
  /** A workflow waiting on a workload also checks its row this often (doubling up to the max),
   * in case the completion signal was lost. */
  workloadPollMs: number;
  workloadPollMaxMs: number;
  /** Smallest gap between two scheduled syncs of a connection ("at least 60 s apart"). */
  minScheduleIntervalMs: number;
  /**
   * Divides basic-schedule intervals and the minimum gap. 1 in production; tests use it to run
   * an "every minute" schedule every second.
   */
  scheduleTimeScale: number;
  /** Webhook deliveries: per-request timeout and the retry policy of each delivery step. */
  webhook: { timeoutMs: number; retry: Partial<RetryPolicy> };
  /** Step retries of the platform's own steps (database hiccups). */
  stepRetry: Partial<RetryPolicy>;
}

export const DEFAULT_CONFIG: WorkerConfig = {
  ...DEFAULT_PLATFORM_CONFIG,
  retry: {
    completeFailureBackoffMinMs: 10_000,
    completeFailureBackoffBase: 3,
    completeFailureBackoffMaxMs: 30 * 60_000,
    successiveCompleteFailureLimit: 5,
    totalCompleteFailureLimit: 10,
    successivePartialFailureLimit: 1000,
    totalPartialFailureLimit: 20,
  },
  autoDisable: {
    maxFailedJobsInARow: 100,
    maxDaysOfOnlyFailedJobs: 14,
    warnFailedJobsInARow: 50,
    warnDaysOfOnlyFailedJobs: 7,
  },
  discoverMaxAgeMs: 0,
  workloadPollMs: 60_000,
  workloadPollMaxMs: 10 * 60_000,
  minScheduleIntervalMs: 60_000,
  scheduleTimeScale: 1,
  webhook: {
    timeoutMs: 10_000,
    retry: {
      maxAttempts: 8,
      initialIntervalMs: 5_000,
      backoffCoefficient: 2,
      maxIntervalMs: 10 * 60_000,
      jitter: 0.1,
    },
  },
  stepRetry: { maxAttempts: 10, initialIntervalMs: 1_000, backoffCoefficient: 2, maxIntervalMs: 60_000 },
};

export type WorkerConfigInput = {
  [K in keyof WorkerConfig]?: WorkerConfig[K] extends object ? Partial<WorkerConfig[K]> : WorkerConfig[K];
};

export function resolveConfig(input: WorkerConfigInput = {}): WorkerConfig {
  return {
    ...DEFAULT_CONFIG,
    ...input,
    retry: { ...DEFAULT_CONFIG.retry, ...input.retry },
    autoDisable: { ...DEFAULT_CONFIG.autoDisable, ...input.autoDisable },
    connectorTimeoutsMs: { ...DEFAULT_CONFIG.connectorTimeoutsMs, ...input.connectorTimeoutsMs },
    webhook: { ...DEFAULT_CONFIG.webhook, ...input.webhook },
    stepRetry: { ...DEFAULT_CONFIG.stepRetry, ...input.stepRetry },
  } as WorkerConfig;
}

export interface RetryCounters {
  successiveComplete: number;
  totalComplete: number;
  successivePartial: number;
  totalPartial: number;
}

export const NO_FAILURES: RetryCounters = {
  successiveComplete: 0,
  totalComplete: 0,
  successivePartial: 0,
  totalPartial: 0,
};

/** Counts one more failed attempt. */
export function countFailure(c: RetryCounters, progress: boolean): RetryCounters {
  return progress
    ? {
        successiveComplete: 0,
        totalComplete: c.totalComplete,
        successivePartial: c.successivePartial + 1,
        totalPartial: c.totalPartial + 1,
      }
    : {
        successiveComplete: c.successiveComplete + 1,
        totalComplete: c.totalComplete + 1,
        successivePartial: 0,
        totalPartial: c.totalPartial,
      };
}

/** Whether another attempt may run, and after how long. */
export function retryDecision(
  c: RetryCounters,
  r: AttemptRetryConfig,
): { retry: false; reason: string } | { retry: true; backoffMs: number } {
  if (c.successiveComplete >= r.successiveCompleteFailureLimit)
    return { retry: false, reason: `${c.successiveComplete} attempts in a row failed without progress` };
  if (c.totalComplete >= r.totalCompleteFailureLimit)
    return { retry: false, reason: `${c.totalComplete} attempts failed without progress` };
  if (c.successivePartial >= r.successivePartialFailureLimit)
    return { retry: false, reason: `${c.successivePartial} attempts in a row failed after partial progress` };
  if (c.totalPartial >= r.totalPartialFailureLimit)
    return { retry: false, reason: `${c.totalPartial} attempts failed after partial progress` };
  if (c.successiveComplete === 0) return { retry: true, backoffMs: 0 };
  const ms = r.completeFailureBackoffMinMs * r.completeFailureBackoffBase ** (c.successiveComplete - 1);
  return { retry: true, backoffMs: Math.min(ms, r.completeFailureBackoffMaxMs) };
}
