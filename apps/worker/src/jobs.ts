import { ConnectionCatalog } from '@sluice/api';
import { type Db, type JobStatus, type Prisma, resetConnectionState, type Tx } from '@sluice/db';
import {
  type FailureReason,
  JobConfig,
  type JobSnapshot,
  platformFailure,
  type StreamRef,
  streamKey,
} from '@sluice/platform';
import { StreamStatsReport } from '@sluice/workload';
import { nextGenerations, selectedStreams } from './catalog';
import { type AutoDisableConfig, countFailure, NO_FAILURES, type RetryCounters } from './config';
import { type Schedule, scheduleOf } from './schedule';

export const ACTIVE_JOB_STATUSES: JobStatus[] = ['pending', 'running', 'incomplete'];
const asJson = (v: unknown) => v as Prisma.InputJsonValue;

// ---------------------------------------------------------------------------------------------
// The connection manager's view of Postgres

export interface ManagerPlan {
  status: 'active' | 'inactive' | 'deprecated' | 'missing';
  breakingChange: boolean;
  schedule: Schedule;
  /** A running or incomplete job nobody runs (its workflow was lost): adopt it. */
  orphan: { jobId: string; type: 'sync' | 'reset' } | null;
  /** The oldest job queued by the API (sync now, reset). */
  pending: { jobId: string; type: 'sync' | 'reset' } | null;
  lastJobCreatedAt: number | null;
}

export async function loadManagerPlan(db: Db, connectionId: string): Promise<ManagerPlan> {
  const c = await db.connection.findUnique({
    where: { id: connectionId },
    select: {
      status: true,
      breakingChange: true,
      scheduleType: true,
      scheduleUnits: true,
      scheduleTimeUnit: true,
      cronExpression: true,
      cronTimeZone: true,
    },
  });
  if (!c) {
    return {
      status: 'missing',
      breakingChange: false,
      schedule: { type: 'manual' },
      orphan: null,
      pending: null,
      lastJobCreatedAt: null,
    };
  }
  const [active, last] = await Promise.all([
    db.job.findMany({
      where: { connectionId, type: { in: ['sync', 'reset'] }, status: { in: ACTIVE_JOB_STATUSES } },
      select: { id: true, type: true, status: true },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    }),
    db.job.findFirst({
      where: { connectionId, type: { in: ['sync', 'reset'] }, status: { not: 'pending' } },
      select: { createdAt: true },
      orderBy: { createdAt: 'desc' },
    }),
  ]);
  const orphan = active.find((j) => j.status !== 'pending');
  const pending = active.find((j) => j.status === 'pending');
  const ref = (j: { id: string; type: string } | undefined) =>
    j ? { jobId: j.id, type: j.type as 'sync' | 'reset' } : null;
  return {
    status: c.status,
    breakingChange: c.breakingChange,
    schedule: scheduleOf(c),
    orphan: ref(orphan),
    pending: ref(pending),
    lastJobCreatedAt: last ? last.createdAt.getTime() : null,
  };
}

/** A disabled or deleted connection's queued jobs will not run. */
export async function cancelPendingJobs(
  db: Db,
  connectionId: string,
  opts: { keepResets: boolean },
): Promise<number> {
  const r = await db.job.updateMany({
    where: {
      connectionId,
      status: 'pending',
      ...(opts.keepResets ? { type: 'sync' } : { type: { in: ['sync', 'reset'] } }),
    },
    data: { status: 'cancelled', endedAt: new Date() },
  });
  return r.count;
}

// ---------------------------------------------------------------------------------------------
// Jobs

export type StartSpec =
  | { kind: 'scheduled'; jobId: string; dueAt: number }
  | { kind: 'pending'; jobId: string }
  | { kind: 'adopt'; jobId: string };

export type Started =
  | { started: false; reason: string }
  | {
      started: true;
      jobId: string;
      type: 'sync' | 'reset';
      workspaceId: string;
      nextAttempt: number;
      counters: RetryCounters;
    };

