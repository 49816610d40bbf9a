import type { Db, DbOrTx, Prisma, Tx, Workload, WorkloadStatus } from '@sluice/db';
import { persistConnectionState, readConnectionState, StaleStateError } from '@sluice/db';
import { compileConfigValidator } from '@sluice/protocol';
import { createLogger, type Logger } from '@sluice/shared';
import type { z } from 'zod';
import { appendAttemptLogChunks, readAttemptLog } from './attempt-log';
import { WorkloadError, workloadNotFound } from './errors';
import type { WorkloadDispatch } from './queue';
import { StateReport, toConnectionState } from './state-report';
import { DEFAULT_TIMEOUTS, formatDuration, type WorkloadTimeouts } from './timeouts';
import {
  ACTIVE_STATUSES,
  type ClaimResult,
  type ConnectorInput,
  CreateWorkload,
  isTerminalStatus,
  LogChunk,
  LogWriter,
  StreamStatsReport,
  TERMINAL_STATUSES,
  type TerminationSource,
  type WorkloadInput,
} from './types';

/**
 * Seals and opens connector configs. The implementation lives with the API's SecretBox
 * (`sealConfig` / `openConfig` in @sluice/api), which this package cannot import.
 */
export interface ConfigSecrets {
  /** Opens every sealed value of a stored config. */
  open(stored: unknown): unknown;
  /** Seals every field `connectionSpecification` marks `airbyte_secret` (idempotent). */
  seal(connectionSpecification: Record<string, unknown>, config: unknown): unknown;
}

export type TerminalHook = (workload: Workload) => void | Promise<void>;

export interface WorkloadServiceOptions {
  db: Db;
  /** The dispatch queue; without it nothing is enqueued (the reconciler's `requeuePending` does). */
  dispatch?: WorkloadDispatch | null;
  /** Needed by `input`, `updateConnectorConfig` and to seal configs on create. */
  secrets?: ConfigSecrets | null;
  /** Called once per terminal transition, after it committed. Errors are logged, not thrown:
   * the worker's reconciler also polls `listTerminatedSince`. */
  onTerminal?: TerminalHook | null;
  logger?: Logger;
  timeouts?: Partial<WorkloadTimeouts>;
  /** The time source for deadlines (tests move it). */
  clock?: () => Date;
}

/** What an API deployment configures; the router adds db, secrets and logger from its context. */
export type WorkloadApiOptions = Omit<WorkloadServiceOptions, 'db' | 'secrets' | 'logger'>;

/** A dataplane caller sees only its own group's workloads. */
export interface Scope {
  dataplaneGroup: string;
}

export interface CreateResult {
  workload: Workload;
  /** False when a workload with this id already existed (it is returned unchanged). */
  created: boolean;
  /** Older workloads of the same mutex key this create cancelled. */
  superseded: Workload[];
}

export interface HeartbeatOutcome {
  workload: Workload;
  /** The middleware must stop the workload's programs (it was cancelled or has ended). */
  stop: boolean;
}

export interface QueueDepth {
  dataplaneGroup: string;
  pending: number;
  claimed: number;
  launched: number;
  running: number;
  oldestPendingAt: Date | null;
}

export interface SweepResult {
  /** Workloads failed for missing their deadline. */
  failed: Workload[];
  /** Cancelled workloads whose programs never confirmed stopping within the grace period: now
   * counted as ended, which releases their mutex. */
  settled: Workload[];
}

/** An active workload as operators see it (`listActiveOverview`). */
export interface ActiveWorkloadInfo {
  id: string;
  type: string;
  status: string;
  dataplaneGroup: string;
  claimedBy: string | null;
  createdAt: Date;
  runningAt: Date | null;
  lastHeartbeatAt: Date | null;
  workspaceId: string | null;
  connectionId: string | null;
  jobId: string | null;
}

const ACTIVE = [...ACTIVE_STATUSES] as WorkloadStatus[];
const TERMINAL = [...TERMINAL_STATUSES] as WorkloadStatus[];
/** Reports (state, stats, config) are accepted while the programs may still run. */
const REPORTING = ['running', ...TERMINAL] as WorkloadStatus[];

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue?.path.map(String).join('.') ?? '';
  throw new WorkloadError(
    'BAD_REQUEST',
    path ? `${path}: ${issue?.message}` : (issue?.message ?? 'invalid'),
    {
      ...(path ? { path } : {}),
    },
  );
}

const asJson = (v: unknown) => v as Prisma.InputJsonValue;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Every status change is one guarded UPDATE (`WHERE id = … AND status IN (expected)`) inside a
 * short transaction that then reads the row back under its lock: a stale, duplicate or
 * out-of-order call matches no row and is refused, so a status never moves backwards. Side
 * effects (queue, hooks, events) run after the commit. See README.md for the full contract.
 */
export class WorkloadService {
  readonly db: Db;
  readonly timeouts: WorkloadTimeouts;
  private readonly dispatch: WorkloadDispatch | null;
  private readonly secrets: ConfigSecrets | null;
  private readonly onTerminal: TerminalHook | null;
  private readonly logger: Logger;
  private readonly clock: () => Date;

  constructor(options: WorkloadServiceOptions) {
    this.db = options.db;
    this.dispatch = options.dispatch ?? null;
    this.secrets = options.secrets ?? null;
    this.onTerminal = options.onTerminal ?? null;
    this.logger = options.logger ?? createLogger('workload');
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.clock = options.clock ?? (() => new Date());
  }

  now(): Date {
    return this.clock();
  }

  private after(ms: number, now = this.now()): Date {
    return new Date(now.getTime() + ms);
  }

