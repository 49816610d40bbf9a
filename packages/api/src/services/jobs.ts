import type { Attempt, DbOrTx, Job, JobStatus, JobType, StreamStats } from '@sluice/db';
import { decodeLogCursor, hasClosingLine, readAttemptLog, WorkloadError } from '@sluice/workload';
import { ApiError, notFound } from '../errors';
import { encodeCursor, iso, keysetWhere, num } from './util';

type AttemptWithStats = Attempt & { streamStats: StreamStats[] };
type JobWithAttempts = Job & { attempts: AttemptWithStats[] };

const COUNTERS = [
  'recordsEmitted',
  'bytesEmitted',
  'recordsCommitted',
  'bytesCommitted',
  'recordsRejected',
] as const;

function duration(start: Date | null, end: Date | null): number | null {
  if (!start) return null;
  return (end ?? new Date()).getTime() - start.getTime();
}

function presentAttempt(a: AttemptWithStats) {
  const streams = a.streamStats
    .map((s) => ({
      namespace: s.streamNamespace || null,
      name: s.streamName,
      recordsEmitted: num(s.recordsEmitted)!,
      bytesEmitted: num(s.bytesEmitted)!,
      recordsCommitted: num(s.recordsCommitted)!,
      bytesCommitted: num(s.bytesCommitted)!,
      recordsRejected: num(s.recordsRejected)!,
      estimatedRecords: num(s.estimatedRecords),
      estimatedBytes: num(s.estimatedBytes),
    }))
    .sort((x, y) => `${x.namespace ?? ''}.${x.name}`.localeCompare(`${y.namespace ?? ''}.${y.name}`));
  const totals = Object.fromEntries(
    COUNTERS.map((k) => [k, streams.reduce((sum, s) => sum + s[k], 0)]),
  ) as Record<(typeof COUNTERS)[number], number>;
  return {
    id: a.id,
    attemptNumber: a.attemptNumber,
    status: a.status,
    createdAt: iso(a.createdAt)!,
    endedAt: iso(a.endedAt),
    durationMs: duration(a.createdAt, a.endedAt),
    /** `{ failures: [{ failureType, failureOrigin, externalMessage, … }], partialSuccess }`. */
    failureSummary: (a.failureSummary as Record<string, unknown> | null) ?? null,
    output: (a.output as Record<string, unknown> | null) ?? null,
    totals,
    streams,
  };
}

export function presentJob(job: JobWithAttempts) {
  const attempts = [...job.attempts].sort((a, b) => a.attemptNumber - b.attemptNumber).map(presentAttempt);
  return {
    id: job.id,
    workspaceId: job.workspaceId,
    type: job.type,
    status: job.status,
    connectionId: job.connectionId,
    sourceId: job.sourceId,
    destinationId: job.destinationId,
    createdAt: iso(job.createdAt)!,
    startedAt: iso(job.startedAt),
    endedAt: iso(job.endedAt),
    durationMs: duration(job.startedAt ?? job.createdAt, job.endedAt),
    attempts,
    /** The last attempt's totals: what the job moved. */
    totals: attempts.at(-1)?.totals ?? null,
  };
}
export type JobView = ReturnType<typeof presentJob>;

const withAttempts = { attempts: { include: { streamStats: true } } } as const;

export interface JobFilter {
  workspaceId: string;
  connectionId?: string | undefined;
  sourceId?: string | undefined;
  destinationId?: string | undefined;
  types?: JobType[] | undefined;
  statuses?: JobStatus[] | undefined;
  cursor?: string | undefined | null;
  limit: number;
}

/** Newest first, keyset-paginated: pass `nextCursor` back as `cursor` for the next page. */
export async function listJobs(db: DbOrTx, f: JobFilter) {
  const rows = await db.job.findMany({
    where: {
      workspaceId: f.workspaceId,
      ...(f.connectionId ? { connectionId: f.connectionId } : {}),
      ...(f.sourceId ? { sourceId: f.sourceId } : {}),
      ...(f.destinationId ? { destinationId: f.destinationId } : {}),
      ...(f.types?.length ? { type: { in: f.types } } : {}),
      ...(f.statuses?.length ? { status: { in: f.statuses } } : {}),
      ...keysetWhere(f.cursor),
    },
    include: withAttempts,
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: f.limit + 1,
  });
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return {
    items: page.map(presentJob),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last) : null,
  };
}

export async function getJob(db: DbOrTx, id: string) {
  const job = await db.job.findUnique({ where: { id }, include: withAttempts });
  if (!job) throw notFound('job', id);
  return presentJob(job);
}

/**
 * A page of an attempt's log: the latest attempt, or `attemptNumber`, or the attempt the
 * `cursor` was issued for (a follower keeps its attempt when the job retries). Pass `cursor`
 * back for what follows; once the attempt ended, the job moved on from it and nothing more is
 * stored, `complete` is true.
 */
export async function readJobAttemptLog(
  db: DbOrTx,
  jobId: string,
  opts: { attemptNumber?: number | undefined; cursor?: string | null | undefined; limit: number },
) {
  let cursorAttempt: string | null;
  try {
    cursorAttempt = decodeLogCursor(opts.cursor).attemptId;
  } catch (err) {
    throw new ApiError('BAD_REQUEST', (err as Error).message, { path: 'cursor' });
  }
  const attempt =
    opts.attemptNumber === undefined && cursorAttempt
      ? await db.attempt.findFirst({ where: { id: cursorAttempt, jobId } })
      : await db.attempt.findFirst({
          where: {
            jobId,
            ...(opts.attemptNumber !== undefined ? { attemptNumber: opts.attemptNumber } : {}),
          },
          orderBy: { attemptNumber: 'desc' },
        });
  if (!attempt) {
    throw new ApiError(
      'NOT_FOUND',
      opts.attemptNumber !== undefined
        ? `job ${jobId} has no attempt ${opts.attemptNumber}`
        : cursorAttempt
          ? `the cursor names no attempt of job ${jobId}`
          : `job ${jobId} has no attempt yet`,
    );
  }
  let page: Awaited<ReturnType<typeof readAttemptLog>>;
  try {
    page = await readAttemptLog(db, attempt.id, { cursor: opts.cursor ?? null, limit: opts.limit });
  } catch (err) {
    if (err instanceof WorkloadError) throw new ApiError(err.code, err.message, { path: 'cursor' });
    throw err;
  }
  // The worker marks an attempt ended, then writes its closing line ("attempt N succeeded: …"):
  // the log is whole once that line is stored, or the job moved on from the attempt (ended, or
  // a later attempt began; attempts the worker did not run have no closing line).
  const ended =
    attempt.status !== 'running' &&
    ((await hasClosingLine(db, attempt.id)) ||
      !!(await db.job.findFirst({
        where: {
          id: jobId,
          OR: [
            { status: { notIn: ['pending', 'running', 'incomplete'] } },
            { attempts: { some: { attemptNumber: { gt: attempt.attemptNumber } } } },
          ],
        },
        select: { id: true },
      })));
  return {
    attemptId: attempt.id,
    attemptNumber: attempt.attemptNumber,
    attemptStatus: attempt.status,
    chunks: page.entries.map((e) => ({
      writer: e.writer,
      /** The workload of the attempt it belongs to (a sync runs a discover first): 0, 1, … */
      slot: e.slot,
      sequence: e.sequence,
      text: e.text,
      createdAt: e.createdAt.toISOString(),
    })),
    cursor: page.cursor,
    complete: ended && !page.more,
  };
}