const connectionInclude = {
  workspace: { select: { dataplaneGroup: true } },
  source: { include: { definition: true } },
  destination: { include: { definition: true } },
} satisfies Prisma.ConnectionInclude;

async function buildSnapshot(
  db: Db | Tx,
  connectionId: string,
  jobId: string,
  resetStreams: StreamRef[] | null | undefined,
  isReset: boolean,
  syncId: number,
): Promise<{ snapshot: JobSnapshot; workspaceId: string } | { error: string }> {
  const c = await db.connection.findUnique({ where: { id: connectionId }, include: connectionInclude });
  if (!c) return { error: `connection ${connectionId} does not exist` };
  const parsed = ConnectionCatalog.safeParse(c.catalog);
  if (!parsed.success) return { error: `connection ${connectionId} has an invalid stored catalog` };
  const catalog = parsed.data;
  const previous = await db.job.findFirst({
    where: { connectionId, id: { not: jobId }, startedAt: { not: null } },
    orderBy: { startedAt: 'desc' },
    select: { config: true },
  });
  const prevGens = JobConfig.safeParse(previous?.config).data?.snapshot?.streamGenerations ?? [];
  const streams = selectedStreams(catalog, isReset ? resetStreams : null);
  const modes = new Map(catalog.streams.map((s) => [streamKey(s.stream), s.destinationSyncMode as string]));
  const reset = isReset ? (resetStreams ? new Set(resetStreams.map(streamKey)) : 'all') : null;
  const gens = nextGenerations(streams, modes, prevGens, reset);
  const mine = new Set(gens.map((g) => streamKey(g.stream)));
  const actor = (a: typeof c.source | typeof c.destination) => ({
    actorId: a.id,
    name: a.name,
    definitionId: a.definitionId,
    definitionName: a.definition.name,
    version: a.definition.version,
    image: a.definition.image,
  });
  return {
    workspaceId: c.workspaceId,
    snapshot: {
      connection: {
        id: c.id,
        name: c.name,
        workspaceId: c.workspaceId,
        dataplaneGroup: c.workspace.dataplaneGroup,
        namespaceDefinition: c.namespaceDefinition,
        namespaceFormat: c.namespaceFormat,
        prefix: c.prefix,
        resourceOverrides: c.resourceOverrides ?? null,
        nonBreakingChangesPreference: c.nonBreakingChangesPreference,
      },
      source: actor(c.source),
      destination: actor(c.destination),
      catalog,
      sourceCatalogId: c.sourceCatalogId,
      syncId,
      streamGenerations: [...prevGens.filter((g) => !mine.has(streamKey(g.stream))), ...gens],
      streams,
    },
  };
}

function countersOf(attempts: { status: string; output: unknown; failureSummary: unknown }[]): RetryCounters {
  let c = NO_FAILURES;
  for (const a of attempts) if (a.status === 'failed') c = countFailure(c, attemptProgress(a));
  return c;
}

function attemptProgress(a: { output: unknown; failureSummary: unknown }): boolean {
  const out = a.output as { progress?: unknown } | null;
  const sum = a.failureSummary as { partialSuccess?: unknown } | null;
  return out?.progress === true || sum?.partialSuccess === true;
}

async function startedResult(db: Db | Tx, jobId: string): Promise<Started> {
  const job = await db.job.findUniqueOrThrow({
    where: { id: jobId },
    include: { attempts: { orderBy: { attemptNumber: 'asc' } } },
  });
  return {
    started: true,
    jobId,
    type: job.type as 'sync' | 'reset',
    workspaceId: job.workspaceId,
    nextAttempt: job.attempts.length === 0 ? 0 : job.attempts[job.attempts.length - 1]!.attemptNumber + 1,
    counters: countersOf(job.attempts),
  };
}

/**
 * Starts a job: creates a scheduled one, moves a queued one from pending to running (a reset
 * clears the state of its streams in the same transaction), or takes over an orphaned one
 * (its running attempt is failed: the workflow running it was lost). Safe to repeat.
 */
