/**
 * The reporter: everything a workload tells the Workload API about itself — `running`,
 * heartbeats (with stats), logs, the final status and output — so that it does not depend on the
 * launcher that started it. Then the job itself: a sync (Replication) or a connector command.
 */
import { messageProblem } from '@sluice/protocol';
import type { Logger } from 'pino';
import { createWorkloadApi, type HeartbeatAnswer, type WorkloadApi } from './api';
import { runConnectorJob } from './connector-job';
import type { MiddlewareEnv } from './env';
import { LogBatcher } from './log-batcher';
import { AttemptLog, failure } from './messages';
import type { JobOutcome } from './output';
import { Replication } from './replication';
import { errorCode, isTransientError, withRetry } from './retry';
import { loadScrubber } from './secrets';
import { loadWorkdir, type Workdir } from './workdir';

export interface RunWorkloadOptions {
  workDir: string;
  env: MiddlewareEnv;
  logger: Logger;
  /** Injected in tests; by default a tRPC client of SLUICE_API_URL. */
  api?: WorkloadApi;
  /** Aborted when the middleware itself must stop (SIGTERM). */
  signal?: AbortSignal;
  /** How long the final report may wait for the API. Default 5 minutes. */
  finalReportMs?: number;
}

export interface WorkloadResult {
  status: 'success' | 'failure' | 'cancelled' | 'not-started';
  reason?: string;
  /** Whether the final status reached the API. */
  reported: boolean;
}

const LOG_CLOSE_MS = 30_000;

export async function runWorkload(opts: RunWorkloadOptions): Promise<WorkloadResult> {
  const { env, logger } = opts;
  const id = env.SLUICE_WORKLOAD_ID;
  const api =
    opts.api ??
    createWorkloadApi({ url: env.SLUICE_API_URL, token: env.SLUICE_DATAPLANE_TOKEN, workloadId: id });
  const finalMs = opts.finalReportMs ?? 5 * 60_000;
  const retry = <T>(fn: () => Promise<T>, maxElapsedMs: number) =>
    withRetry(fn, {
      maxElapsedMs,
      onRetry: (err, attempt) =>
        logger.warn({ err: (err as Error).message, attempt }, 'Workload API call failed; retrying'),
    });

  let workdir: Workdir;
  try {
    workdir = await loadWorkdir(opts.workDir, id);
  } catch (err) {
    // Without a usable working directory nothing can run: the workload fails with the reason.
    const reason = `the middleware could not read its working directory: ${(err as Error).message}`;
    logger.error({ err: (err as Error).message }, 'bad working directory');
    const reported = await retry(
      () => api.failure(reason, { failures: [failure('platform', 'system_error', reason)] }),
      finalMs,
    ).then(
      () => true,
      () => false,
    );
    return { status: 'failure', reason, reported };
  }

  const batcher = new LogBatcher({
    send: (chunks) => api.appendLog(chunks),
    isTransient: isTransientError,
    ...(workdir.config.logFlushMs ? { flushMs: workdir.config.logFlushMs } : {}),
    onDropped: (err) => logger.warn({ err: (err as Error).message }, 'attempt log chunks were dropped'),
  });
  // Connector logs may echo their config: values under secret-looking keys are masked.
  const log = new AttemptLog(batcher, await loadScrubber(workdir));

  let stateGeneration = workdir.config.stateGeneration;
  if (workdir.config.type === 'sync' && stateGeneration === undefined) {
    try {
      const input = await retry(() => api.input(), 60_000);
      if (typeof input.stateGeneration === 'number') stateGeneration = input.stateGeneration;
    } catch (err) {
      logger.warn(
        { err: (err as Error).message },
        'could not read the state generation from the workload input',
      );
    }
  }

  let answer: HeartbeatAnswer;
  try {
    const running = retry(() => api.running(), 120_000);
    // The API takes a round trip to accept `running`; meanwhile this process is idle. Compiling
    // the message validators now (zod compiles each schema on its first parse) takes that work
    // off the path from the connector's first message to the destination.
    await new Promise<void>((r) => setImmediate(r));
    warmMessageValidation();
    answer = await running;
  } catch (err) {
    // Not launched any more (cancelled, or failed by the sweeper): the connectors never start.
    logger.error({ err: (err as Error).message }, 'could not report running; not starting the connectors');
    if (errorCode(err) === 'CONFLICT') await api.stopped().catch(() => {});
    await batcher.close(5_000);
    return { status: 'not-started', reason: (err as Error).message, reported: false };
  }
  logger.info({ workloadId: id, type: workdir.config.type }, 'workload running');

  const stop = new AbortController();
  const onTerm = () => stop.abort(String(opts.signal?.reason ?? 'the middleware was told to stop'));
  if (opts.signal?.aborted) onTerm();
  opts.signal?.addEventListener('abort', onTerm, { once: true });
  if (answer.stop)
    stop.abort(`the workload was ${answer.status}${answer.reason ? `: ${answer.reason}` : ''}`);

  let replication: Replication | undefined;
  const heartbeat = startHeartbeat({
    api,
    logger,
    intervalMs: workdir.config.heartbeatIntervalMs ?? answer.heartbeatIntervalMs,
    timeoutMs: answer.heartbeatTimeoutMs,
    stats: () => replication?.streamStats() ?? [],
    onStop: (why) => {
      if (!stop.signal.aborted) stop.abort(why);
    },
  });

  let outcome: JobOutcome;
  try {
    if (workdir.config.type === 'sync') {
      replication = new Replication({
        workdir,
        api,
        log,
        batcher,
        logger,
        stateGeneration,
        signal: stop.signal,
      });
      outcome = await replication.run();
    } else {
      outcome = await runConnectorJob({ workdir, api, log, logger, signal: stop.signal });
    }
  } catch (err) {
    const message = (err as Error).message;
    logger.error({ err: message }, 'the workload failed in the middleware');
    log.platform('ERROR', `the middleware failed: ${message}`);
    const f = failure('replication', 'system_error', message);
    outcome = stop.signal.aborted
      ? { kind: 'cancelled', reason: String(stop.signal.reason), output: { failures: [f] } }
      : {
          kind: 'failure',
          reason: `Failure in the platform (system_error): ${message}`,
          output: { failures: [f] },
        };
  } finally {
    heartbeat.stop();
    opts.signal?.removeEventListener('abort', onTerm);
  }

  if (replication) {
    await retry(() => api.reportStats(replication!.streamStats()), 30_000).catch((err: Error) =>
      logger.warn({ err: err.message }, 'final stats were not stored'),
    );
  }
  await batcher.close(LOG_CLOSE_MS);

  let reported = false;
  // After a long silence the API may be gone for good: do not hold the process for minutes.
  const reportMs = heartbeat.silent ? Math.min(finalMs, 30_000) : finalMs;
  const cancelledByPlatform = outcome.kind === 'cancelled' && heartbeat.stoppedByApi;
  try {
    if (outcome.kind === 'success') await retry(() => api.success(outcome.output), reportMs);
    else if (outcome.kind === 'failure')
      await retry(() => api.failure(outcome.reason, outcome.output), reportMs);
    else if (!cancelledByPlatform) {
      // Stopped from the outside without a cancellation (SIGTERM): the attempt failed.
      await retry(() => api.failure(`the workload was stopped: ${outcome.reason}`, outcome.output), reportMs);
    }
    reported = true;
  } catch (err) {
    logger.error({ err: (err as Error).message, outcome: outcome.kind }, 'could not report the final status');
  }
  // A workload that had already ended (cancelled, swept) waits for its programs' confirmation.
  if (outcome.kind === 'cancelled' || !reported) await retry(() => api.stopped(), 30_000).catch(() => {});
  logger.info({ workloadId: id, outcome: outcome.kind }, 'workload ended');
  return {
    status: outcome.kind,
    ...(outcome.kind !== 'success' ? { reason: outcome.reason } : {}),
    reported,
  };
}