  // -------------------------------------------------------------------------------------------
  // Create and supersede

  /** Creates a workload (idempotent by id), cancels older ones of its mutex key, enqueues it. */
  async create(args: CreateWorkload, opts: { scope?: Scope } = {}): Promise<CreateResult> {
    const result = await this.db.$transaction((tx) => this.createInTransaction(tx, args, opts));
    await this.afterCreate(result);
    return result;
  }

  /**
   * The database part of `create`, inside the caller's transaction (the worker creates its job
   * rows and the workload atomically). The caller must run `afterCreate(result)` once the
   * transaction committed: a launcher must never see a workload that may still roll back.
   */
  async createInTransaction(
    tx: Tx,
    raw: CreateWorkload,
    opts: { scope?: Scope } = {},
  ): Promise<CreateResult> {
    const args = parse(CreateWorkload, raw);
    if (opts.scope && args.dataplaneGroup !== opts.scope.dataplaneGroup) {
      throw new WorkloadError(
        'BAD_REQUEST',
        `a dataplane token of group "${opts.scope.dataplaneGroup}" cannot create workloads for group "${args.dataplaneGroup}"`,
        { path: 'dataplaneGroup' },
      );
    }
    const mutexKey = args.mutexKey ?? null;
    const now = this.now();
    if (mutexKey) await lockMutex(tx, mutexKey);

    const same = (w: Workload) =>
      w.type === args.type && w.mutexKey === mutexKey && w.dataplaneGroup === args.dataplaneGroup;
    const existing = await tx.workload.findUnique({ where: { id: args.id } });
    if (existing) {
      if (!same(existing)) throw this.idTaken(args.id);
      return { workload: existing, created: false, superseded: [] };
    }

    await this.checkReferences(tx, args.input, opts.scope);
    const input = await this.sealInput(tx, args.input);
    const inserted = await tx.workload.createMany({
      data: [
        {
          id: args.id,
          type: args.type,
          status: 'pending',
          dataplaneGroup: args.dataplaneGroup,
          priority: args.priority,
          mutexKey,
          input: asJson(input),
          signalInput: args.signalInput ? asJson(args.signalInput) : undefined,
          attemptId: args.attemptId ?? null,
          deadline: this.after(this.timeouts.pendingMs, now),
          createdAt: now,
          updatedAt: now,
        },
      ],
      // A concurrent create of the same id (without a mutex key, so without the lock) loses here.
      skipDuplicates: true,
    });
    if (inserted.count === 0) {
      const row = await tx.workload.findUniqueOrThrow({ where: { id: args.id } });
      if (!same(row)) throw this.idTaken(args.id);
      return { workload: row, created: false, superseded: [] };
    }

    const superseded: Workload[] = [];
    if (mutexKey) {
      const older = await tx.workload.findMany({
        where: { mutexKey, id: { not: args.id }, status: { in: ACTIVE } },
        orderBy: { createdAt: 'asc' },
      });
      for (const row of older) {
        const cancelled = await this.cancelRow(tx, row, `superseded by workload ${args.id}`, 'platform', now);
        if (cancelled) superseded.push(cancelled);
      }
    }
    const workload = await tx.workload.findUniqueOrThrow({ where: { id: args.id } });
    return { workload, created: true, superseded };
  }

  /** Post-commit side effects of a create: hooks and events for superseded workloads, enqueue. */
  async afterCreate(result: CreateResult): Promise<void> {
    for (const w of result.superseded) await this.afterTerminal(w);
    if (result.created) await this.enqueue(result.workload);
  }

  private idTaken(id: string) {
    return new WorkloadError(
      'CONFLICT',
      `workload id ${id} is already used by a workload of another type, group or mutex key`,
      { path: 'id' },
    );
  }

  /**
   * The connection and actors an input names exist, belong to one workspace and (for a scoped
   * caller) to the caller's dataplane group: reports later act on them (state, CONTROL config
   * updates), so a workload must not point at another group's objects.
   */
  private async checkReferences(tx: Tx, input: WorkloadInput, scope: Scope | undefined): Promise<void> {
    const owners: { path: string; workspaceId: string; group: string }[] = [];
    const bad = (path: string, message: string) =>
      new WorkloadError('BAD_REQUEST', `${path}: ${message}`, { path });
    const select = { workspaceId: true, workspace: { select: { dataplaneGroup: true } } } as const;
    if (input.connectionId) {
      const c = await tx.connection.findUnique({
        where: { id: input.connectionId },
        select: { ...select, sourceId: true, destinationId: true },
      });
      if (!c) throw bad('input.connectionId', `connection ${input.connectionId} not found`);
      if (input.source?.actorId && input.source.actorId !== c.sourceId)
        throw bad('input.source.actorId', "is not the connection's source");
      if (input.destination?.actorId && input.destination.actorId !== c.destinationId)
        throw bad('input.destination.actorId', "is not the connection's destination");
      owners.push({
        path: 'input.connectionId',
        workspaceId: c.workspaceId,
        group: c.workspace.dataplaneGroup,
      });
    }
    for (const role of ['source', 'destination', 'connector'] as const) {
      const c = input[role];
      if (!c?.actorId) continue;
      const path = `input.${role}.actorId`;
      const actor =
        c.actorType === 'source'
          ? await tx.source.findUnique({ where: { id: c.actorId }, select })
          : await tx.destination.findUnique({ where: { id: c.actorId }, select });
      if (!actor) throw bad(path, `${c.actorType} ${c.actorId} not found`);
      owners.push({ path, workspaceId: actor.workspaceId, group: actor.workspace.dataplaneGroup });
    }
    const workspaceId = input.workspaceId ?? owners[0]?.workspaceId;
    for (const o of owners) {
      if (o.workspaceId !== workspaceId)
        throw bad(o.path, 'belongs to another workspace than the rest of the input');
      if (scope && o.group !== scope.dataplaneGroup)
        throw bad(o.path, `belongs to dataplane group "${o.group}", not "${scope.dataplaneGroup}"`);
    }
  }

