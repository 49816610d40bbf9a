import { ApiError, type ConnectionOrchestrator, type StreamDescriptor } from '@sluice/api';
import type { Db, Prisma, Tx } from '@sluice/db';
import { createLogger, type Logger } from '@sluice/shared';
import { type Engine, WorkflowNotFoundError } from '@sluice/workflow';
import { MANAGER_WORKFLOW, managerWorkflowId, SIGNALS } from './ids';
import { JobConfig, streamKey } from './job-config';

export interface OrchestratorDeps {
  db: Db;
  engine: Engine;
  logger?: Logger;
}

const asJson = (v: unknown) => v as Prisma.InputJsonValue;

/** Serialises the API's job requests of one connection (sync now, reset, cancel). */
async function lockConnection(tx: Tx, connectionId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`sluice.connection.jobs:${connectionId}`}, 0))`;
}

/**
 * The Config API's side of the connection managers. It only writes Postgres and signals
 * workflows, so it runs in any process with an engine client (the Next.js app): no worker
 * needed. A queued request is a `pending` job row first, then a signal; the manager reads the
 * rows, so a signal lost with Redis costs nothing but time (the reconciler restarts managers).
 */
export class WorkflowConnectionOrchestrator implements ConnectionOrchestrator {
  private readonly log: Logger;

  constructor(private readonly deps: OrchestratorDeps) {
    this.log = deps.logger ?? createLogger('orchestrator');
  }

  private input(connectionId: string) {
    return { connectionId, lastDueAt: null, cycle: 0 };
  }

  /** Signals the manager; false when it does not run (never started, or ended). */
  private async signal(connectionId: string, name: string, payload?: unknown): Promise<boolean> {
    try {
      return await this.deps.engine.signal(managerWorkflowId(connectionId), name, payload);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  private async signalWithStart(connectionId: string, name: string, payload?: unknown): Promise<void> {
    await this.deps.engine.signalWithStart(
      MANAGER_WORKFLOW,
      managerWorkflowId(connectionId),
      this.input(connectionId),
      name,
      payload,
    );
  }

  private async status(connectionId: string) {
    const c = await this.deps.db.connection.findUnique({
      where: { id: connectionId },
      select: { status: true },
    });
    return c?.status ?? null;
  }

  async created(connectionId: string): Promise<void> {
    if ((await this.status(connectionId)) !== 'active') return;
    // A manager left over from a connection with the same id cannot exist (ids are uuids), but
    // a finished one is replaced rather than returned.
    await this.deps.engine.start(
      MANAGER_WORKFLOW,
      managerWorkflowId(connectionId),
      this.input(connectionId),
      { idempotent: false },
    );
  }

  async updated(connectionId: string): Promise<void> {
    const status = await this.status(connectionId);
    if (status === 'active') await this.signalWithStart(connectionId, SIGNALS.update);
    else await this.signal(connectionId, SIGNALS.update);
  }

  async enabled(connectionId: string): Promise<void> {
    await this.updated(connectionId);
  }

  async disabled(connectionId: string): Promise<void> {
    await this.signal(connectionId, SIGNALS.update);
  }

  async deleted(connectionId: string): Promise<void> {
    await this.signal(connectionId, SIGNALS.delete);
  }

  async syncNow(connectionId: string): Promise<{ jobId: string }> {
    const jobId = await this.deps.db.$transaction(async (tx) => {
      await lockConnection(tx, connectionId);
      const c = await tx.connection.findUnique({
        where: { id: connectionId },
        select: { status: true, workspaceId: true },
      });
      if (!c || c.status === 'deprecated')
        throw new ApiError('NOT_FOUND', `connection ${connectionId} not found`);
      if (c.status !== 'active') {
        throw new ApiError('PRECONDITION_FAILED', 'the connection is disabled: enable it before syncing');
      }
      // Requests made while a sync runs collapse into one sync that runs afterwards.
      const queued = await tx.job.findFirst({
        where: { connectionId, type: 'sync', status: 'pending' },
        orderBy: { createdAt: 'asc' },
        select: { id: true },
      });
      if (queued) return queued.id;
      const job = await tx.job.create({
        data: {
          workspaceId: c.workspaceId,
          connectionId,
          type: 'sync',
          status: 'pending',
          config: asJson({ trigger: 'manual', requestedAt: new Date().toISOString() } satisfies JobConfig),
        },
        select: { id: true },
      });
      return job.id;
    });
    await this.signalWithStart(connectionId, SIGNALS.sync, { jobId });
    return { jobId };
  }

  async cancel(connectionId: string): Promise<{ jobId: string | null }> {
    const { running, cancelled } = await this.deps.db.$transaction(async (tx) => {
      await lockConnection(tx, connectionId);
      const c = await tx.connection.findUnique({ where: { id: connectionId }, select: { status: true } });
      if (!c || c.status === 'deprecated')
        throw new ApiError('NOT_FOUND', `connection ${connectionId} not found`);
      const active = await tx.job.findMany({
        where: {
          connectionId,
          type: { in: ['sync', 'reset'] },
          status: { in: ['pending', 'running', 'incomplete'] },
        },
        orderBy: { createdAt: 'asc' },
        select: { id: true, status: true },
      });
      const pending = active.filter((j) => j.status === 'pending').map((j) => j.id);
      if (pending.length > 0) {
        await tx.job.updateMany({
          where: { id: { in: pending }, status: 'pending' },
          data: { status: 'cancelled', endedAt: new Date() },
        });
      }
      return { running: active.find((j) => j.status !== 'pending')?.id ?? null, cancelled: pending };
    });
    if (running) {
      const payload = { jobId: running, reason: 'cancelled by a user' };
      // A running job without a manager was orphaned: a new manager adopts it, then sees this.
      if (!(await this.signal(connectionId, SIGNALS.cancel, payload)))
        await this.signalWithStart(connectionId, SIGNALS.cancel, payload);
    }
    return { jobId: running ?? cancelled[0] ?? null };
  }

  async reset(connectionId: string, streams?: StreamDescriptor[]): Promise<{ jobId: string }> {
    const jobId = await this.deps.db.$transaction(async (tx) => {
      await lockConnection(tx, connectionId);
      const c = await tx.connection.findUnique({
        where: { id: connectionId },
        select: { status: true, workspaceId: true },
      });
      if (!c || c.status === 'deprecated')
        throw new ApiError('NOT_FOUND', `connection ${connectionId} not found`);
      const queued = await tx.job.findFirst({
        where: { connectionId, type: 'reset', status: 'pending' },
        orderBy: { createdAt: 'asc' },
        select: { id: true, config: true },
      });
      if (queued) {
        // Two resets asked for before either ran become one covering both.
        const previous = JobConfig.parse(queued.config ?? {}).resetStreams ?? null;
        const merged =
          previous === null || !streams
            ? null
            : [...new Map([...previous, ...streams].map((s) => [streamKey(s), s])).values()];
        await tx.job.update({
          where: { id: queued.id },
          data: { config: asJson({ ...(queued.config as object), resetStreams: merged }) },
        });
        return queued.id;
      }
      const job = await tx.job.create({
        data: {
          workspaceId: c.workspaceId,
          connectionId,
          type: 'reset',
          status: 'pending',
          config: asJson({
            trigger: 'reset',
            requestedAt: new Date().toISOString(),
            resetStreams: streams ?? null,
          } satisfies JobConfig),
        },
        select: { id: true },
      });
      return job.id;
    });
    await this.signalWithStart(connectionId, SIGNALS.reset, { jobId });
    this.log.info({ connectionId, jobId, streams: streams?.length ?? 'all' }, 'reset requested');
    return { jobId };
  }
}