/** Validates one message of each type a connector usually starts with, and throws nothing. */
export function warmMessageValidation(): void {
  const stream = { name: 'warm-up' };
  const samples: unknown[] = [
    { type: 'LOG', log: { level: 'INFO', message: 'warm-up' } },
    {
      type: 'TRACE',
      trace: {
        type: 'STREAM_STATUS',
        emitted_at: 0,
        stream_status: { stream_descriptor: stream, status: 'STARTED' },
      },
    },
    { type: 'RECORD', record: { stream: 'warm-up', data: { n: 1 }, emitted_at: 0 } },
    {
      type: 'STATE',
      state: { type: 'STREAM', stream: { stream_descriptor: stream, stream_state: { n: 1 } } },
    },
  ];
  for (const m of samples) {
    try {
      messageProblem(m, 'full');
    } catch {
      // Only a warm-up: the real messages are validated (and reported) where they arrive.
    }
  }
}

interface HeartbeatHandle {
  stop(): void;
  /** The API answered `stop` (cancelled, or ended) or refused the heartbeat. */
  readonly stoppedByApi: boolean;
  /** No heartbeat got through for the heartbeat timeout. */
  readonly silent: boolean;
}

function startHeartbeat(o: {
  api: WorkloadApi;
  logger: Logger;
  intervalMs: number;
  timeoutMs: number;
  stats: () => import('./stats').StreamStatsReport[];
  onStop(reason: string): void;
}): HeartbeatHandle {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let stoppedByApi = false;
  let silent = false;
  let lastOk = Date.now();
  const tick = async () => {
    if (stopped) return;
    try {
      const a = await o.api.heartbeat(o.stats());
      lastOk = Date.now();
      if (a.stop) {
        stoppedByApi = true;
        o.onStop(`the workload was ${a.status}${a.reason ? `: ${a.reason}` : ''}`);
      }
    } catch (err) {
      const silentMs = Date.now() - lastOk;
      if (isTransientError(err) && silentMs > o.timeoutMs) {
        // The sweeper has failed the workload by now and a retry may start: a sync still running
        // here would write alongside it. Stop, as Airbyte's orchestrator does.
        silent = true;
        o.logger.error(
          { err: (err as Error).message, silentMs },
          'no heartbeat got through within the heartbeat timeout; stopping',
        );
        o.onStop(`no heartbeat reached the Workload API for ${Math.round(silentMs / 1000)} s`);
      } else if (isTransientError(err)) {
        o.logger.warn(
          { err: (err as Error).message, sinceLastOkMs: silentMs },
          'heartbeat failed; will retry',
        );
      } else {
        // The API refuses heartbeats for this workload (it ended, or is not ours any more).
        stoppedByApi = true;
        o.logger.error({ err: (err as Error).message }, 'heartbeat refused; stopping');
        o.onStop(`the Workload API refused the heartbeat: ${(err as Error).message}`);
      }
    }
    if (!stopped) {
      // After a failure, try again sooner: the deadline is running.
      const next = Date.now() - lastOk > o.intervalMs ? Math.min(o.intervalMs, 2_000) : o.intervalMs;
      timer = setTimeout(() => void tick(), next);
    }
  };
  timer = setTimeout(() => void tick(), o.intervalMs);
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    get stoppedByApi() {
      return stoppedByApi;
    },
    get silent() {
      return silent;
    },
  };
}
