import { DbEnv } from '@sluice/db';
import { parseEnv } from '@sluice/shared';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const positiveInt = z.coerce.number().int().positive();

/**
 * The worker's environment. Workload timeouts and the dataplane settings are read by
 * `@sluice/workload`'s own `loadWorkloadEnv`.
 */
export const WorkerEnv = DbEnv.extend({
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((u) => /^rediss?:\/\//.test(u), 'must be a redis:// or rediss:// URL'),
  /** Key prefix of the workflow engine and the workload queues (shared with the API and launchers). */
  SLUICE_QUEUE_PREFIX: z
    .string()
    .regex(/^[^\s:]+$/, 'no whitespace or ":"')
    .default('sluice'),
  /** Workflow activations run at once in this process. They mostly wait on Postgres and Redis,
   * so this is high: a thousand connections due at the same minute all start at once. */
  SLUICE_WORKER_CONCURRENCY: positiveInt.default(1000),
  /** `/metrics` and `/healthz`; 0 disables the HTTP server. */
  SLUICE_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  SLUICE_WORKER_METRICS_HOST: z.string().default('0.0.0.0'),
  /** Database pool size of this process. */
  SLUICE_WORKER_DB_POOL: positiveInt.default(20),
  /** Run the cron sweeps (sweeper, retention, reconciler) in this process; each tick runs on one
   * worker of the deployment (a Redis lease), so every worker may keep this on. */
  SLUICE_WORKER_SWEEPS: bool.default(true),
  /** Days finished jobs (with their attempts, stats and logs) are kept; the latest
   * SLUICE_JOB_RETENTION_MIN_JOBS of each connection are always kept. */
  SLUICE_JOB_RETENTION_DAYS: positiveInt.default(30),
  SLUICE_JOB_RETENTION_MIN_JOBS: z.coerce.number().int().min(0).default(20),
  /** Attempt logs older than this are deleted even when their job is kept. */
  SLUICE_LOG_RETENTION_DAYS: positiveInt.default(30),
  /** Run discover before every sync attempt (as the issue asks) unless the source's catalog was
   * fetched less than this many ms ago; 0 = always. */
  SLUICE_DISCOVER_MAX_AGE_MS: z.coerce.number().int().min(0).default(0),
  /** Drain deadline on SIGTERM. */
  SLUICE_WORKER_SHUTDOWN_MS: positiveInt.default(25_000),
});
export type WorkerEnv = z.infer<typeof WorkerEnv>;

export function loadWorkerEnv(source: Record<string, string | undefined> = process.env): WorkerEnv {
  return parseEnv(WorkerEnv, source);
}