/**
 * The row of a scheduled job, in one statement: the first thing a due connection manager
 * does, so its creation time (what schedule lateness measures) does not wait for the rest of
 * the job's setup. Nothing is created when the connection is no longer active. Safe to repeat.
 */
export async function createScheduledJob(
  db: Db,
  args: { jobId: string; connectionId: string; dueAt: number },
): Promise<{ created: boolean }> {
  const config = JSON.stringify({
    trigger: 'scheduled',
    scheduledFor: new Date(args.dueAt).toISOString(),
  } satisfies JobConfig);
  const rows = await db.$queryRaw<{ id: string }[]>`
    INSERT INTO "jobs" ("id", "workspace_id", "connection_id", "type", "status", "started_at", "config", "updated_at")
    SELECT ${args.jobId}::uuid, c."workspace_id", c."id", 'sync'::"job_type", 'running'::"job_status", now(), ${config}::jsonb, now()
      FROM "connections" c WHERE c."id" = ${args.connectionId}::uuid AND c."status" = 'active'
    ON CONFLICT ("id") DO NOTHING
    RETURNING "id"`;
  if (rows.length > 0) return { created: true };
  const existing = await db.job.findUnique({ where: { id: args.jobId }, select: { id: true } });
  return { created: existing !== null };
}

/**
 * Starts a job: freezes its snapshot (a scheduled job's row exists already, see
 * createScheduledJob), moves a queued one from pending to running (a reset clears the state of
 * its streams in the same transaction), or takes over an orphaned one (its running attempt is
 * failed: the workflow running it was lost). Safe to repeat.
 */
export async function startJob(
  db: Db,
  connectionId: string,
  spec: StartSpec,
  now = new Date(),
): Promise<Started> {
  if (spec.kind === 'scheduled') {
    return db.$transaction(async (tx) => {
      const job = await tx.job.findUnique({ where: { id: spec.jobId } });
      if (!job || job.connectionId !== connectionId)
        return { started: false, reason: `job ${spec.jobId} was not created` };
      const config = JobConfig.parse(job.config ?? {});
      if (config.snapshot) return startedResult(tx, job.id);
      const built = await buildSnapshot(
        tx,
        connectionId,
        spec.jobId,
        null,
        false,
        (job.startedAt ?? now).getTime(),
      );
      if ('error' in built) return { started: false, reason: built.error };
      await tx.job.update({
        where: { id: job.id },
        data: { config: asJson({ ...config, snapshot: built.snapshot }) },
      });
      return startedResult(tx, job.id);
    });
  }

  if (spec.kind === 'pending') {
    return db.$transaction(async (tx) => {
      const job = await tx.job.findUnique({ where: { id: spec.jobId } });
      if (!job || job.connectionId !== connectionId)
        return { started: false, reason: `job ${spec.jobId} not found` };
      const config = JobConfig.parse(job.config ?? {});
      if (job.status !== 'pending') {
        // A replay after the start committed, or a job cancelled while queued.
        if (config.snapshot && (job.status === 'running' || job.status === 'incomplete'))
          return startedResult(tx, job.id);
        return { started: false, reason: `job ${job.id} is ${job.status}` };
      }
      const isReset = job.type === 'reset';
      const built = await buildSnapshot(
        tx,
        connectionId,
        job.id,
        config.resetStreams,
        isReset,
        now.getTime(),
      );
      if ('error' in built) return { started: false, reason: built.error };
      const moved = await tx.job.updateMany({
        where: { id: job.id, status: 'pending' },
        data: { status: 'running', startedAt: now, config: asJson({ ...config, snapshot: built.snapshot }) },
      });
      if (moved.count === 0) return { started: false, reason: `job ${job.id} changed while starting` };
      if (isReset) {
        await resetConnectionState(tx, {
          connectionId,
          ...(config.resetStreams ? { streams: config.resetStreams } : {}),
        });
      }
      return startedResult(tx, job.id);
    });
  }

  // adopt
  return db.$transaction(async (tx) => {
    const job = await tx.job.findUnique({ where: { id: spec.jobId } });
    if (!job || !['running', 'incomplete'].includes(job.status))
      return { started: false, reason: `job ${spec.jobId} is not running` };
    const config = JobConfig.parse(job.config ?? {});
    if (!config.snapshot) {
      const built = await buildSnapshot(
        tx,
        connectionId,
        job.id,
        config.resetStreams,
        job.type === 'reset',
        now.getTime(),
      );
      if ('error' in built) return { started: false, reason: built.error };
      await tx.job.update({
        where: { id: job.id },
        data: { config: asJson({ ...config, snapshot: built.snapshot }) },
      });
    }
    const failure = platformFailure(
      'the workflow running this attempt was lost (worker or Redis failure); the attempt is failed and retried',
    );
    await tx.attempt.updateMany({
      where: { jobId: job.id, status: 'running' },
      data: {
        status: 'failed',
        endedAt: now,
        failureSummary: asJson({ failures: [failure], partialSuccess: false }),
      },
    });
    await tx.job.update({ where: { id: job.id }, data: { status: 'running' } });
    return startedResult(tx, job.id);
  });
}

