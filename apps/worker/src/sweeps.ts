import { randomUUID } from 'node:crypto';
import type { Db } from '@sluice/db';
import { MANAGER_WORKFLOW, managerWorkflowId, SIGNALS } from '@sluice/platform';
import type { Logger } from '@sluice/shared';
import { type Engine, WorkflowNotFoundError } from '@sluice/workflow';
import { SignalInput, type WorkloadService } from '@sluice/workload';
import { ACTIVE_JOB_STATUSES } from './jobs';

export interface SweepIntervals {
  /** Workload sweeper (missed deadlines). */
  sweeperMs: number;
  /** Retention of old jobs and logs. */
  retentionMs: number;
  /** Postgres ↔ Redis reconciliation. */
  reconcilerMs: number;
}

export const DEFAULT_SWEEP_INTERVALS: SweepIntervals = {
  sweeperMs: 5_000,
  retentionMs: 3_600_000,
  reconcilerMs: 60_000,
};

export interface RetentionSettings {
  jobDays: number;
  minJobsPerConnection: number;
  logDays: number;
  /** Ended workloads (their rows, inputs and outputs) are kept this many days. */
  workloadDays: number;
}

export interface SweepDeps {
  db: Db;
  engine: Engine;
  service: WorkloadService;
  logger: Logger;
  retention: RetentionSettings;
  /** How long a check/discover job may run before the reconciler fails it (API process gone). */
  connectorJobMaxMs: number;
}

export interface ReconcileReport {
  managersStarted: number;
  managersNotified: number;
  orphanSignals: number;
  workloadSignals: number;
  requeued: number;
  connectorJobsFailed: number;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * The worker's cron sweeps. Each runs on an interval in every worker process, but a Redis
 * lease lets only one process run a given tick, so N workers do not sweep N times.
 */
export class Sweeps {
  private timers: NodeJS.Timeout[] = [];
  private running = new Set<Promise<unknown>>();
  /** Cursor of `listTerminatedSince` (in memory: after a restart it looks back an hour). */
  private terminatedSince = new Date(Date.now() - 3_600_000);
  private terminatedAfterId: string | undefined;
  private readonly token = randomUUID();

  constructor(private readonly deps: SweepDeps) {}

  start(intervals: SweepIntervals = DEFAULT_SWEEP_INTERVALS): void {
    const every = (name: string, ms: number, fn: () => Promise<unknown>) => {
      const tick = () => {
        const p = this.leased(name, ms, fn)
          .catch((err) => this.deps.logger.warn({ err: (err as Error).message, sweep: name }, 'sweep failed'))
          .finally(() => this.running.delete(p));
        this.running.add(p);
      };
      this.timers.push(setInterval(tick, ms));
      // A first run soon after start (staggered), not after a whole interval.
      this.timers.push(setTimeout(tick, Math.min(ms, 1000 + Math.random() * 1000)));
    };
    every('sweeper', intervals.sweeperMs, () => this.sweepWorkloads());
    every('reconciler', intervals.reconcilerMs, () => this.reconcile());
    every('retention', intervals.retentionMs, () => this.retention());
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await Promise.all(this.running);
  }

  /** Runs `fn` if this process gets the tick's lease (most of an interval long). */
  private async leased(name: string, intervalMs: number, fn: () => Promise<unknown>): Promise<void> {
    const key = `${this.deps.engine.keys.prefix}:sweeps:${name}`;
    const ok = await this.deps.engine.redis.set(
      key,
      this.token,
      'PX',
      Math.max(500, Math.floor(intervalMs * 0.8)),
      'NX',
    );
    if (ok !== 'OK') return;
    await fn();
  }

  /** Fails workloads past their deadline; their waiting workflows hear it through onTerminal. */
  async sweepWorkloads(): Promise<number> {
    const r = await this.deps.service.sweep();
    return r.failed.length + r.settled.length;
  }

