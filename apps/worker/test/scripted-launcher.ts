import { hostname } from 'node:os';
import type { Workload } from '@sluice/db';
import { createLogger, type Logger } from '@sluice/shared';
import {
  createWorkloadQueueWorker,
  type RedisConnection,
  type StreamStatsReport,
  WorkloadError,
  type WorkloadQueueWorker,
  type WorkloadService,
} from '@sluice/workload';

/** What an executor gets: the workload, its input (configs opened, state included), reporters. */
export interface ExecutionContext {
  workload: Workload;
  input: Record<string, unknown>;
  /** Fires when the workload is cancelled (or the launcher closes). */
  signal: AbortSignal;
  /** Persists destination-committed STATE messages. */
  reportState(states: unknown[]): Promise<void>;
  /** Cumulative per-stream counters; also sent with every heartbeat. */
  setStats(streams: StreamStatsReport[]): void;
  log(line: string): void;
}

export type ExecutionResult =
  | { status: 'success'; output?: unknown }
  | { status: 'failure'; reason: string; output?: unknown };

/** Runs one workload's programs. */
export interface WorkloadExecutor {
  execute(ctx: ExecutionContext): Promise<ExecutionResult>;
}

export interface ScriptedLauncherOptions {
  service: WorkloadService;
  connection: RedisConnection;
  prefix?: string;
  group?: string;
  /** Workloads run at once. */
  concurrency?: number;
  executor: WorkloadExecutor;
  launcherId?: string;
  heartbeatIntervalMs?: number;
  /** On close, how long running executors get to stop after being aborted. */
  closeGraceMs?: number;
  logger?: Logger;
}

export interface ScriptedLauncher {
  readonly launcherId: string;
  /** Workloads executing now. */
  readonly running: number;
  waitUntilReady(): Promise<void>;
  /** Stops taking workloads, cancels the running ones' programs (they are failed or left to the
   * sweeper) and waits for them. */
  close(): Promise<void>;
}

/**
 * A stand-in for the dataplane (launcher + middleware) in the worker's orchestration tests: it
 * consumes the dispatch queue and drives the real Workload service through the transitions the
 * launcher and middleware make — claim, launched, running, heartbeats with stats, state
 * reports, logs, success or failure — with a scripted executor instead of connector programs,
 * so retries, cancellations, crashes and schema changes can be provoked at will. The workflows
 * cannot tell the difference: completions reach them through the service's onTerminal hook.
 * Tests of real syncs use `apps/launcher` and `packages/middleware` (see e2e.test.ts).
 */
export function startScriptedLauncher(opts: ScriptedLauncherOptions): ScriptedLauncher {
  const { service } = opts;
  const log = opts.logger ?? createLogger('scripted-launcher');
  const launcherId = opts.launcherId ?? `scripted-${hostname()}-${process.pid}`;
  const concurrency = opts.concurrency ?? 4;
  const executing = new Map<string, { abort: AbortController; done: Promise<void> }>();
  let closing = false;

  async function execute(
    workload: Workload,
    input: Record<string, unknown>,
    abort: AbortController,
  ): Promise<void> {
    const id = workload.id;
    let stats: StreamStatsReport[] = [];
    let logSeq = 0;
    let pendingLines: string[] = [];
    const flushLog = async () => {
      if (pendingLines.length === 0) return;
      const text = `${pendingLines.join('\n')}\n`;
      pendingLines = [];
      await service
        .appendLog({ id, writer: 'middleware', chunks: [{ sequence: logSeq++, text }] })
        .catch((err) =>
          log.warn({ err: (err as Error).message, workloadId: id }, 'could not append the log'),
        );
    };
    const beat = async () => {
      try {
        const r = await service.heartbeat({ id, launcherId, stats });
        if (r.stop && !abort.signal.aborted)
          abort.abort(new Error(r.workload.terminationReason ?? 'the workload was stopped'));
      } catch (err) {
        log.warn({ err: (err as Error).message, workloadId: id }, 'heartbeat failed');
      }
      await flushLog();
    };
    const interval = opts.heartbeatIntervalMs ?? service.timeouts.heartbeatIntervalMs;
    const timer = setInterval(() => void beat(), interval);
    let result: ExecutionResult;
    try {
      result = await opts.executor.execute({
        workload,
        input,
        signal: abort.signal,
        reportState: async (states) => {
          const generation = typeof input.stateGeneration === 'number' ? input.stateGeneration : undefined;
          await service.reportState({ id, states, ...(generation !== undefined ? { generation } : {}) });
        },
        setStats: (s) => {
          stats = s;
        },
        log: (line) => {
          pendingLines.push(`${new Date().toISOString()} ${line}`);
        },
      });
    } catch (err) {
      result = { status: 'failure', reason: `the workload's executor failed: ${(err as Error).message}` };
    } finally {
      clearInterval(timer);
    }
    if (stats.length > 0) await service.reportStats({ id, streams: stats }).catch(() => {});
    await flushLog();
    try {
      if (abort.signal.aborted && closing) {
        await service.fail({
          id,
          launcherId,
          reason: 'the scripted launcher stopped while the workload ran',
          source: 'launcher',
        });
      } else if (abort.signal.aborted) await service.stopped({ id });
      else if (result.status === 'success') await service.succeed({ id, launcherId, output: result.output });
      else
        await service.fail({
          id,
          launcherId,
          reason: result.reason,
          source: 'middleware',
          output: result.output,
        });
    } catch (err) {
      // Cancelled (or swept) while it ran: it has ended already; confirm its programs are gone.
      if (!(err instanceof WorkloadError)) throw err;
      await service.stopped({ id }).catch(() => {});
    }
  }

  const queueWorker: WorkloadQueueWorker = createWorkloadQueueWorker({
    connection: opts.connection,
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    group: opts.group ?? 'default',
    concurrency,
    logger: log,
    handle: async (workloadId) => {
      if (closing) return { kind: 'retry', afterMs: 1000 };
      if (executing.size >= concurrency) return { kind: 'retry', afterMs: 500 };
      const claim = await service.claim({ id: workloadId, launcherId });
      if (claim.outcome === 'blocked') return { kind: 'retry', afterMs: claim.retryAfterMs };
      if (claim.outcome === 'unavailable') return { kind: 'done' };
      let input: Record<string, unknown>;
      try {
        input = (await service.input({ id: workloadId, launcherId })).input;
        await service.launched({ id: workloadId, launcherId });
        await service.running({ id: workloadId, launcherId });
      } catch (err) {
        await service
          .fail({
            id: workloadId,
            launcherId,
            reason: `could not start: ${(err as Error).message}`,
            source: 'launcher',
          })
          .catch(() => {});
        return { kind: 'done' };
      }
      const workload = await service.get(workloadId);
      const abort = new AbortController();
      const done = execute(workload, input, abort)
        .catch((err) => log.error({ err, workloadId }, 'scripted workload ended badly'))
        .finally(() => executing.delete(workloadId));
      executing.set(workloadId, { abort, done });
      return { kind: 'done' };
    },
  });

  return {
    launcherId,
    get running() {
      return executing.size;
    },
    waitUntilReady: () => queueWorker.waitUntilReady(),
    async close() {
      closing = true;
      await queueWorker.close();
      for (const e of executing.values()) e.abort.abort(new Error('the scripted launcher is stopping'));
      // An executor that ignores the abort is left behind: the sweeper fails its workload.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...executing.values()].map((e) => e.done)),
        new Promise<void>((r) => {
          timer = setTimeout(r, opts.closeGraceMs ?? 10_000);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
