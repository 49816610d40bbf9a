import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { createRuntime, ImageNotFoundError, type WorkloadRuntime } from '@sluice/runtime';
import { createLogger, type Logger } from '@sluice/shared';
import {
  DEFAULT_QUEUE_PREFIX,
  type FleetMembership,
  joinFleet,
  subscribeWorkloadEvents,
  type WorkloadEvent,
  type WorkloadEventSubscription,
  type WorkloadJobOutcome,
  WorkloadQueuePayload,
  workloadQueueName,
} from '@sluice/workload/queue';
import { DelayedError, type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { apiErrorCode, createWorkloadApi, isTransientApiError, type WorkloadApi, withApiRetry } from './api';
import { AttemptLogWriter } from './attempt-log';
import {
  DEFAULT_METRICS_PORT,
  DEFAULT_MIDDLEWARE_CLI,
  DEFAULT_MIDDLEWARE_IMAGE,
  DEFAULT_MIDDLEWARE_NODE_FLAGS,
  DEFAULT_WORKLOADS_ROOT,
  defaultLauncherId,
  type LauncherEnv,
} from './env';
import { InputError, parseLaunchInput, type WorkloadType } from './input';
import { buildWorkloadLayout, type RuntimeKind, type WorkloadLayout, withNodeFlags } from './layout';
import {
  createLauncherMetrics,
  type HealthReport,
  type LauncherMetrics,
  type MetricsServer,
  startMetricsServer,
} from './metrics';
import { checkDockerImages, dockerClient } from './preflight';
import { checkProcessCommands, ensureWorkloadsRoot, workDirOf, writeWorkDir } from './workdir';

export interface LauncherOptions {
  /** The Workload API's tRPC endpoint, e.g. http://127.0.0.1:3000/api/trpc. */
  apiUrl: string;
  dataplaneToken: string;
  /** Must be the token's group. Default `default`. */
  dataplaneGroup?: string;
  /** Default redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** Key prefix of the workload queues and events (the API's). Default `sluice`. */
  queuePrefix?: string;
  /** Default `process`. */
  runtime?: RuntimeKind;
  workloadsRoot?: string;
  /** Workloads run at once (default 4); at capacity no job is taken, so another launcher takes it. */
  concurrency?: number;
  /** Default host name + pid. */
  launcherId?: string;
  /** `/metrics` and `/healthz`; 0 picks a free port, null serves nothing. Default 9465. */
  metricsPort?: number | null;
  metricsHost?: string;
  /** Process runtime: the middleware's argv prefix. Default `node packages/middleware/dist/cli.js`. */
  middlewareCommand?: string[];
  /** Process runtime: flags added after the middleware's node executable. Default
   * `--max-semi-space-size=4`; `[]` for none. */
  middlewareNodeFlags?: string[];
  /** Process runtime: middleware processes started ahead of need and handed the next workloads.
   * Default 1; 0 spawns every middleware at launch. */
  middlewareStandby?: number;
  /** Docker runtime: the middleware image (default sluice/middleware:dev) and an entrypoint override. */
  middlewareImage?: string;
  middlewareImageCommand?: string[];
  /** The API URL the middleware calls; default `apiUrl`. */
  middlewareApiUrl?: string;
  middlewareLogLevel?: string;
  /** `auto` (default): socket mode when both connectors support it. */
  socketMode?: 'auto' | 'off';
  dockerSocket?: string;
  reconcileIntervalMs?: number;
  capacityPollMs?: number;
  shutdownTimeoutMs?: number;
  stopGraceMs?: number;
  /** How long start-up retries an unreachable API. Default 60 s. */
  startupTimeoutMs?: number;
  /** How often this launcher refreshes its record in the fleet registry. Default 5 s. */
  fleetIntervalMs?: number;
  logger?: Logger;
  /** Fault injection for tests: runs right after a claim succeeded, before anything is launched. */
  afterClaim?: (workloadId: string) => Promise<void> | void;
}

export interface RunningLauncher {
  readonly id: string;
  readonly group: string;
  readonly runtime: WorkloadRuntime;
  readonly metrics: LauncherMetrics;
  /** http://host:port of `/metrics` and `/healthz`, when served. */
  readonly metricsUrl: string | undefined;
  /** Workloads launched (or adopted) here whose programs still run. */
  running(): string[];
  /** One pass of the leftover sweep (also runs periodically). */
  reconcile(): Promise<void>;
  health(): HealthReport;
  /** Stops taking jobs and closes; running workloads keep running. */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

export function launcherOptionsFromEnv(env: LauncherEnv): LauncherOptions {
  return {
    apiUrl: env.SLUICE_API_URL,
    dataplaneToken: env.SLUICE_DATAPLANE_TOKEN,
    dataplaneGroup: env.SLUICE_DATAPLANE_GROUP,
    redisUrl: env.REDIS_URL,
    queuePrefix: env.SLUICE_QUEUE_PREFIX,
    runtime: env.SLUICE_RUNTIME,
    workloadsRoot: env.SLUICE_WORKLOADS_ROOT,
    concurrency: env.SLUICE_LAUNCHER_CONCURRENCY,
    ...(env.SLUICE_LAUNCHER_ID ? { launcherId: env.SLUICE_LAUNCHER_ID } : {}),
    metricsPort: env.SLUICE_METRICS_PORT,
    metricsHost: env.SLUICE_METRICS_HOST,
    ...(env.SLUICE_MIDDLEWARE_COMMAND ? { middlewareCommand: env.SLUICE_MIDDLEWARE_COMMAND } : {}),
    middlewareNodeFlags:
      env.SLUICE_MIDDLEWARE_NODE_FLAGS.length === 1 && env.SLUICE_MIDDLEWARE_NODE_FLAGS[0] === 'none'
        ? []
        : env.SLUICE_MIDDLEWARE_NODE_FLAGS,
    middlewareStandby: env.SLUICE_MIDDLEWARE_STANDBY,
    middlewareImage: env.SLUICE_MIDDLEWARE_IMAGE,
    ...(env.SLUICE_MIDDLEWARE_IMAGE_COMMAND
      ? { middlewareImageCommand: env.SLUICE_MIDDLEWARE_IMAGE_COMMAND }
      : {}),
    ...(env.SLUICE_MIDDLEWARE_API_URL ? { middlewareApiUrl: env.SLUICE_MIDDLEWARE_API_URL } : {}),
    middlewareLogLevel: env.LOG_LEVEL,
    socketMode: env.SLUICE_SOCKET_MODE,
    dockerSocket: env.SLUICE_DOCKER_SOCKET,
    reconcileIntervalMs: env.SLUICE_LAUNCHER_RECONCILE_INTERVAL_MS,
    capacityPollMs: env.SLUICE_LAUNCHER_CAPACITY_POLL_MS,
    shutdownTimeoutMs: env.SLUICE_LAUNCHER_SHUTDOWN_TIMEOUT_MS,
    stopGraceMs: env.SLUICE_STOP_GRACE_MS,
  };
}

const TERMINAL = new Set(['success', 'failure', 'cancelled']);
/** A job taken at capacity goes back to the queue this soon, for a launcher with room. */
const SHED_DELAY_MS = 250;

type Outcome = WorkloadJobOutcome;
const done: Outcome = { kind: 'done' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a launcher: verifies the token's group, subscribes to events, serves metrics, takes jobs. */
export async function startLauncher(options: LauncherOptions): Promise<RunningLauncher> {
  const launcher = new Launcher(options);
  try {
    await launcher.start();
  } catch (err) {
    await launcher.stop({ timeoutMs: 1_000 }).catch(() => {});
    throw err;
  }
  return launcher;
}

class Launcher implements RunningLauncher {
  readonly id: string;
  readonly group: string;
  readonly runtime: WorkloadRuntime;
  readonly metrics: LauncherMetrics;
  metricsUrl: string | undefined;

  private readonly opts: LauncherOptions;
  private readonly kind: RuntimeKind;
  private readonly capacity: number;
  private readonly root: string;
  /** Process runtime: the middleware's argv prefix, node flags included. */
  private readonly middlewareCommand: string[];
  private readonly log: Logger;
  private readonly api: WorkloadApi;
  private readonly attemptLog: AttemptLogWriter;
  private readonly inflight = new Set<string>();
  private readonly launched = new Set<string>();
  /** Workload ids here that the API does not know in this group (another group's, a test's). */
  private readonly foreign = new Set<string>();
  /** One stop or cleanup at a time per workload. */
  private readonly busy = new Map<string, Promise<void>>();
  /** Docker runtime: for the image checks before launch. */
  private readonly docker: ReturnType<typeof dockerClient> | undefined;
  private worker: Worker | undefined;
  private workerRedis: Redis | undefined;
  private events: WorkloadEventSubscription | undefined;
  private fleetRedis: Redis | undefined;
  private fleet: FleetMembership | undefined;
  private metricsServer: MetricsServer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private intake: Promise<void> = Promise.resolve();
  private paused = false;
  private stopping = false;
  private started = false;
  private reconciling: Promise<void> | undefined;

  constructor(opts: LauncherOptions) {
    this.opts = opts;
    this.id = opts.launcherId ?? defaultLauncherId();
    this.group = opts.dataplaneGroup ?? 'default';
    this.kind = opts.runtime ?? 'process';
    this.capacity = opts.concurrency ?? 4;
    this.root = opts.workloadsRoot ?? DEFAULT_WORKLOADS_ROOT;
    this.log = (opts.logger ?? createLogger('sluice-launcher')).child({ launcherId: this.id });
    this.api = createWorkloadApi({ url: opts.apiUrl, dataplaneToken: opts.dataplaneToken });
    this.attemptLog = new AttemptLogWriter(this.api, this.id, this.log);
    this.middlewareCommand = withNodeFlags(
      opts.middlewareCommand ?? [process.execPath, DEFAULT_MIDDLEWARE_CLI],
      opts.middlewareNodeFlags ?? DEFAULT_MIDDLEWARE_NODE_FLAGS,
    );
    this.runtime =
      this.kind === 'process'
        ? createRuntime({
            runtime: 'process',
            workloadsRoot: this.root,
            logger: this.log,
            ...(opts.stopGraceMs ? { graceMs: opts.stopGraceMs } : {}),
            standby: { command: this.middlewareCommand, count: opts.middlewareStandby ?? 1 },
          })
        : createRuntime({
            runtime: 'docker',
            logger: this.log,
            ...(opts.dockerSocket ? { socketPath: opts.dockerSocket } : {}),
            ...(opts.stopGraceMs ? { graceMs: opts.stopGraceMs } : {}),
          });
    this.docker = this.kind === 'docker' ? dockerClient(opts.dockerSocket) : undefined;
    this.metrics = createLauncherMetrics({ launcher: this.id, runtime: this.kind, group: this.group });
    this.metrics.capacity.set(this.capacity);
  }

  running(): string[] {
    return [...this.launched].sort();
  }

  health(): HealthReport {
    const redis = this.workerRedis?.status ?? 'none';
    return {
      ok: this.started && !this.stopping && redis === 'ready',
      launcherId: this.id,
      dataplaneGroup: this.group,
      runtime: this.kind,
      capacity: this.capacity,
      running: this.launched.size,
      inflight: this.inflight.size,
      acceptingJobs: this.started && !this.stopping && !this.paused,
      redis,
    };
  }

  async start(): Promise<void> {
    await this.verifyToken();
    await ensureWorkloadsRoot(this.root);
    // Loads while the rest starts, so the first workload finds it ready.
    this.runtime.warm?.();
    await this.adoptRunning();

    const redisUrl = this.opts.redisUrl ?? 'redis://127.0.0.1:6379';
    const prefix = this.opts.queuePrefix ?? DEFAULT_QUEUE_PREFIX;
    this.events = await subscribeWorkloadEvents({
      connection: redisUrl,
      prefix,
      group: this.group,
      logger: this.log,
      onEvent: (event) => this.onEvent(event),
    });

    const port = this.opts.metricsPort === undefined ? DEFAULT_METRICS_PORT : this.opts.metricsPort;
    if (port !== null) {
      this.metricsServer = await startMetricsServer({
        port,
        host: this.opts.metricsHost ?? '0.0.0.0',
        registry: this.metrics.registry,
        health: () => this.health(),
      });
      this.metricsUrl = this.metricsServer.url;
    }

    // Blocking connection: commands wait for a reconnect instead of failing.
    this.workerRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
    this.workerRedis.on('error', (err) => this.log.warn({ err: err.message }, 'launcher redis error'));
    this.worker = new Worker(workloadQueueName(this.group), (job, token) => this.process(job, token), {
      connection: this.workerRedis,
      prefix,
      concurrency: this.capacity,
      autorun: false,
      // A launcher that dies mid-job gives its job back within ~lockDuration + stalledInterval.
      lockDuration: 20_000,
      stalledInterval: 10_000,
      maxStalledCount: 3,
    });
    this.worker.on('error', (err) => this.log.warn({ err: err.message }, 'workload worker error'));
    this.worker.on('failed', (job, err) =>
      this.log.warn(
        { workloadId: job?.data?.workloadId, err: err.message },
        'workload job failed; BullMQ retries it',
      ),
    );
    this.updateIntake();
    void this.worker
      .run()
      .catch((err: Error) => this.log.error({ err: err.message }, 'workload worker stopped'));
    await this.worker.waitUntilReady();

    const every = (ms: number, fn: () => Promise<void>, what: string) => {
      const t = setInterval(() => {
        if (!this.stopping) fn().catch((err: Error) => this.log.warn({ err: err.message }, `${what} failed`));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    // In the fleet the API shows (workload.admin.fleet), refreshed every few seconds.
    this.fleetRedis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    this.fleetRedis.on('error', () => {});
    this.fleet = joinFleet(
      this.fleetRedis,
      prefix,
      {
        kind: 'launcher',
        id: this.id,
        dataplaneGroup: this.group,
        runtime: this.kind,
        capacity: this.capacity,
        running: () => this.launched.size,
      },
      { logger: this.log, ...(this.opts.fleetIntervalMs ? { intervalMs: this.opts.fleetIntervalMs } : {}) },
    );
    every(this.opts.capacityPollMs ?? 2_000, () => this.pollRunning(), 'capacity poll');
    every(this.opts.reconcileIntervalMs ?? 30_000, () => this.reconcile(), 'reconcile');
    void this.reconcile().catch((err: Error) =>
      this.log.warn({ err: err.message }, 'initial reconcile failed'),
    );
    this.started = true;
    this.log.info(
      {
        group: this.group,
        runtime: this.kind,
        capacity: this.capacity,
        workloadsRoot: this.root,
        metrics: this.metricsUrl,
      },
      'launcher started',
    );
  }

  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const timeoutMs = opts.timeoutMs ?? this.opts.shutdownTimeoutMs ?? 30_000;
    if (this.worker) {
      const worker = this.worker;
      const closed = worker.close().then(() => true);
      if (!(await Promise.race([closed, sleep(timeoutMs).then(() => false)]))) {
        this.log.warn(
          { timeoutMs, inflight: [...this.inflight] },
          'launches still running at the shutdown deadline; closing anyway',
        );
        await worker.close(true).catch(() => {});
      }
    }
    await this.runtime
      .close?.()
      .catch((err: Error) => this.log.warn({ err: err.message }, 'cannot stop the standby middleware'));
    await Promise.race([this.attemptLog.flushAll(), sleep(2_000)]);
    await Promise.race([this.fleet?.leave(), sleep(2_000)]);
    await this.fleetRedis?.quit().catch(() => this.fleetRedis?.disconnect());
    await this.events?.close().catch(() => {});
    await this.workerRedis?.quit().catch(() => this.workerRedis?.disconnect());
    await this.metricsServer?.close();
    this.log.info({ running: this.launched.size }, 'launcher stopped; its workloads keep running');
  }

  // -------------------------------------------------------------------------------------------
  // Start-up

  private async verifyToken(): Promise<void> {
    const deadline = Date.now() + (this.opts.startupTimeoutMs ?? 60_000);
    let group: string;
    for (let attempt = 1; ; attempt++) {
      try {
        group = (await this.api.queueDepth.query()).dataplaneGroup;
        break;
      } catch (err) {
        const code = apiErrorCode(err);
        if (code === 'UNAUTHORIZED' || code === 'FORBIDDEN') {
          throw new Error('the Workload API refused the dataplane token (unknown, revoked or expired)');
        }
        if (!isTransientApiError(err) || Date.now() > deadline) {
          throw new Error(`cannot reach the Workload API at ${this.opts.apiUrl}: ${(err as Error).message}`);
        }
        this.log.warn({ attempt, err: (err as Error).message }, 'Workload API not reachable yet; retrying');
        await sleep(Math.min(2_000, 200 * attempt));
      }
    }
    if (group !== this.group) {
      throw new Error(
        `the dataplane token belongs to group "${group}", but this launcher is configured for group "${this.group}" (SLUICE_DATAPLANE_GROUP)`,
      );
    }
  }

  /** Workloads of this group still running here (a restart) count against the capacity. */
  private async adoptRunning(): Promise<void> {
    const local = new Set(await this.runtime.list());
    if (local.size === 0) return;
    const { active } = await withApiRetry(() => this.api.listActive.query({}));
    for (const w of active) {
      if (local.has(w.id) && (await this.runtime.isRunning(w.id))) this.launched.add(w.id);
    }
    if (this.launched.size) this.log.info({ workloads: [...this.launched] }, 'adopted running workloads');
    this.updateGauges();
  }

  // -------------------------------------------------------------------------------------------
  // Jobs

  private async process(job: Job, token?: string): Promise<void> {
    const parsed = WorkloadQueuePayload.safeParse(job.data);
    if (!parsed.success) {
      // Can never succeed: dropped (the worker's reconciler re-adds real pending workloads).
      this.log.error({ jobId: job.id, issues: parsed.error.issues }, 'malformed workload queue job');
      return;
    }
    const outcome = await this.handle(parsed.data.workloadId);
    if (outcome.kind === 'retry') {
      await job.moveToDelayed(Date.now() + Math.max(0, outcome.afterMs), token);
      throw new DelayedError();
    }
  }

  private used(): number {
    return this.launched.size + this.inflight.size;
  }

  private async handle(workloadId: string): Promise<Outcome> {
    if (this.stopping || this.inflight.has(workloadId) || this.used() >= this.capacity) {
      // Load shedding: the job goes back to the queue for a launcher with room.
      this.metrics.claims.inc({ outcome: 'shed' });
      this.updateIntake();
      return { kind: 'retry', afterMs: SHED_DELAY_MS };
    }
    this.inflight.add(workloadId);
    this.updateGauges();
    try {
      return await this.claimAndLaunch(workloadId);
    } finally {
      this.inflight.delete(workloadId);
      this.updateGauges();
      this.updateIntake();
    }
  }

  private async claimAndLaunch(workloadId: string): Promise<Outcome> {
    const t0 = performance.now();
    // Where launch time goes, for the log (ms since t0 at the end of each step).
    const at: Record<string, number> = {};
    const mark = (step: string) => {
      at[step] = Math.round(performance.now() - t0);
    };
    const claim = await withApiRetry(() => this.api.claim.mutate({ id: workloadId, launcherId: this.id }));
    let resumed = false;
    if (claim.outcome === 'blocked') {
      this.metrics.claims.inc({ outcome: 'blocked' });
      this.log.debug(
        { workloadId, blockedBy: claim.blockedBy },
        'workload blocked by its mutex; retrying later',
      );
      return { kind: 'retry', afterMs: claim.retryAfterMs };
    }
    if (claim.outcome === 'unavailable') {
      // Our own earlier try of this job (or this launcher before a restart, with the same id)
      // claimed it, maybe reported it launched, and stopped before its programs were surely up.
      const mine =
        (claim.status === 'claimed' || claim.status === 'launched') &&
        (await this.getWorkload(workloadId))?.claimedBy === this.id;
      if (!mine) {
        this.metrics.claims.inc({ outcome: 'unavailable' });
        this.log.debug({ workloadId, reason: claim.reason }, 'workload not claimable; job dropped');
        return done;
      }
      resumed = true;
    }
    this.metrics.claims.inc({ outcome: 'claimed' });
    await this.opts.afterClaim?.(workloadId);
    this.attemptLog.line(
      workloadId,
      resumed
        ? 'resuming the launch of this workload (claimed earlier by this launcher)'
        : `claimed workload ${workloadId} (runtime ${this.kind}, dataplane group ${this.group})`,
      'INFO',
      { defer: true },
    );

    let data: Awaited<ReturnType<WorkloadApi['input']['query']>>;
    try {
      mark('claimed');
      data = await withApiRetry(() => this.api.input.query({ id: workloadId, launcherId: this.id }));
      mark('input');
    } catch (err) {
      const code = apiErrorCode(err);
      if (code === 'CONFLICT' || code === 'NOT_FOUND') {
        // Cancelled (or failed by the sweeper) since the claim: nothing was started.
        this.log.info({ workloadId, err: (err as Error).message }, 'workload moved on before launch');
        void this.attemptLog.flush(workloadId);
        return done;
      }
      throw err;
    }
    const type = data.workload.type as WorkloadType;
    const workDir = workDirOf(this.root, workloadId);

    let layout: WorkloadLayout;
    let started: boolean;
    let standby = false;
    try {
      const input = parseLaunchInput(type, data.input);
      layout = buildWorkloadLayout({
        workloadId,
        type,
        input,
        workDir,
        runtime: this.kind,
        socketMode: this.opts.socketMode ?? 'auto',
        middleware: {
          command: this.middlewareCommand,
          image: this.opts.middlewareImage ?? DEFAULT_MIDDLEWARE_IMAGE,
          ...(this.opts.middlewareImageCommand ? { imageCommand: this.opts.middlewareImageCommand } : {}),
          env: {
            SLUICE_API_URL: this.opts.middlewareApiUrl ?? this.opts.apiUrl,
            SLUICE_DATAPLANE_TOKEN: this.opts.dataplaneToken,
            SLUICE_WORKLOAD_ID: workloadId,
            LOG_LEVEL: this.opts.middlewareLogLevel ?? 'info',
          },
        },
      });
      for (const note of layout.notes) this.attemptLog.line(workloadId, note, 'WARN', { defer: true });
      // Idempotent launch: programs that already exist are never prepared or started again.
      const exists = fs.existsSync(workDir) && (await this.runtime.list()).includes(workloadId);
      if (!exists) {
        // A missing command or image fails the workload now, before it is reported launched.
        if (this.kind === 'process') checkProcessCommands(layout.plan);
        else await checkDockerImages(layout.plan, this.docker!);
        await writeWorkDir(layout);
      }
      mark('prepared');
    } catch (err) {
      await this.failLaunch(workloadId, type, workDir, err);
      return done;
    }

    // `launched` is reported just before the programs start, not after: the middleware reports
    // `running` as soon as it is up, and the Workload API accepts that only from `launched`.
    // A launch that fails now still ends the workload at once (`failure` from launched).
    if (!(await this.reportLaunched(workloadId))) return done;
    mark('reported');
    try {
      ({ started, standby = false } = await this.runtime.launch(layout.plan));
      mark('started');
    } catch (err) {
      await this.failLaunch(workloadId, type, workDir, err);
      return done;
    }
    this.launched.add(workloadId);
    this.updateGauges();

    const ms = Math.round(performance.now() - t0);
    this.metrics.launchDuration.observe({ type }, ms / 1000);
    this.metrics.launches.inc({ type, result: started ? 'started' : 'existing' });
    const mode =
      (layout.middlewareConfig.socketCount
        ? `socket mode, ${layout.middlewareConfig.socketCount} sockets`
        : type === 'sync'
          ? 'stdio mode'
          : type) + (standby ? ', standby middleware' : '');
    this.attemptLog.line(
      workloadId,
      started
        ? `launched on the ${this.kind} runtime (${mode}) in ${ms} ms`
        : `its programs already existed on the ${this.kind} runtime; not started again`,
    );
    this.log.info({ workloadId, type, ms, started, standby, at }, 'workload launched');
    return done;
  }

  /** True when the programs may start; false when the workload was cancelled meanwhile. */
  private async reportLaunched(workloadId: string): Promise<boolean> {
    try {
      await withApiRetry(() => this.api.launched.mutate({ id: workloadId, launcherId: this.id }));
    } catch (err) {
      if (apiErrorCode(err) !== 'CONFLICT') throw err;
      const w = await this.getWorkload(workloadId);
      if (w?.status === 'cancelled' || (w && TERMINAL.has(w.status) && !w.launchedAt)) {
        await this.stopWorkload(workloadId, `it ended before it was reported launched (${w.status})`);
        return false;
      }
      // A retried report whose first try went through.
      if (!w || w.claimedBy !== this.id || !w.launchedAt) throw err;
    }
    return true;
  }

  private async failLaunch(
    workloadId: string,
    type: WorkloadType,
    workDir: string,
    err: unknown,
  ): Promise<void> {
    const message = (err as Error).message ?? String(err);
    const cause =
      err instanceof InputError
        ? 'input'
        : err instanceof ImageNotFoundError
          ? 'image'
          : /command/.test(message)
            ? 'command'
            : 'runtime';
    const reason = `launch failed: ${message}`;
    this.metrics.failures.inc({ type, cause });
    this.log.warn({ workloadId, type, cause, reason }, 'launch failed');
    this.attemptLog.line(workloadId, reason, 'ERROR');
    await this.attemptLog.flush(workloadId);
    // Whatever a half-done launch created goes away with it.
    await this.runtime.stop(workloadId, { graceMs: 0 }).catch(() => {});
    await fsp.rm(workDir, { recursive: true, force: true }).catch(() => {});
    try {
      await withApiRetry(() =>
        this.api.failure.mutate({ id: workloadId, launcherId: this.id, reason, source: 'launcher' }),
      );
    } catch (e) {
      if (apiErrorCode(e) !== 'CONFLICT') throw e;
      this.log.info({ workloadId }, 'workload ended before its launch failure was reported');
    }
    this.attemptLog.forget(workloadId);
  }

  private async getWorkload(id: string) {
    try {
      return await withApiRetry(() => this.api.get.query({ id }));
    } catch (err) {
      if (apiErrorCode(err) === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Capacity

  private updateGauges(): void {
    this.metrics.running.set(this.launched.size);
    this.metrics.inflight.set(this.inflight.size);
  }

  /** At capacity the worker takes no job (others do); with room again, it resumes. Serialised. */
  private updateIntake(): void {
    this.intake = this.intake.then(async () => {
      const worker = this.worker;
      if (!worker || this.stopping) return;
      worker.concurrency = Math.max(1, this.capacity - this.launched.size);
      const full = this.used() >= this.capacity;
      if (full && !this.paused) {
        this.paused = true;
        await worker.pause(true);
        this.log.info(
          { capacity: this.capacity, running: this.launched.size },
          'at capacity: not taking jobs',
        );
      } else if (!full && this.paused) {
        this.paused = false;
        await worker.resume();
        this.log.info({ capacity: this.capacity, running: this.launched.size }, 'room again: taking jobs');
      }
    });
    this.intake.catch((err: Error) =>
      this.log.warn({ err: err.message }, 'cannot pause or resume the worker'),
    );
  }

  /** Frees the capacity of workloads whose programs ended, and removes them once they are terminal. */
  private async pollRunning(): Promise<void> {
    for (const id of [...this.launched]) {
      if (await this.runtime.isRunning(id)) continue;
      this.launched.delete(id);
      this.guarded(id, () => this.cleanupEnded(id));
    }
    this.updateGauges();
    this.updateIntake();
  }

  private async cleanupEnded(id: string): Promise<void> {
    const w = await this.getWorkload(id);
    if (!w || !TERMINAL.has(w.status)) return; // the sweeper ends it; `reconcile` removes it then
    await this.runtime.stop(id, { graceMs: 0 });
    if (w.status === 'cancelled' && !w.endedAt) await this.reportStopped(id);
    this.attemptLog.forget(id);
    this.log.debug({ workloadId: id, status: w.status }, 'removed the programs of an ended workload');
  }

  // -------------------------------------------------------------------------------------------
  // Cancellation and leftovers

  private guarded(id: string, fn: () => Promise<void>): Promise<void> {
    const current = this.busy.get(id);
    if (current) return current;
    const run = fn()
      .catch((err: Error) =>
        this.log.warn({ workloadId: id, err: err.message }, 'stopping a workload failed'),
      )
      .finally(() => this.busy.delete(id));
    this.busy.set(id, run);
    return run;
  }

  private onEvent(event: WorkloadEvent): void {
    if (event.type !== 'cancelled' || this.stopping) return;
    const id = event.workloadId;
    // A launch in progress sees the cancel when it reports launched, and stops there.
    if (this.inflight.has(id)) return;
    if (event.claimedBy !== this.id && !this.launched.has(id)) return;
    void this.guarded(id, () => this.stopWorkload(id, `cancelled: ${event.reason}`));
  }

  private async stopWorkload(id: string, why: string): Promise<void> {
    await this.runtime.stop(id, { ...(this.opts.stopGraceMs ? { graceMs: this.opts.stopGraceMs } : {}) });
    this.launched.delete(id);
    this.updateGauges();
    this.updateIntake();
    this.metrics.cancellations.inc();
    this.attemptLog.line(id, `stopped the workload's programs: ${why}`);
    await this.attemptLog.flush(id);
    await this.reportStopped(id);
    this.attemptLog.forget(id);
    this.log.info({ workloadId: id, why }, 'workload stopped');
  }

  private async reportStopped(id: string): Promise<void> {
    try {
      await withApiRetry(() => this.api.stopped.mutate({ id, launcherId: this.id }));
    } catch (err) {
      if (apiErrorCode(err) !== 'CONFLICT' && apiErrorCode(err) !== 'NOT_FOUND') throw err;
    }
  }

  /**
   * Compares what runs here with the group's workloads: programs of cancelled workloads are
   * stopped (then `stopped` reported), those of ended ones removed. Ids the API does not know in
   * this group are left alone: another group's launcher may share this host or Docker engine.
   */
  reconcile(): Promise<void> {
    if (!this.reconciling) {
      this.reconciling = this.reconcileOnce().finally(() => {
        this.reconciling = undefined;
      });
    }
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<void> {
    const { active, stopping } = await withApiRetry(() => this.api.listActive.query({}));
    const activeIds = new Set(active.map((w) => w.id));
    const stoppingIds = new Set(stopping.map((w) => w.id));
    for (const id of await this.runtime.list()) {
      if (this.stopping) return;
      if (this.inflight.has(id) || activeIds.has(id) || this.foreign.has(id)) continue;
      if (stoppingIds.has(id)) {
        await this.guarded(id, () => this.stopWorkload(id, 'cancelled'));
        continue;
      }
      const w = await this.getWorkload(id);
      if (!w) {
        this.foreign.add(id);
        continue;
      }
      if (!TERMINAL.has(w.status)) continue; // became active after the listing
      await this.guarded(id, async () => {
        await this.runtime.stop(id, { graceMs: 0 });
        this.launched.delete(id);
        if (w.status === 'cancelled' && !w.endedAt) await this.reportStopped(id);
        this.metrics.swept.inc();
        this.attemptLog.forget(id);
        this.log.info({ workloadId: id, status: w.status }, 'removed leftovers of an ended workload');
      });
    }
    this.updateGauges();
    this.updateIntake();
  }
}
