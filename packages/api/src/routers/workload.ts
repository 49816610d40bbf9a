import type { Workload } from '@sluice/db';
import {
  type ConfigSecrets,
  CreateWorkload,
  createDataplaneToken,
  DataplaneGroup,
  type DataplaneTokenInfo,
  type HeartbeatOutcome,
  LauncherId,
  LogChunk,
  LogWriter,
  listDataplaneTokens,
  type QueueDepth,
  revokeDataplaneToken,
  StreamStatsReport,
  toWorkloadView,
  WorkloadError,
  WorkloadId,
  WorkloadService,
} from '@sluice/workload';
import { z } from 'zod';
import type { Context } from '../context';
import { ApiError, notFound } from '../errors';
import { openConfig, type SecretBox, sealConfig } from '../secrets';
import { dataplaneProcedure, instanceAdminProcedure, router } from '../trpc';

/**
 * The Workload API (DESIGN §3 Launch): launchers and the middleware inside each workload call
 * it with a dataplane token, which confines them to their dataplane group's workloads. The
 * semantics of every transition are in packages/workload/README.md.
 */

function configSecrets(box: SecretBox): ConfigSecrets {
  return {
    open: (stored) => openConfig(stored, box),
    seal: (spec, config) => sealConfig(spec, config, box),
  };
}

function service(ctx: Context): WorkloadService {
  return new WorkloadService({
    ...ctx.workload,
    db: ctx.db,
    secrets: configSecrets(ctx.box),
    logger: ctx.logger,
  });
}

/** Runs a service call, turning its errors into the API's. */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkloadError) {
      throw new ApiError(err.code, err.message, {
        ...(err.details.path ? { path: err.details.path } : {}),
        ...(err.details.status !== undefined ? { status: err.details.status } : {}),
      });
    }
    throw err;
  }
}

const scopeOf = (ctx: { caller: { dataplaneGroup: string } }) => ({
  dataplaneGroup: ctx.caller.dataplaneGroup,
});

function heartbeatView(svc: WorkloadService, outcome: HeartbeatOutcome) {
  const w = outcome.workload;
  return {
    status: w.status,
    stop: outcome.stop,
    cancelled: w.status === 'cancelled',
    reason: w.terminationReason,
    deadline: w.deadline?.toISOString() ?? null,
    heartbeatIntervalMs: svc.timeouts.heartbeatIntervalMs,
    heartbeatTimeoutMs: svc.timeouts.heartbeatTimeoutMs,
  };
}

const depthView = (d: QueueDepth) => ({ ...d, oldestPendingAt: d.oldestPendingAt?.toISOString() ?? null });
const tokenView = (t: DataplaneTokenInfo) => ({
  ...t,
  expiresAt: t.expiresAt?.toISOString() ?? null,
  lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
  revokedAt: t.revokedAt?.toISOString() ?? null,
  createdAt: t.createdAt.toISOString(),
});
const views = (rows: Workload[]) => rows.map(toWorkloadView);

const Ref = z.object({ id: WorkloadId });
const LauncherRef = Ref.extend({ launcherId: LauncherId });
const OptionalLauncherRef = Ref.extend({ launcherId: LauncherId.optional() });
const Reason = z.string().trim().min(1).max(10_000);