  /** Seals connector configs against their definition's spec (a no-op on sealed values). */
  private async sealInput(tx: Tx, input: WorkloadInput): Promise<WorkloadInput> {
    if (!this.secrets) return input;
    const out: Record<string, unknown> = { ...input };
    for (const role of ['source', 'destination', 'connector'] as const) {
      const c = input[role];
      if (!c?.config || !c.definitionId) continue;
      const def = await tx.connectorDefinition.findUnique({
        where: { id: c.definitionId },
        select: { spec: true },
      });
      const spec = isObject(def?.spec) ? def.spec.connectionSpecification : undefined;
      if (isObject(spec)) out[role] = { ...c, config: this.secrets.seal(spec, c.config) };
    }
    return out as WorkloadInput;
  }

  // -------------------------------------------------------------------------------------------
  // Launcher transitions

  /**
   * pending → claimed by `launcherId`. Atomic: of concurrent claimers exactly one wins. A
   * workload with a mutex key is claimable only once every other workload of that key has
   * ended (checked under the key's advisory lock, which `create` also takes).
   */
  async claim(args: { id: string; launcherId: string; scope?: Scope }): Promise<ClaimResult<Workload>> {
    const now = this.now();
    return this.db.$transaction(async (tx) => {
      const unavailable = (row: Workload | null): ClaimResult<Workload> =>
        !row || !inScope(row, args.scope)
          ? { outcome: 'unavailable', status: null, reason: `workload ${args.id} not found` }
          : {
              outcome: 'unavailable',
              status: row.status,
              reason: `workload ${args.id} is ${row.status}${row.claimedBy ? ` (claimed by launcher ${row.claimedBy})` : ''}`,
            };
      const row = await tx.workload.findUnique({ where: { id: args.id } });
      if (!row || !inScope(row, args.scope) || row.status !== 'pending') return unavailable(row);
      if (row.mutexKey) {
        // Lock order everywhere: mutex key first, then rows (create takes them in that order).
        await lockMutex(tx, row.mutexKey);
        const blocker = await findBlocker(tx, row.mutexKey, row.id);
        if (blocker) {
          return { outcome: 'blocked', blockedBy: blocker.id, retryAfterMs: this.timeouts.blockedRetryMs };
        }
      }
      const n = await tx.workload.updateMany({
        where: { id: args.id, status: 'pending' },
        data: {
          status: 'claimed',
          claimedBy: args.launcherId,
          claimedAt: now,
          deadline: this.after(this.timeouts.claimedMs, now),
          updatedAt: now,
        },
      });
      const current = await tx.workload.findUnique({ where: { id: args.id } });
      if (n.count === 0 || !current) return unavailable(current);
      return { outcome: 'claimed', workload: current };
    });
  }