export async function readJobConfig(
  db: Db,
  jobId: string,
): Promise<{ config: JobConfig; snapshot: JobSnapshot; type: string }> {
  const job = await db.job.findUniqueOrThrow({ where: { id: jobId }, select: { config: true, type: true } });
  const config = JobConfig.parse(job.config ?? {});
  if (!config.snapshot) throw new Error(`job ${jobId} has not started`);
  return { config, snapshot: config.snapshot, type: job.type };
}

// ---------------------------------------------------------------------------------------------
// Attempts

export async function startAttempt(
  db: Db,
  jobId: string,
  attemptNumber: number,
): Promise<{ attemptId: string; stateVersionAtStart: number }> {
  const attempt = await db.attempt.upsert({
    where: { jobId_attemptNumber: { jobId, attemptNumber } },
    create: { jobId, attemptNumber, status: 'running', logLocation: 'db' },
    update: {},
  });
  const job = await db.job.update({
    where: { id: jobId },
    data: { status: 'running' },
    select: { connection: { select: { stateVersion: true } } },
  });
  return { attemptId: attempt.id, stateVersionAtStart: Number(job.connection?.stateVersion ?? 0) };
}

const COUNTERS = [
  'recordsEmitted',
  'bytesEmitted',
  'recordsCommitted',
  'bytesCommitted',
  'recordsRejected',
] as const;
export type Totals = Record<(typeof COUNTERS)[number], number>;

function sumStats(rows: Record<(typeof COUNTERS)[number], bigint>[]): Totals {
  const t = Object.fromEntries(COUNTERS.map((k) => [k, 0])) as Totals;
  for (const r of rows) for (const k of COUNTERS) t[k] += Number(r[k]);
  return t;
}

export interface AttemptResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  failures?: FailureReason[];
  workloadId?: string | null;
}

/** The per-stream counters a sync workload's output ends with (the middleware's `output.streams`). */
export function finalStatsOf(output: unknown): StreamStatsReport[] {
  const streams = (output as { streams?: unknown } | null)?.streams;
  const parsed = StreamStatsReport.array().safeParse(streams);
  return parsed.success ? parsed.data : [];
}

/** Stores final counters without lowering any stored one (heartbeats may have gone further). */
async function storeFinalStats(tx: Tx, attemptId: string, streams: StreamStatsReport[]): Promise<void> {
  for (const s of streams) {
    const where = {
      attemptId_streamNamespace_streamName: {
        attemptId,
        streamNamespace: s.stream.namespace ?? '',
        streamName: s.stream.name,
      },
    };
    const current = await tx.streamStats.findUnique({ where });
    const value = (k: (typeof COUNTERS)[number]) => {
      const reported = BigInt(s[k] ?? 0);
      const stored = current?.[k] ?? 0n;
      return reported > stored ? reported : stored;
    };
    const data = Object.fromEntries(COUNTERS.map((k) => [k, value(k)])) as Record<
      (typeof COUNTERS)[number],
      bigint
    >;
    if (current) await tx.streamStats.update({ where, data });
    else
      await tx.streamStats.create({
        data: {
          attemptId,
          streamNamespace: s.stream.namespace ?? '',
          streamName: s.stream.name,
          ...data,
          estimatedRecords: s.estimatedRecords == null ? null : BigInt(s.estimatedRecords),
          estimatedBytes: s.estimatedBytes == null ? null : BigInt(s.estimatedBytes),
        },
      });
  }
}

