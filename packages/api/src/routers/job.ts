import { z } from 'zod';
import { requireObjectRole, requireWorkspaceRole } from '../access';
import { ApiError } from '../errors';
import { getJob, listJobs, readJobAttemptLog } from '../services/jobs';
import { readProcedure, router, writeProcedure } from '../trpc';
import { Id, requireOrchestrator } from './helpers';

const JobType = z.enum(['sync', 'reset', 'check', 'discover']);
const JobStatus = z.enum(['pending', 'running', 'incomplete', 'failed', 'succeeded', 'cancelled']);

export const jobRouter = router({
  /**
   * Jobs of a workspace, newest first, optionally of one connection, source or destination;
   * with attempts, durations, per-stream stats and failure summaries. Pass `nextCursor` back
   * as `cursor` for the next page.
   */
  list: readProcedure
    .input(
      z.object({
        workspaceId: Id,
        connectionId: Id.optional(),
        sourceId: Id.optional(),
        destinationId: Id.optional(),
        types: z.array(JobType).optional(),
        statuses: z.array(JobStatus).optional(),
        cursor: z.string().max(200).nullish(),
        limit: z.int().min(1).max(100).default(20),
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireWorkspaceRole(ctx, input.workspaceId, 'reader');
      return listJobs(ctx.db, input);
    }),

  get: readProcedure.input(z.object({ jobId: Id })).query(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'job', input.jobId, 'reader');
    return getJob(ctx.db, input.jobId);
  }),

  /**
   * An attempt's log (the latest attempt unless `attemptNumber`), a page of chunks in the order
   * they were written. To follow a running attempt, call again with the `cursor` it answered
   * (it captures how far each writer's chunks were read, and pins the attempt) until `complete`.
   */
  attemptLog: readProcedure
    .input(
      z.object({
        jobId: Id,
        attemptNumber: z.int().min(0).optional(),
        cursor: z.string().max(500).nullish(),
        limit: z.int().min(1).max(1000).default(200),
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireObjectRole(ctx, 'job', input.jobId, 'reader');
      return readJobAttemptLog(ctx.db, input.jobId, {
        attemptNumber: input.attemptNumber,
        cursor: input.cursor,
        limit: input.limit,
      });
    }),

  /** Cancels a running sync or reset job (through its connection's scheduler). */
  cancel: writeProcedure.input(z.object({ jobId: Id })).mutation(async ({ ctx, input }) => {
    await requireObjectRole(ctx, 'job', input.jobId, 'editor');
    const job = await ctx.db.job.findUniqueOrThrow({ where: { id: input.jobId } });
    if (!job.connectionId || (job.type !== 'sync' && job.type !== 'reset')) {
      throw new ApiError('PRECONDITION_FAILED', `a ${job.type} job cannot be cancelled: it ends on its own`);
    }
    if (!['pending', 'running', 'incomplete'].includes(job.status)) {
      throw new ApiError('PRECONDITION_FAILED', `job ${job.id} already ended (${job.status})`);
    }
    return requireOrchestrator(ctx).cancel(job.connectionId);
  }),
});