  /**
   * Deletes finished jobs older than the retention (keeping each connection's latest
   * `minJobsPerConnection`), with their attempts, stats and logs; then logs older than the log
   * retention, and ended workloads older than the workload retention.
   */
  async retention(now = new Date()): Promise<{ jobs: number; logs: number; workloads: number }> {
    const { db } = this.deps;
    const r = this.deps.retention;
    const jobCutoff = new Date(now.getTime() - r.jobDays * 86_400_000);
    const jobs = await db.$executeRaw`
      DELETE FROM "jobs" j USING (
        SELECT "id", row_number() OVER (PARTITION BY "connection_id" ORDER BY "created_at" DESC) AS rn
          FROM "jobs" WHERE "status" IN ('failed', 'succeeded', 'cancelled')
      ) ranked
      WHERE j."id" = ranked."id" AND j."created_at" < ${jobCutoff}
        AND (j."connection_id" IS NULL OR ranked.rn > ${r.minJobsPerConnection})`;
    const logCutoff = new Date(now.getTime() - r.logDays * 86_400_000);
    const logs = await db.attemptLogChunk.deleteMany({
      where: { createdAt: { lt: logCutoff }, attempt: { status: { not: 'running' } } },
    });
    const workloads = await db.workload.deleteMany({
      where: {
        status: { in: ['success', 'failure', 'cancelled'] },
        endedAt: { lt: new Date(now.getTime() - r.workloadDays * 86_400_000) },
      },
    });
    if (jobs + logs.count + workloads.count > 0) {
      this.deps.logger.info(
        { jobs, logChunks: logs.count, workloads: workloads.count },
        'retention removed old rows',
      );
    }
    return { jobs, logs: logs.count, workloads: workloads.count };
  }

  private async liveManagers(): Promise<Map<string, { status: string }>> {
    const live = new Map<string, { status: string }>();
    let cursor: number | null = 0;
    while (cursor !== null) {
      const page = await this.deps.engine.list({ name: MANAGER_WORKFLOW, cursor, limit: 1000 });
      for (const w of page.items) live.set(w.workflowId, { status: w.status });
      cursor = page.next;
    }
    return live;
  }

  /**
   * Makes Redis agree with Postgres (the source of truth):
   * - every enabled connection, and every connection with a running or queued job, has a live
   *   connection manager (after a Redis loss all of them are started again; a manager adopts a
   *   job whose workflow was lost: it fails the running attempt and retries it);
   * - a live manager not running a job that Postgres says is running is told to re-read;
   * - managers of disabled or deleted connections are told to stop;
   * - a workload that ended while its workflow still waits for it is signalled again;
   * - pending workloads are back on their queue; check/discover jobs whose caller died are failed.
   */
  async reconcile(): Promise<ReconcileReport> {
    const { db, engine, logger } = this.deps;
    const report: ReconcileReport = {
      managersStarted: 0,
      managersNotified: 0,
      orphanSignals: 0,
      workloadSignals: 0,
      requeued: 0,
      connectorJobsFailed: 0,
    };
    report.requeued = await this.deps.service.requeuePending();

    const live = await this.liveManagers();
    const [connections, activeJobs] = await Promise.all([
      db.connection.findMany({ select: { id: true, status: true } }),
      db.job.findMany({
        where: {
          type: { in: ['sync', 'reset'] },
          status: { in: ACTIVE_JOB_STATUSES },
          connectionId: { not: null },
        },
        select: { id: true, connectionId: true, status: true, updatedAt: true },
      }),
    ]);
    const statusOf = new Map(connections.map((c) => [c.id, c.status]));
    const needed = new Set(connections.filter((c) => c.status === 'active').map((c) => c.id));
    for (const j of activeJobs) needed.add(j.connectionId!);

    const missing = [...needed].filter((id) => !live.has(managerWorkflowId(id)));
    await mapLimit(missing, 20, async (connectionId) => {
      const r = await engine.start(
        MANAGER_WORKFLOW,
        managerWorkflowId(connectionId),
        { connectionId, lastDueAt: null, cycle: 0 },
        { idempotent: false },
      );
      if (r.created) report.managersStarted++;
    });
    if (report.managersStarted > 0)
      logger.info({ started: report.managersStarted }, 'reconciler started missing connection managers');

    // Live managers of connections that should not have one (disabled while the call was lost).
    const stale = [...live.keys()]
      .map((wf) => wf.slice('connection-manager:'.length))
      .filter((id) => !needed.has(id) && statusOf.get(id) !== 'active');
    await mapLimit(stale, 20, async (connectionId) => {
      if (await this.safeSignal(managerWorkflowId(connectionId), SIGNALS.update)) report.managersNotified++;
    });

    // Running jobs the live manager does not know about (a Redis restore from an old snapshot).
    const graceMs = 120_000;
    const running = activeJobs.filter(
      (j) => j.status !== 'pending' && Date.now() - j.updatedAt.getTime() > graceMs,
    );
    await mapLimit(running, 20, async (j) => {
      const wf = managerWorkflowId(j.connectionId!);
      if (!live.has(wf)) return;
      const info = await engine.query(wf);
      const state = (info?.state ?? {}) as { jobId?: string };
      if (info && state.jobId !== j.id && (info.status === 'sleeping' || info.status === 'waiting')) {
        if (await this.safeSignal(wf, SIGNALS.reconcile)) report.orphanSignals++;
      }
    });

    report.workloadSignals = await this.resignalWorkloads();
    report.connectorJobsFailed = await this.failAbandonedConnectorJobs();
    return report;
  }

