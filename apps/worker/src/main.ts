#!/usr/bin/env node
import { SecretBox } from '@sluice/api';
import { createDb, runBootloader } from '@sluice/db';
import { createLogger } from '@sluice/shared';
import { loadWorkloadEnv } from '@sluice/workload';
import { loadWorkerEnv } from './env';
import { startWorker } from './worker';

const log = createLogger('sluice-worker');

async function main(): Promise<void> {
  const env = loadWorkerEnv();
  const workloadEnv = loadWorkloadEnv();
  await runBootloader({ logger: log.child({ component: 'bootloader' }) });
  const db = createDb({ url: env.DATABASE_URL, poolMax: env.SLUICE_WORKER_DB_POOL });
  const box = new SecretBox(env.SLUICE_SECRET_KEY);
  const worker = await startWorker({
    db,
    redis: env.REDIS_URL,
    prefix: env.SLUICE_QUEUE_PREFIX,
    box,
    logger: log,
    concurrency: env.SLUICE_WORKER_CONCURRENCY,
    config: {
      discoverMaxAgeMs: env.SLUICE_DISCOVER_MAX_AGE_MS,
      defaultDataplaneGroup: workloadEnv.dataplaneGroup,
    },
    workloadTimeouts: workloadEnv.timeouts,
    sweeps: env.SLUICE_WORKER_SWEEPS
      ? {
          retention: {
            jobDays: env.SLUICE_JOB_RETENTION_DAYS,
            minJobsPerConnection: env.SLUICE_JOB_RETENTION_MIN_JOBS,
            logDays: env.SLUICE_LOG_RETENTION_DAYS,
          },
        }
      : false,
    metricsPort: env.SLUICE_WORKER_METRICS_PORT === 0 ? null : env.SLUICE_WORKER_METRICS_PORT,
    metricsHost: env.SLUICE_WORKER_METRICS_HOST,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'draining the worker');
    worker
      .close(env.SLUICE_WORKER_SHUTDOWN_MS)
      .then(() => db.$disconnect())
      .then(() => process.exit(0))
      .catch((err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  log.fatal({ err: (err as Error).message, name: (err as Error).name }, 'the worker cannot start');
  process.exit(1);
});