  /** claimed → launched, by the launcher that claimed it: its programs were started. */
  launched(args: { id: string; launcherId: string; scope?: Scope }): Promise<Workload> {
    const now = this.now();
    return this.transition({
      ...args,
      action: 'report launched',
      from: ['claimed'],
      data: { status: 'launched', launchedAt: now, deadline: this.after(this.timeouts.launchedMs, now) },
      now,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Middleware transitions

  /** launched → running, reported by the middleware before it starts the connectors. */
  running(args: { id: string; launcherId?: string; scope?: Scope }): Promise<Workload> {
    const now = this.now();
    return this.transition({
      ...args,
      action: 'report running',
      from: ['launched'],
      data: {
        status: 'running',
        runningAt: now,
        lastHeartbeatAt: now,
        deadline: this.after(this.timeouts.heartbeatTimeoutMs, now),
      },
      now,
    });
  }

  /**
   * Extends a running workload's deadline. On a workload that has ended (cancelled, or failed
   * by the sweeper) nothing changes and `stop` is true: the middleware stops its programs.
   * Stats sent along are stored as by `reportStats`.
   */
  async heartbeat(args: {
    id: string;
    launcherId?: string;
    scope?: Scope;
    stats?: StreamStatsReport[];
  }): Promise<HeartbeatOutcome> {
    const now = this.now();
    const stats = args.stats ? parse(StreamStatsReport.array().max(10_000), args.stats) : [];
    const n = await this.db.workload.updateMany({
      where: {
        id: args.id,
        status: 'running',
        ...(args.scope ? { dataplaneGroup: args.scope.dataplaneGroup } : {}),
        ...(args.launcherId ? { claimedBy: args.launcherId } : {}),
      },
      data: {
        lastHeartbeatAt: now,
        deadline: this.after(this.timeouts.heartbeatTimeoutMs, now),
        updatedAt: now,
      },
    });
    const row = await this.db.workload.findUnique({ where: { id: args.id } });
    if (!row || !inScope(row, args.scope)) throw workloadNotFound(args.id);
    if (n.count === 1) {
      if (stats.length && row.attemptId) await this.upsertStats(row.attemptId, stats);
      return { workload: row, stop: false };
    }
    if (isTerminalStatus(row.status)) {
      if (stats.length && row.attemptId && !row.endedAt) await this.upsertStats(row.attemptId, stats);
      return { workload: row, stop: true };
    }
    throw this.refusal(row, args.id, 'heartbeat', ['running'], args.launcherId);
  }

  /** running → success. */
  async succeed(args: {
    id: string;
    output?: unknown;
    launcherId?: string;
    scope?: Scope;
  }): Promise<Workload> {
    const now = this.now();
    const w = await this.transition({
      ...args,
      action: 'report success',
      from: ['running'],
      data: {
        status: 'success',
        endedAt: now,
        deadline: null,
        ...(args.output !== undefined ? { output: asJson(args.output) } : {}),
      },
      now,
    });
    await this.afterTerminal(w);
    return w;
  }

  /** claimed | launched | running → failure: a launch that failed, or a failing workload. */
  async fail(args: {
    id: string;
    reason: string;
    source: TerminationSource;
    output?: unknown;
    launcherId?: string;
    scope?: Scope;
  }): Promise<Workload> {
    const now = this.now();
    const w = await this.transition({
      ...args,
      action: 'report failure',
      from: ['claimed', 'launched', 'running'],
      data: {
        status: 'failure',
        terminationReason: args.reason,
        terminationSource: args.source,
        endedAt: now,
        deadline: null,
        ...(args.output !== undefined ? { output: asJson(args.output) } : {}),
      },
      now,
    });
    await this.afterTerminal(w);
    return w;
  }

  /**
   * Any active status → cancelled. A pending workload has no programs and has ended at once; a
   * claimed, launched or running one keeps `endedAt` null until its programs confirm they
   * stopped (`stopped`) or `cancelGraceMs` passed (the sweeper), and its mutex stays held until
   * then. Launchers hear of it through the events channel; the middleware through its heartbeat.
   */
  async cancel(args: {
    id: string;
    reason: string;
    source: TerminationSource;
    scope?: Scope;
  }): Promise<Workload> {
    const now = this.now();
    const w = await this.db.$transaction(async (tx) => {
      const row = await tx.workload.findUnique({ where: { id: args.id } });
      if (!row || !inScope(row, args.scope)) throw workloadNotFound(args.id);
      const cancelled = await this.cancelRow(tx, row, args.reason, args.source, now);
      if (cancelled) return cancelled;
      const current = await tx.workload.findUnique({ where: { id: args.id } });
      throw this.refusal(current, args.id, 'cancel', ACTIVE, undefined);
    });
    await this.afterTerminal(w);
    return w;
  }

  /**
   * Confirms that an ended workload's programs are gone (the middleware after it stopped the
   * connectors, the launcher after it removed them). Idempotent. Releases the mutex key.
   */
  async stopped(args: { id: string; launcherId?: string; scope?: Scope }): Promise<Workload> {
    const now = this.now();
    const n = await this.db.workload.updateMany({
      where: {
        id: args.id,
        status: { in: TERMINAL },
        endedAt: null,
        ...(args.scope ? { dataplaneGroup: args.scope.dataplaneGroup } : {}),
      },
      data: { endedAt: now, deadline: null, updatedAt: now },
    });
    const row = await this.db.workload.findUnique({ where: { id: args.id } });
    if (!row || !inScope(row, args.scope)) throw workloadNotFound(args.id);
    if (!isTerminalStatus(row.status)) {
      throw new WorkloadError(
        'CONFLICT',
        `workload ${args.id} is ${row.status}: report success or failure, not stopped`,
        { status: row.status },
      );
    }
    if (n.count === 1) await this.afterEnded(row);
    return row;
  }

  // -------------------------------------------------------------------------------------------
  // Reads

  async get(id: string, scope?: Scope): Promise<Workload> {
    const row = await this.db.workload.findUnique({ where: { id } });
    if (!row || !inScope(row, scope)) throw workloadNotFound(id);
    return row;
  }

  /**
   * The workload's input with connector configs opened, for the launcher and the middleware
   * only, and only while the workload is claimed, launched or running. A sync's input also
   * carries the connection's committed `state` and the `stateGeneration` it belongs to, read
   * together now (not when the workload was created: an older sync may have committed since).
   */
  async input(args: { id: string; scope?: Scope; launcherId?: string }): Promise<{
    workload: Workload;
    input: Record<string, unknown>;
  }> {
    const row = await this.get(args.id, args.scope);
    if (!['claimed', 'launched', 'running'].includes(row.status)) {
      throw new WorkloadError(
        'CONFLICT',
        row.status === 'pending'
          ? `workload ${args.id} is pending: claim it before reading its input`
          : `workload ${args.id} is ${row.status}: its input is no longer available`,
        { status: row.status },
      );
    }
    if (args.launcherId && row.claimedBy !== args.launcherId) {
      throw new WorkloadError(
        'CONFLICT',
        `workload ${args.id} is claimed by launcher ${row.claimedBy}, not ${args.launcherId}`,
        { status: row.status },
      );
    }
    const secrets = this.requireSecrets();
    const input = secrets.open(row.input) as Record<string, unknown>;
    const connectionId = typeof input.connectionId === 'string' ? input.connectionId : null;
    if (row.type === 'sync' && connectionId) {
      const { state, generation } = await this.db.$transaction(
        async (tx) => {
          const conn = await tx.connection.findUnique({
            where: { id: connectionId },
            select: { stateGeneration: true },
          });
          if (!conn)
            throw new WorkloadError(
              'NOT_FOUND',
              `connection ${connectionId} of workload ${args.id} not found`,
            );
          return { generation: conn.stateGeneration, state: await readConnectionState(tx, connectionId) };
        },
        { isolationLevel: 'RepeatableRead' },
      );
      input.state = state;
      input.stateGeneration = generation;
    }
    return { workload: row, input };
  }

  /** Active workloads counted by group and status (Postgres is the truth; the queue a hint). */
  async queueDepth(scope?: Scope): Promise<QueueDepth[]> {
    const where = { status: { in: ACTIVE }, ...(scope ? { dataplaneGroup: scope.dataplaneGroup } : {}) };
    const [counts, oldest] = await Promise.all([
      this.db.workload.groupBy({ by: ['dataplaneGroup', 'status'], where, _count: { _all: true } }),
      this.db.workload.groupBy({
        by: ['dataplaneGroup'],
        where: { ...where, status: 'pending' },
        _min: { createdAt: true },
      }),
    ]);
    const groups = new Map<string, QueueDepth>();
    const depth = (g: string) => {
      let d = groups.get(g);
      if (!d) {
        d = { dataplaneGroup: g, pending: 0, claimed: 0, launched: 0, running: 0, oldestPendingAt: null };
        groups.set(g, d);
      }
      return d;
    };
    if (scope) depth(scope.dataplaneGroup);
    for (const c of counts)
      depth(c.dataplaneGroup)[c.status as (typeof ACTIVE_STATUSES)[number]] = c._count._all;
    for (const o of oldest) depth(o.dataplaneGroup).oldestPendingAt = o._min.createdAt;
    return [...groups.values()].sort((a, b) => a.dataplaneGroup.localeCompare(b.dataplaneGroup));
  }

  /**
   * For a launcher's periodic reconciliation: `active` workloads must keep running; `stopping`
   * ones were cancelled and their programs must be stopped (then `stopped` reported). Anything
   * a launcher runs that is in neither list has ended and can be removed.
   */
  async listActive(args: { scope?: Scope; claimedBy?: string }): Promise<{
    active: Workload[];
    stopping: Workload[];
  }> {
    const base = {
      ...(args.scope ? { dataplaneGroup: args.scope.dataplaneGroup } : {}),
      ...(args.claimedBy ? { claimedBy: args.claimedBy } : {}),
    };
    const [active, stopping] = await Promise.all([
      this.db.workload.findMany({
        where: { ...base, status: { in: ACTIVE } },
        orderBy: { createdAt: 'asc' },
      }),
      this.db.workload.findMany({
        where: { ...base, status: { in: TERMINAL }, endedAt: null },
        orderBy: { createdAt: 'asc' },
      }),
    ]);
    return { active, stopping };
  }

  /**
   * What runs now, for operators (the dashboard's fleet page): active workloads of every group
   * (or one), oldest first, with the workspace, connection and job their attempt belongs to.
   * Never their input.
   */
  async listActiveOverview(
    args: { dataplaneGroup?: string; limit?: number } = {},
  ): Promise<ActiveWorkloadInfo[]> {
    const rows = await this.db.workload.findMany({
      where: {
        status: { in: ACTIVE },
        ...(args.dataplaneGroup ? { dataplaneGroup: args.dataplaneGroup } : {}),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: Math.max(1, Math.min(args.limit ?? 200, 1000)),
      select: {
        id: true,
        type: true,
        status: true,
        dataplaneGroup: true,
        claimedBy: true,
        createdAt: true,
        runningAt: true,
        lastHeartbeatAt: true,
        attempt: { select: { jobId: true, job: { select: { workspaceId: true, connectionId: true } } } },
      },
    });
    return rows.map((r) => ({
      id: r.id,
      type: r.type,
      status: r.status,
      dataplaneGroup: r.dataplaneGroup,
      claimedBy: r.claimedBy,
      createdAt: r.createdAt,
      runningAt: r.runningAt,
      lastHeartbeatAt: r.lastHeartbeatAt,
      workspaceId: r.attempt?.job.workspaceId ?? null,
      connectionId: r.attempt?.job.connectionId ?? null,
      jobId: r.attempt?.jobId ?? null,
    }));
  }

  /**
   * Terminal workloads changed after a cursor, oldest first, for the worker's reconciler (which
   * signals waiting workflows it may have missed). Pass the last row's `updatedAt` and `id`
   * back as the next cursor.
   */
  listTerminatedSince(args: { since: Date; afterId?: string; limit?: number }): Promise<Workload[]> {
    return this.db.workload.findMany({
      where: {
        status: { in: TERMINAL },
        OR: [
          { updatedAt: { gt: args.since } },
          ...(args.afterId !== undefined ? [{ updatedAt: args.since, id: { gt: args.afterId } }] : []),
        ],
      },
      orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
      take: args.limit ?? 500,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Sweeper and reconciler

  /**
   * Fails every active workload past its deadline with a reason a user can act on, and counts
   * cancelled workloads whose programs never confirmed stopping as ended. Each change is
   * guarded (status and deadline unchanged since read), so concurrent sweepers are harmless.
   */
  async sweep(now: Date = this.now(), limit = 500): Promise<SweepResult> {
    const expired = await this.db.workload.findMany({
      where: {
        deadline: { lt: now },
        OR: [{ status: { in: ACTIVE } }, { status: { in: TERMINAL }, endedAt: null }],
      },
      orderBy: { deadline: 'asc' },
      take: limit,
    });
    const failed: Workload[] = [];
    const settled: Workload[] = [];
    for (const row of expired) {
      if (isTerminalStatus(row.status)) {
        const n = await this.db.workload.updateMany({
          where: { id: row.id, status: row.status, endedAt: null, deadline: { lt: now } },
          data: { endedAt: now, deadline: null, updatedAt: now },
        });
        if (n.count === 0) continue;
        const w = await this.db.workload.findUniqueOrThrow({ where: { id: row.id } });
        this.logger.warn(
          { workloadId: w.id, claimedBy: w.claimedBy },
          'cancelled workload did not confirm its programs stopped within the grace period; counting it as ended',
        );
        settled.push(w);
        await this.afterEnded(w);
        continue;
      }
      // A pending workload waiting for an older one of its mutex key is not late: it cannot be
      // claimed yet (its deadline restarts when the key is released).
      if (row.status === 'pending' && row.mutexKey && (await findBlocker(this.db, row.mutexKey, row.id)))
        continue;
      const reason = this.sweepReason(row);
      const n = await this.db.workload.updateMany({
        where: { id: row.id, status: row.status, deadline: { lt: now } },
        data: {
          status: 'failure',
          terminationReason: reason,
          terminationSource: 'sweeper',
          endedAt: now,
          deadline: null,
          updatedAt: now,
        },
      });
      if (n.count === 0) continue;
      const w = await this.db.workload.findUniqueOrThrow({ where: { id: row.id } });
      this.logger.warn({ workloadId: w.id, status: row.status, reason }, 'workload failed by the sweeper');
      failed.push(w);
      await this.afterTerminal(w);
    }
    return { failed, settled };
  }

  private sweepReason(w: Workload): string {
    const t = this.timeouts;
    const by = w.claimedBy ? `launcher ${w.claimedBy}` : 'its launcher';
    switch (w.status) {
      case 'pending':
        return `not claimed within ${formatDuration(t.pendingMs)}: no launcher of dataplane group "${w.dataplaneGroup}" took it (is one running?)`;
      case 'claimed':
        return `not launched within ${formatDuration(t.claimedMs)} of being claimed by ${by} (the launcher may have crashed or cannot start it)`;
      case 'launched':
        return `did not report running within ${formatDuration(t.launchedMs)} of being launched by ${by}: its middleware did not start or cannot reach the Workload API`;
      default:
        return `no heartbeat for ${formatDuration(t.heartbeatTimeoutMs)}: the workload's middleware stopped reporting (launcher host lost or process killed)`;
    }
  }

  /** Re-adds every pending workload's queue job (idempotent): covers a crash between a create's
   * commit and its enqueue, and jobs dropped after failing. Returns how many were enqueued. */
  async requeuePending(limit = 1000): Promise<number> {
    if (!this.dispatch) return 0;
    const rows = await this.db.workload.findMany({
      where: { status: 'pending' },
      orderBy: { createdAt: 'asc' },
      take: limit,
    });
    let n = 0;
    for (const row of rows) if (await this.enqueue(row)) n++;
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Reports from the middleware

  /**
   * Persists destination-committed state (the middleware flushes every few seconds and at the
   * end) through persistConnectionState: refused when the connection was reset since the
   * `generation` the workload read with its input, so state never regresses.
   */
  async reportState(args: {
    id: string;
    states: unknown;
    generation?: number;
    scope?: Scope;
  }): Promise<{ version: bigint }> {
    const row = await this.reportingWorkload(args.id, args.scope, 'report state');
    const states = parse(StateReport, args.states);
    const input = row.input as Record<string, unknown>;
    const connectionId = input.connectionId;
    if (row.type !== 'sync' || typeof connectionId !== 'string') {
      throw new WorkloadError(
        'BAD_REQUEST',
        `workload ${args.id} is a ${row.type} workload without a connection: it has no state`,
      );
    }
    const generation =
      args.generation ?? (typeof input.stateGeneration === 'number' ? input.stateGeneration : undefined);
    if (generation === undefined) {
      throw new WorkloadError(
        'BAD_REQUEST',
        'generation: the state generation read with the input is required',
        {
          path: 'generation',
        },
      );
    }
    try {
      const version = await persistConnectionState(this.db, {
        connectionId,
        generation,
        state: toConnectionState(states),
      });
      return { version };
    } catch (err) {
      if (err instanceof StaleStateError) throw new WorkloadError('CONFLICT', err.message);
      throw err;
    }
  }

  /** Stores cumulative per-stream counters of the workload's attempt; never lowers one. */
  async reportStats(args: { id: string; streams: unknown; scope?: Scope }): Promise<{ streams: number }> {
    const row = await this.reportingWorkload(args.id, args.scope, 'report stats');
    const streams = parse(StreamStatsReport.array().max(10_000), args.streams);
    if (!row.attemptId) return { streams: 0 };
    await this.upsertStats(row.attemptId, streams);
    return { streams: streams.length };
  }

  private async upsertStats(attemptId: string, streams: StreamStatsReport[]): Promise<void> {
    const now = this.now();
    const big = (n: number | undefined | null) => (n === undefined || n === null ? null : BigInt(n));
    await this.db.$transaction(async (tx) => {
      for (const s of streams) {
        await tx.$executeRaw`
          INSERT INTO "stream_stats" AS t ("attempt_id", "stream_namespace", "stream_name",
            "records_emitted", "bytes_emitted", "records_committed", "bytes_committed", "records_rejected",
            "estimated_records", "estimated_bytes", "updated_at")
          VALUES (${attemptId}::uuid, ${s.stream.namespace ?? ''}, ${s.stream.name},
            ${big(s.recordsEmitted) ?? 0n}, ${big(s.bytesEmitted) ?? 0n}, ${big(s.recordsCommitted) ?? 0n},
            ${big(s.bytesCommitted) ?? 0n}, ${big(s.recordsRejected) ?? 0n},
            ${big(s.estimatedRecords)}::bigint, ${big(s.estimatedBytes)}::bigint, ${now})
          ON CONFLICT ("attempt_id", "stream_namespace", "stream_name") DO UPDATE SET
            "records_emitted" = GREATEST(t."records_emitted", EXCLUDED."records_emitted"),
            "bytes_emitted" = GREATEST(t."bytes_emitted", EXCLUDED."bytes_emitted"),
            "records_committed" = GREATEST(t."records_committed", EXCLUDED."records_committed"),
            "bytes_committed" = GREATEST(t."bytes_committed", EXCLUDED."bytes_committed"),
            "records_rejected" = GREATEST(t."records_rejected", EXCLUDED."records_rejected"),
            "estimated_records" = COALESCE(EXCLUDED."estimated_records", t."estimated_records"),
            "estimated_bytes" = COALESCE(EXCLUDED."estimated_bytes", t."estimated_bytes"),
            "updated_at" = EXCLUDED."updated_at"`;
      }
    });
  }

  /**
   * Appends chunks to the workload's attempt log. Each writer numbers its chunks from 0 and
   * appends them in order; a chunk already stored (a retried append) is skipped. `attached` is false for a workload
   * without an attempt (nothing is stored then).
   */
  async appendLog(args: {
    id: string;
    writer: LogWriter;
    chunks: unknown;
    scope?: Scope;
  }): Promise<{ attached: boolean; stored: number }> {
    const writer = parse(LogWriter, args.writer);
    const chunks = parse(LogChunk.array().max(1000), args.chunks);
    const row = await this.get(args.id, args.scope);
    if (!row.attemptId) return { attached: false, stored: 0 };
    // The workload's slot: its place among the attempt's workloads (a sync's discover, the sync).
    const slot = await this.db.workload.count({
      where: {
        attemptId: row.attemptId,
        OR: [{ createdAt: { lt: row.createdAt } }, { createdAt: row.createdAt, autoId: { lt: row.autoId } }],
      },
    });
    const stored = await appendAttemptLogChunks(this.db, row.attemptId, writer, chunks, { slot });
    return { attached: true, stored };
  }

  /** The same for lines written in-process (the worker's `platform` lines). */
  async appendAttemptLog(
    attemptId: string,
    writer: LogWriter,
    chunks: LogChunk[],
  ): Promise<{ attached: boolean; stored: number }> {
    return { attached: true, stored: await appendAttemptLogChunks(this.db, attemptId, writer, chunks) };
  }

  /** A page of an attempt's log after `cursor` (see `readAttemptLog` in attempt-log.ts). */
  readAttemptLog(attemptId: string, opts: { cursor?: string | null; limit?: number } = {}) {
    return readAttemptLog(this.db, attemptId, opts);
  }

  /**
   * A connector's CONTROL message: its new config (e.g. a refreshed OAuth token) is validated
   * against the connector's spec, sealed, and stored on the saved source or destination.
   */
  async updateConnectorConfig(args: {
    id: string;
    role: 'source' | 'destination';
    config: unknown;
    scope?: Scope;
  }): Promise<{ actorId: string }> {
    const row = await this.reportingWorkload(args.id, args.scope, 'update a connector config');
    const input = row.input as WorkloadInput;
    const connector: ConnectorInput | undefined =
      input[args.role] ?? (input.connector?.actorType === args.role ? input.connector : undefined);
    if (!connector) {
      throw new WorkloadError('BAD_REQUEST', `workload ${args.id} has no ${args.role}`, { path: 'role' });
    }
    if (!connector.actorId) {
      throw new WorkloadError(
        'PRECONDITION_FAILED',
        `the ${args.role} of workload ${args.id} is not saved, so its new config cannot be persisted`,
      );
    }
    const actorId = connector.actorId;
    const actor =
      args.role === 'source'
        ? await this.db.source.findUnique({ where: { id: actorId }, include: { definition: true } })
        : await this.db.destination.findUnique({ where: { id: actorId }, include: { definition: true } });
    if (!actor) throw new WorkloadError('NOT_FOUND', `${args.role} ${actorId} not found`);
    const spec = isObject(actor.definition.spec) ? actor.definition.spec.connectionSpecification : undefined;
    if (!isObject(spec)) {
      throw new WorkloadError(
        'PRECONDITION_FAILED',
        `connector ${actor.definition.name} has no spec to validate the new config against`,
      );
    }
    const validation = compileConfigValidator(spec)(args.config);
    if (!validation.ok) {
      throw new WorkloadError(
        'BAD_REQUEST',
        `the ${args.role}'s new config does not match the ${actor.definition.name} spec: ${validation.problems.join('; ')}`,
        { path: 'config' },
      );
    }
    const sealed = asJson(this.requireSecrets().seal(spec, args.config));
    const now = this.now();
    if (args.role === 'source') {
      await this.db.source.update({ where: { id: actorId }, data: { config: sealed, updatedAt: now } });
    } else {
      await this.db.destination.update({ where: { id: actorId }, data: { config: sealed, updatedAt: now } });
    }
    this.logger.info(
      { workloadId: row.id, actorType: args.role, actorId },
      'connector config updated from a CONTROL message',
    );
    return { actorId };
  }

  /** Reports are accepted while the programs may run: running, or ended but not yet stopped. */
  private async reportingWorkload(id: string, scope: Scope | undefined, action: string): Promise<Workload> {
    const row = await this.get(id, scope);
    if (!REPORTING.includes(row.status) || (isTerminalStatus(row.status) && row.endedAt)) {
      throw new WorkloadError(
        'CONFLICT',
        isTerminalStatus(row.status)
          ? `cannot ${action}: workload ${id} has ended (${row.status})`
          : `cannot ${action}: workload ${id} is ${row.status}, not running`,
        { status: row.status },
      );
    }
    return row;
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private requireSecrets(): ConfigSecrets {
    if (!this.secrets) throw new Error('the workload service was created without config secrets');
    return this.secrets;
  }

  /** One guarded update plus a read under the row lock the update took. */
  private transition(args: {
    id: string;
    scope?: Scope;
    launcherId?: string;
    action: string;
    from: WorkloadStatus[];
    data: Prisma.WorkloadUpdateManyMutationInput;
    now: Date;
  }): Promise<Workload> {
    return this.db.$transaction(async (tx) => {
      const n = await tx.workload.updateMany({
        where: {
          id: args.id,
          status: { in: args.from },
          ...(args.scope ? { dataplaneGroup: args.scope.dataplaneGroup } : {}),
          ...(args.launcherId ? { claimedBy: args.launcherId } : {}),
        },
        data: { ...args.data, updatedAt: args.now },
      });
      const row = await tx.workload.findUnique({ where: { id: args.id } });
      if (n.count === 1 && row) return row;
      throw this.refusal(row, args.id, args.action, args.from, args.launcherId, args.scope);
    });
  }

  private refusal(
    row: Workload | null,
    id: string,
    action: string,
    from: WorkloadStatus[],
    launcherId: string | undefined,
    scope?: Scope,
  ): WorkloadError {
    if (!row || !inScope(row, scope)) return workloadNotFound(id);
    if (launcherId && from.includes(row.status) && row.claimedBy !== launcherId) {
      return new WorkloadError(
        'CONFLICT',
        `cannot ${action}: workload ${id} is claimed by launcher ${row.claimedBy ?? '(none)'}, not ${launcherId}`,
        { status: row.status },
      );
    }
    const why = isTerminalStatus(row.status)
      ? `it has ended (${row.status}${row.terminationReason ? `: ${row.terminationReason}` : ''})`
      : `it is ${row.status}, expected ${from.join(' or ')}`;
    return new WorkloadError('CONFLICT', `cannot ${action} for workload ${id}: ${why}`, {
      status: row.status,
    });
  }

  /** Guarded cancel of one row as last read; null when it moved in between. */
  private async cancelRow(
    tx: Tx,
    row: Workload,
    reason: string,
    source: TerminationSource,
    now: Date,
  ): Promise<Workload | null> {
    if (!ACTIVE.includes(row.status)) return null;
    const hasPrograms = row.status !== 'pending';
    const n = await tx.workload.updateMany({
      where: { id: row.id, status: row.status },
      data: {
        status: 'cancelled',
        terminationReason: reason,
        terminationSource: source,
        updatedAt: now,
        ...(hasPrograms
          ? { endedAt: null, deadline: this.after(this.timeouts.cancelGraceMs, now) }
          : { endedAt: now, deadline: null }),
      },
    });
    if (n.count === 0) return null;
    return tx.workload.findUniqueOrThrow({ where: { id: row.id } });
  }

  private async safely(what: string, w: Workload, fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, workloadId: w.id }, `${what} failed`);
    }
  }

  private async enqueue(w: Workload): Promise<boolean> {
    if (!this.dispatch) return false;
    let ok = false;
    await this.safely('enqueueing the workload', w, async () => {
      await this.dispatch?.enqueue(w);
      ok = true;
    });
    return ok;
  }

  private async afterTerminal(w: Workload): Promise<void> {
    if (this.onTerminal) {
      const hook = this.onTerminal;
      await this.safely('the onTerminal hook', w, () => hook(w));
    }
    if (w.status === 'cancelled' && this.dispatch) {
      const dispatch = this.dispatch;
      if (w.claimedBy) {
        await this.safely('publishing the cancellation', w, () =>
          dispatch.publish({
            type: 'cancelled',
            workloadId: w.id,
            dataplaneGroup: w.dataplaneGroup,
            claimedBy: w.claimedBy,
            reason: w.terminationReason ?? 'cancelled',
          }),
        );
      } else {
        await this.safely('removing the queue job', w, () => dispatch.remove(w));
      }
    }
    if (w.endedAt) await this.afterEnded(w);
  }

  /** The workload's programs are gone: the next workload of its mutex key may start. */
  private async afterEnded(w: Workload): Promise<void> {
    if (!w.mutexKey) return;
    const now = this.now();
    const waiting = await this.db.workload.findMany({ where: { mutexKey: w.mutexKey, status: 'pending' } });
    for (const next of waiting) {
      // Its wait for the key did not count against its claim deadline.
      await this.db.workload.updateMany({
        where: { id: next.id, status: 'pending' },
        data: { deadline: this.after(this.timeouts.pendingMs, now), updatedAt: now },
      });
      if (this.dispatch) {
        const dispatch = this.dispatch;
        await this.safely('waking the next workload of the mutex key', next, () => dispatch.wake(next));
      }
    }
  }
}

function inScope(row: Workload, scope: Scope | undefined): boolean {
  return !scope || row.dataplaneGroup === scope.dataplaneGroup;
}

/** Serialises creates and claims of one mutex key for the rest of the transaction. */
async function lockMutex(tx: Tx, key: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`sluice.workload.mutex:${key}`}, 0))`;
}

/** Another workload of the key whose programs may still run: active, or ended but not stopped. */
function findBlocker(db: DbOrTx, mutexKey: string, id: string): Promise<Workload | null> {
  return db.workload.findFirst({
    where: {
      mutexKey,
      id: { not: id },
      OR: [{ status: { in: ACTIVE } }, { status: { in: TERMINAL }, endedAt: null }],
    },
    orderBy: { createdAt: 'asc' },
  });
}
