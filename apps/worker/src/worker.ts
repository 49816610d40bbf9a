import type { SecretBox } from '@sluice/api';
import type { Db } from '@sluice/db';
import {
  configSecrets,
  createPlatformServices,
  type PlatformServices,
  workloadSignaller,
} from '@sluice/platform';
import { createLogger, type Logger } from '@sluice/shared';
import { createEngine, type Engine, type WorkflowWorker } from '@sluice/workflow';
import { WorkloadQueue, WorkloadService, type WorkloadTimeouts } from '@sluice/workload';
import { resolveConfig, type WorkerConfig, type WorkerConfigInput } from './config';
import type { StepFaults, WorkflowDeps } from './deps';
import { startHttpServer, type WorkerHttpServer } from './http';
import { WorkerMetrics } from './metrics';
import { DEFAULT_SWEEP_INTERVALS, type RetentionSettings, type SweepIntervals, Sweeps } from './sweeps';
import { createWorkflows } from './workflows';
import { serviceWorkloads, type WorkloadGateway } from './workloads';

export interface StartWorkerOptions {
  db: Db;
  redis: string;
  /** Key prefix of the engine and the workload queues (shared with the API and launchers). */
  prefix?: string;
  box: SecretBox;
  logger?: Logger;
  /** Workflow activations at once (default 1000: they mostly wait on I/O). */
  concurrency?: number;
  config?: WorkerConfigInput;
  /**
   * How workflows reach workloads; default: the Workload service on `db` with its dispatch
   * queue (launchers run them). Benchmarks pass `noopWorkloads`.
   */
  workloads?: WorkloadGateway;
  workloadTimeouts?: Partial<WorkloadTimeouts>;
  /** Cron sweeps; false: none in this process. */
  sweeps?: { intervals?: Partial<SweepIntervals>; retention?: Partial<RetentionSettings> } | false;
  /** `/metrics` and `/healthz` on this port (0: any free port); null: no HTTP server. */
  metricsPort?: number | null;
  metricsHost?: string;
  /** Tests only: hooks around every step. */
  faults?: StepFaults;
  /** Engine worker tuning (tests shorten the lock to detect killed workers fast). */
  engineWorker?: {
    lockDurationMs?: number;
    stalledIntervalMs?: number;
    maxStalledCount?: number;
    inlineWaitMs?: number;
    maxSuspendMs?: number;
  };
  /** Observes each scheduled job's creation (benchmarks). */
  onScheduledJob?: WorkflowDeps['onScheduledJob'];
}

export interface RunningWorker {
  engine: Engine;
  worker: WorkflowWorker;
  service: WorkloadService;
  platform: PlatformServices;
  config: WorkerConfig;
  sweeps: Sweeps | null;
  metrics: WorkerMetrics;
  http: WorkerHttpServer | null;
  /** Drains: running steps may finish within the deadline, the rest resumes on other workers. */
  close(deadlineMs?: number): Promise<void>;
}

/**
 * Starts a worker in this process: the workflow worker (connection managers, check/discover/
 * spec, notifications), the cron sweeps and the HTTP endpoints. Workloads are left to launchers
 * (`apps/launcher`), which the workflows reach through the Workload service and its queues.
 * `main.ts` calls it after the bootloader; tests and the quickstart call it directly.
 */
export async function startWorker(opts: StartWorkerOptions): Promise<RunningWorker> {
  const logger = opts.logger ?? createLogger('worker');
  const prefix = opts.prefix ?? 'sluice';
  const config = resolveConfig(opts.config);
  const metrics = new WorkerMetrics();
  const engine = createEngine({
    connection: opts.redis,
    prefix,
    logger: logger.child({ component: 'workflow' }),
    hooks: metrics.hooks(),
  });
  await engine.checkRedis();
  const dispatch = new WorkloadQueue({ connection: opts.redis, prefix, logger });
  const service = new WorkloadService({
    db: opts.db,
    dispatch,
    secrets: configSecrets(opts.box),
    onTerminal: workloadSignaller(engine, logger),
    logger: logger.child({ component: 'workload' }),
    ...(opts.workloadTimeouts ? { timeouts: opts.workloadTimeouts } : {}),
  });
  const platform = createPlatformServices({
    db: opts.db,
    redis: opts.redis,
    prefix,
    logger,
    config: opts.config,
    engine,
  });
  const deps: WorkflowDeps = {
    db: opts.db,
    engine,
    box: opts.box,
    workloads: opts.workloads ?? serviceWorkloads(service),
    config,
    logger,
    faults: opts.faults,
    onScheduledJob: (info) => {
      metrics.scheduleLateness.observe(Math.max(0, info.createdAt - info.dueAt) / 1000);
      opts.onScheduledJob?.(info);
    },
  };
  const workflows = createWorkflows(deps);
  engine.register(...workflows);
  const worker = engine.createWorker({
    workflows,
    concurrency: opts.concurrency ?? 1000,
    ...(opts.engineWorker ?? {}),
  });
  await worker.waitUntilReady();
  metrics.attach({ service, engine });
  // In the fleet the API shows (workload.admin.fleet): refreshed every few seconds.
  const fleet = dispatch.joinFleet({
    kind: 'worker',
    capacity: opts.concurrency ?? 1000,
    running: () => worker.activeCount,
  });

  let sweeps: Sweeps | null = null;
  if (opts.sweeps !== false) {
    sweeps = new Sweeps({
      db: opts.db,
      engine,
      service,
      logger: logger.child({ component: 'sweeps' }),
      retention: {
        jobDays: 30,
        minJobsPerConnection: 20,
        logDays: 30,
        workloadDays: 30,
        ...(opts.sweeps?.retention ?? {}),
      },
      connectorJobMaxMs: Math.max(...Object.values(config.connectorTimeoutsMs)) + 10 * 60_000,
    });
    sweeps.start({ ...DEFAULT_SWEEP_INTERVALS, ...(opts.sweeps?.intervals ?? {}) });
  }

  const http =
    opts.metricsPort === null || opts.metricsPort === undefined
      ? null
      : await startHttpServer({
          port: opts.metricsPort,
          ...(opts.metricsHost ? { host: opts.metricsHost } : {}),
          metrics,
          health: async () => {
            const [pg, redis] = await Promise.allSettled([opts.db.$queryRaw`SELECT 1`, engine.redis.ping()]);
            return {
              ok: pg.status === 'fulfilled' && redis.status === 'fulfilled',
              details: {
                postgres: pg.status === 'fulfilled' ? 'ok' : 'down',
                redis: redis.status === 'fulfilled' ? 'ok' : 'down',
              },
            };
          },
        });

  logger.info(
    {
      prefix,
      concurrency: opts.concurrency ?? 1000,
      metrics: http?.url ?? null,
    },
    'worker started',
  );
  let closed: Promise<void> | null = null;
  return {
    engine,
    worker,
    service,
    platform,
    config,
    sweeps,
    metrics,
    http,
    close(deadlineMs = 10_000) {
      closed ??= (async () => {
        await http?.close();
        await sweeps?.stop();
        await worker.close(deadlineMs);
        await fleet.leave();
        await platform.close();
        await dispatch.close();
        await engine.close();
      })();
      return closed;
    },
  };
}