export const workloadRouter = router({
  /** Creates a workload (idempotent by id) in the caller's group. The worker creates its
   * workloads in-process through WorkloadService; this is for dataplane callers. */
  create: dataplaneProcedure.input(CreateWorkload).mutation(({ ctx, input }) =>
    call(async () => {
      const r = await service(ctx).create(input, { scope: scopeOf(ctx) });
      return {
        created: r.created,
        workload: toWorkloadView(r.workload),
        superseded: r.superseded.map((w) => w.id),
      };
    }),
  ),

  /** pending → claimed. A result, not an error, when it cannot be claimed: `blocked` (retry after
   * `retryAfterMs`) or `unavailable` (drop the queue job). */
  claim: dataplaneProcedure.input(LauncherRef).mutation(({ ctx, input }) =>
    call(async () => {
      const r = await service(ctx).claim({ ...input, scope: scopeOf(ctx) });
      return r.outcome === 'claimed' ? { outcome: r.outcome, workload: toWorkloadView(r.workload) } : r;
    }),
  ),

  /** claimed → launched, by the claiming launcher once the programs started. */
  launched: dataplaneProcedure
    .input(LauncherRef)
    .mutation(({ ctx, input }) =>
      call(async () => toWorkloadView(await service(ctx).launched({ ...input, scope: scopeOf(ctx) }))),
    ),

  /** launched → running, by the middleware before it starts the connectors. */
  running: dataplaneProcedure.input(OptionalLauncherRef).mutation(({ ctx, input }) =>
    call(async () => {
      const svc = service(ctx);
      const w = await svc.running({ ...input, scope: scopeOf(ctx) });
      return heartbeatView(svc, { workload: w, stop: false });
    }),
  ),

  /** Extends a running workload's deadline (and stores stats sent along). `stop: true` tells the
   * middleware to stop: the workload was cancelled or has ended. */
  heartbeat: dataplaneProcedure
    .input(OptionalLauncherRef.extend({ stats: z.array(StreamStatsReport).max(10_000).optional() }))
    .mutation(({ ctx, input }) =>
      call(async () => {
        const svc = service(ctx);
        return heartbeatView(svc, await svc.heartbeat({ ...input, scope: scopeOf(ctx) }));
      }),
    ),

  /** running → success. */
  success: dataplaneProcedure
    .input(OptionalLauncherRef.extend({ output: z.unknown().optional() }))
    .mutation(({ ctx, input }) =>
      call(async () => toWorkloadView(await service(ctx).succeed({ ...input, scope: scopeOf(ctx) }))),
    ),

  /** claimed | launched | running → failure, with a reason the user reads. */
  failure: dataplaneProcedure
    .input(
      OptionalLauncherRef.extend({
        reason: Reason,
        source: z.enum(['launcher', 'middleware']).default('middleware'),
        output: z.unknown().optional(),
      }),
    )
    .mutation(({ ctx, input }) =>
      call(async () => toWorkloadView(await service(ctx).fail({ ...input, scope: scopeOf(ctx) }))),
    ),

  /** Any active status → cancelled. The programs are told to stop (events channel, heartbeat). */
  cancel: dataplaneProcedure
    .input(Ref.extend({ reason: Reason, source: z.enum(['api', 'launcher', 'middleware']).default('api') }))
    .mutation(({ ctx, input }) =>
      call(async () => toWorkloadView(await service(ctx).cancel({ ...input, scope: scopeOf(ctx) }))),
    ),

  /** An ended workload's programs are gone (idempotent); releases its mutex key. */
  stopped: dataplaneProcedure
    .input(OptionalLauncherRef)
    .mutation(({ ctx, input }) =>
      call(async () => toWorkloadView(await service(ctx).stopped({ ...input, scope: scopeOf(ctx) }))),
    ),

  get: dataplaneProcedure
    .input(Ref)
    .query(({ ctx, input }) =>
      call(async () => toWorkloadView(await service(ctx).get(input.id, scopeOf(ctx)))),
    ),

  /** The input with connector configs decrypted: only for dataplane callers, only while the
   * workload is claimed, launched or running. Never log it. */
  input: dataplaneProcedure.input(OptionalLauncherRef).query(({ ctx, input }) =>
    call(async () => {
      const r = await service(ctx).input({ ...input, scope: scopeOf(ctx) });
      return { workload: toWorkloadView(r.workload), input: r.input };
    }),
  ),

  /** Active workloads of the caller's group by status (for autoscaling). */
  queueDepth: dataplaneProcedure.query(({ ctx }) =>
    call(async () => {
      const [d] = await service(ctx).queueDepth(scopeOf(ctx));
      return depthView(d!);
    }),
  ),

  /** A launcher's reconciliation: what must keep running, what must be stopped. */
  listActive: dataplaneProcedure
    .input(z.object({ launcherId: LauncherId.optional() }).default({}))
    .query(({ ctx, input }) =>
      call(async () => {
        const r = await service(ctx).listActive({
          scope: scopeOf(ctx),
          ...(input.launcherId ? { claimedBy: input.launcherId } : {}),
        });
        return { active: views(r.active), stopping: views(r.stopping) };
      }),
    ),

  /** Attempt log chunks, numbered per writer from 0; retried chunks are skipped. */
  appendLog: dataplaneProcedure
    .input(Ref.extend({ writer: LogWriter, chunks: z.array(LogChunk).max(1000) }))
    .mutation(({ ctx, input }) => call(() => service(ctx).appendLog({ ...input, scope: scopeOf(ctx) }))),

  /** Destination-committed STATE messages; refused (CONFLICT) after a reset of the connection. */
  reportState: dataplaneProcedure
    .input(
      Ref.extend({ generation: z.number().int().nonnegative().optional(), states: z.array(z.unknown()) }),
    )
    .mutation(({ ctx, input }) =>
      call(async () => {
        const r = await service(ctx).reportState({ ...input, scope: scopeOf(ctx) });
        return { version: r.version.toString() };
      }),
    ),

  reportStats: dataplaneProcedure
    .input(Ref.extend({ streams: z.array(StreamStatsReport).max(10_000) }))
    .mutation(({ ctx, input }) => call(() => service(ctx).reportStats({ ...input, scope: scopeOf(ctx) }))),

  /** A connector's CONTROL config update: validated against its spec, sealed, stored. */
  updateConnectorConfig: dataplaneProcedure
    .input(Ref.extend({ role: z.enum(['source', 'destination']), config: z.record(z.string(), z.unknown()) }))
    .mutation(({ ctx, input }) =>
      call(() => service(ctx).updateConnectorConfig({ ...input, scope: scopeOf(ctx) })),
    ),

  /** Instance administration: dataplane tokens, every group's queue depth, the fleet. */
  admin: router({
    queueDepth: instanceAdminProcedure.query(({ ctx }) =>
      call(async () => (await service(ctx).queueDepth()).map(depthView)),
    ),

    /**
     * The workers and launchers that reported in within the last few seconds (each refreshes a
     * record in Redis; one that stopped drops out), with what they run and their capacity.
     */
    fleet: instanceAdminProcedure.query(async ({ ctx }) => {
      const dispatch = ctx.workload?.dispatch;
      if (!dispatch?.listFleet) {
        throw new ApiError(
          'PRECONDITION_FAILED',
          'this API server has no workload queue (REDIS_URL is not set), so it cannot see workers and launchers',
        );
      }
      return { members: await dispatch.listFleet() };
    }),

    /** Active workloads of every group (or one), oldest first, with their job's ids; never inputs. */
    listActive: instanceAdminProcedure
      .input(
        z
          .object({ dataplaneGroup: DataplaneGroup.optional(), limit: z.int().min(1).max(1000).default(200) })
          .default({ limit: 200 }),
      )
      .query(async ({ ctx, input }) => {
        const rows = await service(ctx).listActiveOverview({
          ...(input.dataplaneGroup ? { dataplaneGroup: input.dataplaneGroup } : {}),
          limit: input.limit,
        });
        return {
          items: rows.map((w) => ({
            ...w,
            createdAt: w.createdAt.toISOString(),
            runningAt: w.runningAt?.toISOString() ?? null,
            lastHeartbeatAt: w.lastHeartbeatAt?.toISOString() ?? null,
          })),
        };
      }),

    /** The token is shown once; only its hash is stored. */
    createToken: instanceAdminProcedure
      .input(
        z.object({
          name: z.string().trim().min(1).max(200),
          dataplaneGroup: DataplaneGroup.default('default'),
          expiresAt: z.iso.datetime().optional(),
        }),
      )
      .mutation(async ({ ctx, input }) => {
        const { token, info } = await createDataplaneToken(ctx.db, {
          name: input.name,
          dataplaneGroup: input.dataplaneGroup,
          createdById: ctx.caller.userId,
          expiresAt: input.expiresAt ? new Date(input.expiresAt) : null,
        });
        ctx.logger.info({ tokenId: info.id, dataplaneGroup: info.dataplaneGroup }, 'dataplane token created');
        return { token, ...tokenView(info) };
      }),

    listTokens: instanceAdminProcedure
      .input(z.object({ dataplaneGroup: DataplaneGroup.optional() }).default({}))
      .query(async ({ ctx, input }) =>
        (await listDataplaneTokens(ctx.db, input.dataplaneGroup ? { group: input.dataplaneGroup } : {})).map(
          tokenView,
        ),
      ),

    revokeToken: instanceAdminProcedure.input(z.object({ id: z.uuid() })).mutation(async ({ ctx, input }) => {
      if (!(await revokeDataplaneToken(ctx.db, input.id))) throw notFound('dataplane token', input.id);
      ctx.logger.info({ tokenId: input.id }, 'dataplane token revoked');
      return { revoked: true as const };
    }),
  }),
});