/**
 * Ends an attempt in one transaction: its final stream counters (the workload's output may
 * carry counts its last heartbeat did not), status, failures, stats summary and whether it made
 * progress (committed records or state: Airbyte's rule for the attempt limits). A failed attempt
 * leaves its job `incomplete` until the next attempt or the final status.
 */
export async function finishAttempt(
  db: Db,
  args: {
    jobId: string;
    attemptId: string;
    stateVersionAtStart: number;
    result: AttemptResult;
    finalStats?: StreamStatsReport[];
  },
): Promise<{ progress: boolean; totals: Totals }> {
  return db.$transaction(async (tx) => {
    // Serialises with a concurrent finish of the same attempt (a replayed step).
    await tx.$executeRaw`SELECT 1 FROM "attempts" WHERE "id" = ${args.attemptId}::uuid FOR UPDATE`;
    await storeFinalStats(tx, args.attemptId, args.finalStats ?? []);
    const [stats, job] = await Promise.all([
      tx.streamStats.findMany({ where: { attemptId: args.attemptId } }),
      tx.job.findUniqueOrThrow({
        where: { id: args.jobId },
        select: { connection: { select: { stateVersion: true } } },
      }),
    ]);
    const totals = sumStats(stats);
    const stateVersion = Number(job.connection?.stateVersion ?? 0);
    const progress = totals.recordsCommitted > 0 || stateVersion > args.stateVersionAtStart;
    const output = {
      totals,
      streams: stats.map((s) => ({
        name: s.streamName,
        namespace: s.streamNamespace || null,
        recordsEmitted: Number(s.recordsEmitted),
        bytesEmitted: Number(s.bytesEmitted),
        recordsCommitted: Number(s.recordsCommitted),
        bytesCommitted: Number(s.bytesCommitted),
        recordsRejected: Number(s.recordsRejected),
      })),
      progress,
      stateVersion,
      workloadId: args.result.workloadId ?? null,
    };
    await tx.attempt.updateMany({
      where: { id: args.attemptId, status: 'running' },
      data: {
        status: args.result.status,
        endedAt: new Date(),
        output: asJson(output),
        ...(args.result.failures?.length
          ? { failureSummary: asJson({ failures: args.result.failures, partialSuccess: progress }) }
          : {}),
      },
    });
    if (args.result.status === 'failed') {
      await tx.job.updateMany({
        where: { id: args.jobId, status: 'running' },
        data: { status: 'incomplete' },
      });
    }
    return { progress, totals };
  });
}

export interface JobSummary {
  jobId: string;
  type: string;
  status: JobStatus;
  workspaceId: string;
  connectionId: string | null;
  attempts: number;
  totals: Totals;
  failure: FailureReason | null;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
}

/**
 * Final status of a job. Stats roll up over all its attempts (each attempt's committed data
 * stays committed) into the last attempt's `output.job`. Idempotent.
 */