  private async safeSignal(workflowId: string, name: string, payload?: unknown): Promise<boolean> {
    try {
      return await this.deps.engine.signal(workflowId, name, payload);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** Completion signals may be lost (Redis down while the API ended a workload): resend the
   * ones whose workflow still waits on that very workload. */
  private async resignalWorkloads(): Promise<number> {
    const { engine, service } = this.deps;
    let sent = 0;
    for (let page = 0; page < 20; page++) {
      const rows = await service.listTerminatedSince({
        since: this.terminatedSince,
        ...(this.terminatedAfterId ? { afterId: this.terminatedAfterId } : {}),
        limit: 500,
      });
      for (const w of rows) {
        const target = SignalInput.safeParse(w.signalInput);
        if (!target.success) continue;
        const info = await engine.query(target.data.workflowId);
        const state = (info?.state ?? {}) as { workloadId?: string };
        if (
          info &&
          (info.status === 'waiting' || info.status === 'sleeping') &&
          state.workloadId === w.id &&
          info.waitingFor?.signals.includes(target.data.signalName)
        ) {
          if (
            await this.safeSignal(target.data.workflowId, target.data.signalName, {
              workloadId: w.id,
              status: w.status,
            })
          )
            sent++;
        }
      }
      const last = rows.at(-1);
      if (last) {
        this.terminatedSince = last.updatedAt;
        this.terminatedAfterId = last.id;
      }
      if (rows.length < 500) break;
    }
    if (sent > 0) this.deps.logger.info({ sent }, 'reconciler re-sent lost workload completion signals');
    return sent;
  }

  /** Check/discover jobs run for an API request: if the API process died, nobody ends them. */
  private async failAbandonedConnectorJobs(): Promise<number> {
    const { db, engine } = this.deps;
    const cutoff = new Date(Date.now() - this.deps.connectorJobMaxMs);
    const stuck = await db.job.findMany({
      where: { type: { in: ['check', 'discover'] }, status: 'running', createdAt: { lt: cutoff } },
      select: { id: true },
      take: 500,
    });
    let n = 0;
    for (const j of stuck) {
      const info = await engine.query(`connector-job:${j.id}`);
      if (info && (info.status === 'running' || info.status === 'sleeping' || info.status === 'waiting'))
        continue;
      const now = new Date();
      const failure = {
        failures: [
          {
            failureOrigin: 'platform',
            failureType: 'system_error',
            externalMessage: 'the process running this job stopped before it ended',
            timestamp: now.getTime(),
          },
        ],
        partialSuccess: false,
      };
      await db.$transaction([
        db.attempt.updateMany({
          where: { jobId: j.id, status: 'running' },
          data: { status: 'failed', endedAt: now, failureSummary: failure },
        }),
        db.job.updateMany({
          where: { id: j.id, status: 'running' },
          data: { status: 'failed', endedAt: now },
        }),
      ]);
      n++;
    }
    return n;
  }
}