export async function finishJob(
  db: Db,
  jobId: string,
  status: 'succeeded' | 'failed' | 'cancelled',
  now = new Date(),
): Promise<JobSummary> {
  const job = await db.$transaction(async (tx) => {
    const current = await tx.job.findUniqueOrThrow({
      where: { id: jobId },
      include: { attempts: { orderBy: { attemptNumber: 'asc' }, include: { streamStats: true } } },
    });
    if (!ACTIVE_JOB_STATUSES.includes(current.status)) return current;
    // The rollup is written before the status, so whoever sees the final status sees it too.
    const last = current.attempts.at(-1);
    if (last) {
      const totals = sumStats(current.attempts.flatMap((a) => a.streamStats));
      const out = (last.output as Record<string, unknown> | null) ?? {};
      const output = { ...out, job: { totals, attempts: current.attempts.length } };
      await tx.attempt.update({ where: { id: last.id }, data: { output: asJson(output) } });
      last.output = output as Prisma.JsonValue;
    }
    const updated = await tx.job.update({ where: { id: jobId }, data: { status, endedAt: now } });
    return { ...current, status: updated.status, endedAt: updated.endedAt };
  });
  const totals = sumStats(job.attempts.flatMap((a) => a.streamStats));
  const last = job.attempts.at(-1);
  const failures = (last?.failureSummary as { failures?: FailureReason[] } | null)?.failures ?? [];
  return {
    jobId,
    type: job.type,
    status: job.status,
    workspaceId: job.workspaceId,
    connectionId: job.connectionId,
    attempts: job.attempts.length,
    totals,
    failure: job.status === 'failed' ? (failures[0] ?? null) : null,
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    endedAt: job.endedAt?.toISOString() ?? null,
  };
}

/**
 * Airbyte's auto-disable: a connection whose sync jobs failed `maxFailedJobsInARow` times in a
 * row, or only failed for `maxDaysOfOnlyFailedJobs` days, is disabled; a warning goes out when
 * half of either is reached. Cancelled jobs do not count either way.
 */
export async function evaluateAutoDisable(
  db: Db,
  connectionId: string,
  cfg: AutoDisableConfig,
  now = new Date(),
): Promise<{ action: 'none' | 'warn' | 'disable'; failuresInARow: number; failingSinceDays: number }> {
  const recent = await db.job.findMany({
    where: { connectionId, type: 'sync', status: { in: ['succeeded', 'failed'] } },
    orderBy: { createdAt: 'desc' },
    take: cfg.maxFailedJobsInARow + 1,
    select: { status: true, createdAt: true },
  });
  let streak = 0;
  for (const j of recent) {
    if (j.status !== 'failed') break;
    streak++;
  }
  const none = { action: 'none' as const, failuresInARow: streak, failingSinceDays: 0 };
  if (streak === 0) return none;
  // The streak may be longer than the rows read: its first failure is at least that old.
  const firstFailure = recent[streak - 1]!.createdAt.getTime();
  const days = (now.getTime() - firstFailure) / 86_400_000;
  const previousDays = streak > 1 ? (recent[1]!.createdAt.getTime() - firstFailure) / 86_400_000 : 0;
  const result = { failuresInARow: streak, failingSinceDays: Math.floor(days) };
  const connection = await db.connection.findUnique({
    where: { id: connectionId },
    select: { status: true },
  });
  if (connection?.status !== 'active') return { ...result, action: 'none' };
  if (streak >= cfg.maxFailedJobsInARow || (streak > 1 && days >= cfg.maxDaysOfOnlyFailedJobs)) {
    await db.connection.updateMany({
      where: { id: connectionId, status: 'active' },
      data: { status: 'inactive' },
    });
    return { ...result, action: 'disable' };
  }
  if (
    streak === cfg.warnFailedJobsInARow ||
    (streak > 1 && days >= cfg.warnDaysOfOnlyFailedJobs && previousDays < cfg.warnDaysOfOnlyFailedJobs)
  ) {
    return { ...result, action: 'warn' };
  }
  return { ...result, action: 'none' };
}

/** Ends a job nobody will run (its connection was disabled or deleted while it ran). */
export async function abandonJob(db: Db, jobId: string, reason: string, now = new Date()): Promise<void> {
  const failure = { ...platformFailure(reason), failureType: 'manual_cancellation' as const };
  await db.$transaction([
    db.attempt.updateMany({
      where: { jobId, status: 'running' },
      data: {
        status: 'cancelled',
        endedAt: now,
        failureSummary: asJson({ failures: [failure], partialSuccess: false }),
      },
    }),
    db.job.updateMany({
      where: { id: jobId, status: { in: ACTIVE_JOB_STATUSES } },
      data: { status: 'cancelled', endedAt: now },
    }),
  ]);
}
