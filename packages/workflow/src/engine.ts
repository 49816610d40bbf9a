import { randomUUID } from 'node:crypto';
import { type JobsOptions, Queue } from 'bullmq';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import type { HistoryEntry } from './activation';
import {
  CancelledError,
  InputValidationError,
  type SerializedError,
  serializeError,
  TerminatedError,
  TimeoutError,
  WorkflowExistsError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from './errors';
import { Keys, SCHEDULE_JOB } from './keys';
import { createScriptedRedis, type RedisConnection, type ScriptedRedis, Subscriber } from './redis';
import type {
  EngineHooks,
  RetryPolicy,
  StartOptions,
  StartResult,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowDefinitionOptions,
  WorkflowInfo,
  WorkflowStatus,
} from './types';
import { isTerminal } from './types';
import { WorkflowWorker, type WorkflowWorkerOptions } from './worker';

export const EngineOptions = z.object({
  connection: z.union([z.string().min(1), z.record(z.string(), z.unknown())]),
  prefix: z
    .string()
    .min(1)
    .regex(/^[^\s]+$/, 'no whitespace')
    .default('sluice'),
  queueName: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')
    .default('workflows'),
  /** How long finished workflows (record and last history) stay queryable. */
  retentionMs: z
    .number()
    .int()
    .positive()
    .default(7 * 24 * 3600_000),
  /** Signals a workflow may have pending before `signal()` is refused. */
  maxPendingSignals: z.number().int().positive().default(10_000),
  /** BullMQ attempts for an activation that fails for infrastructure reasons (Redis errors). */
  activationAttempts: z.number().int().positive().default(10),
});
export type EngineOptions = z.input<typeof EngineOptions> & {
  connection: RedisConnection;
  logger?: Logger;
  hooks?: EngineHooks;
  /** Engine-wide default step retry policy (a workflow's and a step's options override it). */
  defaultRetry?: Partial<RetryPolicy>;
};

export interface ListOptions {
  /** Only workflows of this type. */
  name?: string;
  status?: WorkflowStatus | readonly WorkflowStatus[];
  /** Page size over the index of unfinished workflows (default 500). */
  limit?: number;
  /** Position returned as `next` by the previous page. */
  cursor?: number;
}

export interface WorkflowSummary {
  workflowId: string;
  name: string;
  runId: string;
  status: WorkflowStatus;
  startedAt: number;
  updatedAt: number;
  wakeAt: number | null;
}

export interface ResultOptions {
  /** Reject with TimeoutError after this many ms (default: wait forever). */
  timeoutMs?: number;
}

export type EngineStats = Record<WorkflowStatus, number>;

const JobData = z.object({ id: z.string().min(1), runId: z.string().min(1) });
export type JobData = z.infer<typeof JobData>;

export const ScheduleJobData = z.object({
  schedule: z.string().min(1),
  workflow: z.string().min(1),
  input: z.unknown(),
  overlap: z.enum(['skip', 'allow']),
});
export type ScheduleJobData = z.infer<typeof ScheduleJobData>;

export const ScheduleSpec = z
  .object({
    /** Milliseconds between ticks. */
    every: z.number().int().positive().optional(),
    /** Cron pattern (BullMQ's cron syntax, with optional seconds). */
    pattern: z.string().min(1).optional(),
    /** IANA time zone for `pattern`. */
    tz: z.string().min(1).optional(),
    startDate: z.union([z.date(), z.number()]).optional(),
    endDate: z.union([z.date(), z.number()]).optional(),
    /** Stop after this many ticks. */
    limit: z.number().int().positive().optional(),
    /** Fire once right away as well (with `every`). */
    immediately: z.boolean().optional(),
  })
  .refine((s) => (s.every === undefined) !== (s.pattern === undefined), {
    message: 'give exactly one of `every` or `pattern`',
  });
export type ScheduleSpec = z.infer<typeof ScheduleSpec>;

export interface ScheduleOptions {
  /** 'skip' (default): a tick is skipped while the previous tick's workflow is unfinished. */
  overlap?: 'skip' | 'allow';
}

export interface ScheduleInfo {
  scheduleId: string;
  workflow: string;
  input: unknown;
  every: number | null;
  pattern: string | null;
  tz: string | null;
  /** Epoch ms of the next tick, if known. */
  next: number | null;
}

/** Builds a workflow definition; register it with `engine.register` or `createWorker({ workflows })`. */
export function defineWorkflow<S extends z.ZodType, O>(
  name: string,
  inputSchema: S,
  fn: (ctx: WorkflowContext, input: z.output<S>) => Promise<O>,
  options: WorkflowDefinitionOptions = {},
): WorkflowDefinition<S, O> {
  if (typeof name !== 'string' || name.length === 0 || name.includes('\n') || name.startsWith('__')) {
    throw new TypeError(
      'defineWorkflow needs a name: a non-empty string without newlines, not starting with "__"',
    );
  }
  if (!inputSchema || typeof (inputSchema as { safeParse?: unknown }).safeParse !== 'function') {
    throw new TypeError(`defineWorkflow("${name}") needs a zod schema for its input`);
  }
  if (typeof fn !== 'function') throw new TypeError(`defineWorkflow("${name}") needs a workflow function`);
  return { name, inputSchema, fn, options };
}

export function createEngine(options: EngineOptions): Engine {
  return new Engine(options);
}

/**
 * Client and factory of workers for one queue. Any process may start, signal, cancel and
 * query workflows; only processes that call `createWorker` execute them.
 */
export class Engine {
  readonly keys: Keys;
  readonly redis: ScriptedRedis;
  readonly queue: Queue;
  readonly logger: Logger;
  readonly hooks: EngineHooks;
  readonly retentionMs: number;
  readonly maxPendingSignals: number;
  readonly defaultRetry?: Partial<RetryPolicy>;
  readonly connection: RedisConnection;
  readonly subscriber: Subscriber;
  private readonly activationAttempts: number;
  private readonly registry = new Map<string, WorkflowDefinition>();
  private readonly workers = new Set<WorkflowWorker>();
  private redisChecked: Promise<string | null> | null = null;
  private closed = false;

  constructor(options: EngineOptions) {
    const parsed = EngineOptions.safeParse(options);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
      throw new TypeError(`invalid workflow engine options: ${problems.join('; ')}`);
    }
    const o = parsed.data;
    this.connection = options.connection;
    this.keys = new Keys(o.prefix, o.queueName);
    this.logger = options.logger ?? pino({ name: 'sluice-workflow' });
    this.hooks = options.hooks ?? {};
    this.retentionMs = o.retentionMs;
    this.maxPendingSignals = o.maxPendingSignals;
    this.activationAttempts = o.activationAttempts;
    this.defaultRetry = options.defaultRetry;
    this.redis = createScriptedRedis(options.connection);
    this.redis.on('error', (err) => this.logger.warn({ err: err.message }, 'workflow engine redis error'));
    this.queue = new Queue(o.queueName, { connection: this.redis, prefix: o.prefix });
    this.queue.on('error', (err) => this.logger.warn({ err: err.message }, 'workflow queue error'));
    this.subscriber = new Subscriber(options.connection, (err) =>
      this.logger.warn({ err: err.message }, 'workflow subscriber error'),
    );
  }

  // ------------------------------------------------------------ definitions

  defineWorkflow<S extends z.ZodType, O>(
    name: string,
    inputSchema: S,
    fn: (ctx: WorkflowContext, input: z.output<S>) => Promise<O>,
    options: WorkflowDefinitionOptions = {},
  ): WorkflowDefinition<S, O> {
    const def = defineWorkflow(name, inputSchema, fn, options);
    this.register(def);
    return def;
  }

  /** Makes definitions known to this engine: `start` validates their input, workers run them. */
  register(...defs: WorkflowDefinition<z.ZodType, unknown>[]): void {
    for (const def of defs) {
      const existing = this.registry.get(def.name);
      if (existing && existing !== def) throw new TypeError(`workflow "${def.name}" is already registered`);
      this.registry.set(def.name, def as WorkflowDefinition);
    }
  }

  getDefinition(name: string): WorkflowDefinition | undefined {
    return this.registry.get(name);
  }

  // ------------------------------------------------------------ client API

  /**
   * Starts a workflow unless one with this id exists (see StartOptions.idempotent). Atomic:
   * concurrent starts of one id from any number of processes create exactly one run.
   */
  async start<S extends z.ZodType, O>(
    workflow: string | WorkflowDefinition<S, O>,
    workflowId: string,
    input: z.input<S> | unknown,
    options: StartOptions = {},
  ): Promise<StartResult> {
    return this.startInternal(workflow, workflowId, input, options.idempotent ?? true, null);
  }

  /** Internal: also used for child workflows, which carry their parent. */
  async startInternal(
    workflow: string | WorkflowDefinition<z.ZodType, unknown>,
    workflowId: string,
    input: unknown,
    idempotent: boolean,
    parent: { workflowId: string; runId: string } | null,
  ): Promise<StartResult> {
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    checkId(workflowId);
    if (typeof name !== 'string' || name.length === 0) throw new TypeError('start needs a workflow name');
    const def = typeof workflow === 'string' ? this.registry.get(name) : workflow;
    if (def) {
      const parsed = def.inputSchema.safeParse(input);
      if (!parsed.success) {
        throw new InputValidationError(
          `input for workflow "${name}" (id "${workflowId}") is invalid: ${parsed.error.message}`,
          { details: parsed.error.issues },
        );
      }
    }
    let inputJson: string;
    try {
      inputJson = JSON.stringify(input) ?? 'null';
    } catch (err) {
      throw new InputValidationError(`input for workflow "${name}" is not JSON-serializable`, { cause: err });
    }
    const runId = randomUUID();
    const k = this.keys;
    const res = (await this.redis.wfStart(
      k.rec(workflowId),
      k.active,
      k.counts,
      workflowId,
      name,
      runId,
      inputJson,
      Date.now(),
      parent ? JSON.stringify(parent) : '',
      idempotent ? '1' : '0',
    )) as [number, string, string, string];
    const [created, currentRunId, existingName, status] = res;
    if (existingName !== name) throw new WorkflowExistsError(workflowId, existingName, name);
    if (created === 1 || !isTerminal(status)) {
      // Also repairs a start that died between the record and the job: adding an
      // existing job id is a no-op.
      await this.ensureJob(workflowId, currentRunId, name);
    }
    return { workflowId, runId: currentRunId, created: created === 1, status: status as WorkflowStatus };
  }

  /**
   * Appends a signal to the workflow's durable inbox (kept while no worker runs) and wakes
   * it if it is suspended. Returns false if the workflow already finished.
   */
  async signal(workflowId: string, name: string, payload?: unknown): Promise<boolean> {
    checkId(workflowId);
    if (typeof name !== 'string' || name.length === 0 || name.includes('\n')) {
      throw new TypeError('signal name must be a non-empty string without newlines');
    }
    let json: string;
    try {
      json = JSON.stringify({ n: name, p: payload, at: Date.now() });
    } catch (err) {
      throw new InputValidationError(`payload of signal "${name}" is not JSON-serializable`, { cause: err });
    }
    const k = this.keys;
    const res = (await this.redis.wfSignal(
      k.rec(workflowId),
      k.sig(workflowId),
      `${name}\n${json}`,
      this.maxPendingSignals,
    )) as [number, string?, string?];
    if (res[0] === -1) throw new WorkflowNotFoundError(workflowId);
    if (res[0] === -3) {
      throw new Error(
        `workflow "${workflowId}" has ${this.maxPendingSignals} unconsumed signals; refusing signal "${name}"`,
      );
    }
    if (res[0] === 0) return false;
    if (res[2] !== 'running') await this.promote(res[1]!);
    return true;
  }

  /** Starts the workflow if needed (restarting a finished one), then signals it. */
  async signalWithStart<S extends z.ZodType, O>(
    workflow: string | WorkflowDefinition<S, O>,
    workflowId: string,
    input: z.input<S> | unknown,
    signalName: string,
    payload?: unknown,
  ): Promise<StartResult> {
    const started = await this.startInternal(workflow, workflowId, input, false, null);
    await this.signal(workflowId, signalName, payload);
    return started;
  }

  /**
   * Requests cancellation. A running step (on whichever worker holds it) sees its
   * AbortSignal fire; a suspended workflow wakes; a workflow not yet picked up gets it on
   * its next activation. The workflow code sees CancelledError at the command it waits on.
   * Returns false if the workflow already finished.
   */
  async cancel(workflowId: string, reason = 'cancelled'): Promise<boolean> {
    checkId(workflowId);
    const res = (await this.redis.wfCancel(
      this.keys.rec(workflowId),
      JSON.stringify(reason),
      this.keys.control,
      JSON.stringify({ t: 'cancel', id: workflowId, reason }),
    )) as [number, string?, string?];
    if (res[0] === -1) throw new WorkflowNotFoundError(workflowId);
    if (res[0] === 0) return false;
    if (res[2] !== 'running') await this.promote(res[1]!);
    return true;
  }

  /**
   * Fails the workflow record at once without running any more of its code (for
   * reconcilers rebuilding Redis from Postgres). A step running somewhere is aborted and
   * its result discarded. Returns false if it already finished.
   */
  async terminate(workflowId: string, reason: string): Promise<boolean> {
    return this.failRecord(workflowId, serializeError(new TerminatedError(reason)), '');
  }

  /** Fails the record of one specific run (used when BullMQ gives up on its job). */
  async failRecord(workflowId: string, error: SerializedError, expectedRunId: string): Promise<boolean> {
    checkId(workflowId);
    const k = this.keys;
    const res = (await this.redis.wfTerminate(
      k.rec(workflowId),
      k.active,
      k.counts,
      k.sig(workflowId),
      workflowId,
      JSON.stringify(error),
      Date.now(),
      this.retentionMs,
      k.control,
      JSON.stringify({ t: 'terminate', id: workflowId }),
      k.done(workflowId),
      k.histPrefix,
      expectedRunId,
    )) as [number, string?, string?];
    if (res[0] === -1) {
      if (expectedRunId) return false;
      throw new WorkflowNotFoundError(workflowId);
    }
    if (res[0] === 0) return false;
    const runId = res[1]!;
    await this.queue.remove(runId).catch(() => 0);
    if (res[2]) await this.wakeParent(res[2]);
    return true;
  }

  async exists(workflowId: string): Promise<boolean> {
    checkId(workflowId);
    return (await this.redis.exists(this.keys.rec(workflowId))) === 1;
  }

  /** Status, state, result and bookkeeping of a workflow; null if unknown (or expired). */
  async query(workflowId: string): Promise<WorkflowInfo | null> {
    checkId(workflowId);
    const rec = await this.redis.hgetall(this.keys.rec(workflowId));
    if (!rec.runId) return null;
    const [[, hlen], [, slen]] = (await this.redis
      .pipeline()
      .hlen(this.keys.hist(rec.runId))
      .llen(this.keys.sig(workflowId))
      .exec()) as [[unknown, number], [unknown, number]];
    return toInfo(workflowId, rec, hlen, slen);
  }

  /** The current run's recorded commands, in order (for debugging and tests). */
  async history(workflowId: string): Promise<{ seq: number; entry: HistoryEntry }[]> {
    checkId(workflowId);
    const runId = await this.redis.hget(this.keys.rec(workflowId), 'runId');
    if (!runId) throw new WorkflowNotFoundError(workflowId);
    const flat = await this.redis.hgetall(this.keys.hist(runId));
    return Object.entries(flat)
      .map(([seq, json]) => ({ seq: Number(seq), entry: JSON.parse(json) as HistoryEntry }))
      .sort((a, b) => a.seq - b.seq);
  }

  /**
   * Waits for the workflow to finish: resolves with its output, rejects with
   * WorkflowFailedError / CancelledError / TimeoutError / WorkflowNotFoundError.
   */
  async result<O = unknown>(workflowId: string, options: ResultOptions = {}): Promise<O> {
    checkId(workflowId);
    const deadline =
      options.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeoutMs;
    let wake: (() => void) | null = null;
    const unsubscribe = await this.subscriber.subscribe(this.keys.done(workflowId), () => wake?.());
    try {
      for (let poll = 50; ; poll = Math.min(poll * 2, 1000)) {
        const [status, output, error] = await this.redis.hmget(
          this.keys.rec(workflowId),
          'status',
          'output',
          'error',
        );
        if (status === null) throw new WorkflowNotFoundError(workflowId);
        if (status === 'completed') return (output ? JSON.parse(output) : null) as O;
        if (status === 'failed') {
          throw new WorkflowFailedError(workflowId, parseFailure(error));
        }
        if (status === 'cancelled') {
          const f = parseFailure(error);
          throw new CancelledError(f.message.replace(/^cancelled:? ?/, '') || undefined);
        }
        const left = deadline - Date.now();
        if (left <= 0)
          throw new TimeoutError(`workflow "${workflowId}" did not finish in ${options.timeoutMs} ms`);
        // Pub/sub is the fast path; the poll covers a message lost to a reconnect.
        await new Promise<void>((resolve) => {
          const t = setTimeout(done, Math.min(poll, left));
          function done() {
            clearTimeout(t);
            wake = null;
            resolve();
          }
          wake = done;
        });
      }
    } finally {
      await unsubscribe();
    }
  }

  /**
   * Unfinished workflows (running, sleeping, waiting), oldest first: what a reconciler
   * compares with Postgres. Pages over the index; `next` is null on the last page.
   */
  async list(options: ListOptions = {}): Promise<{ items: WorkflowSummary[]; next: number | null }> {
    const limit = options.limit ?? 500;
    const cursor = options.cursor ?? 0;
    const ids = await this.redis.zrange(this.keys.active, cursor, cursor + limit - 1);
    const statuses = options.status === undefined ? null : new Set([options.status].flat());
    const pipe = this.redis.pipeline();
    for (const id of ids)
      pipe.hmget(this.keys.rec(id), 'name', 'runId', 'status', 'startedAt', 'updatedAt', 'wakeAt');
    const rows = ((await pipe.exec()) ?? []) as [unknown, (string | null)[]][];
    const items: WorkflowSummary[] = [];
    ids.forEach((id, i) => {
      const r = rows[i]?.[1];
      if (!r?.[1]) return;
      const summary: WorkflowSummary = {
        workflowId: id,
        name: r[0] ?? '',
        runId: r[1],
        status: (r[2] ?? 'running') as WorkflowStatus,
        startedAt: Number(r[3] ?? 0),
        updatedAt: Number(r[4] ?? 0),
        wakeAt: r[5] ? Number(r[5]) : null,
      };
      if (options.name !== undefined && summary.name !== options.name) return;
      if (statuses && !statuses.has(summary.status)) return;
      items.push(summary);
    });
    return { items, next: ids.length < limit ? null : cursor + limit };
  }

  /** Gauges of unfinished workflows by status and totals of finished ones. */
  async stats(): Promise<EngineStats> {
    const raw = await this.redis.hgetall(this.keys.counts);
    const out: EngineStats = { running: 0, sleeping: 0, waiting: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const k of Object.keys(out) as WorkflowStatus[]) out[k] = Number(raw[k] ?? 0);
    return out;
  }

  /**
   * Makes sure an unfinished workflow has its job and that the job is due now (for
   * reconcilers after a Redis restore). Returns false if it is finished or unknown.
   */
  async wake(workflowId: string): Promise<boolean> {
    checkId(workflowId);
    const [runId, status, name] = await this.redis.hmget(
      this.keys.rec(workflowId),
      'runId',
      'status',
      'name',
    );
    if (!runId || isTerminal(status)) return false;
    await this.ensureJob(workflowId, runId, name ?? 'workflow');
    await this.promote(runId);
    return true;
  }

  /**
   * Starts `workflow` on a schedule (BullMQ Job Scheduler on the engine's queue). Each tick
   * starts the workflow with id `<scheduleId>@<tick epoch ms>`, so a tick never starts
   * twice. Upserting an existing scheduleId replaces its spec, workflow and input.
   */
  async schedule<S extends z.ZodType, O>(
    scheduleId: string,
    spec: ScheduleSpec,
    workflow: string | WorkflowDefinition<S, O>,
    input: z.input<S> | unknown,
    options: ScheduleOptions = {},
  ): Promise<void> {
    if (typeof scheduleId !== 'string' || !/^[A-Za-z0-9_.@-]{1,200}$/.test(scheduleId)) {
      throw new TypeError('schedule id must be 1-200 characters among letters, digits and _ . @ -');
    }
    const parsedSpec = ScheduleSpec.safeParse(spec);
    if (!parsedSpec.success) {
      throw new TypeError(
        `invalid schedule "${scheduleId}": ${parsedSpec.error.issues.map((i) => i.message).join('; ')}`,
      );
    }
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    const def = typeof workflow === 'string' ? this.registry.get(name) : workflow;
    if (def) {
      const parsed = def.inputSchema.safeParse(input);
      if (!parsed.success) {
        throw new InputValidationError(
          `input for scheduled workflow "${name}" is invalid: ${parsed.error.message}`,
        );
      }
    }
    const data: ScheduleJobData = {
      schedule: scheduleId,
      workflow: name,
      input,
      overlap: options.overlap ?? 'skip',
    };
    const sp = parsedSpec.data;
    await this.queue.upsertJobScheduler(
      scheduleId,
      {
        every: sp.every,
        pattern: sp.pattern,
        tz: sp.tz,
        startDate: sp.startDate,
        endDate: sp.endDate,
        limit: sp.limit,
        immediately: sp.immediately,
      },
      { name: SCHEDULE_JOB, data, opts: { removeOnComplete: true, removeOnFail: { count: 100 } } },
    );
  }

  /** Removes a schedule; workflows it already started are not touched. */
  async unschedule(scheduleId: string): Promise<boolean> {
    const removed = await this.queue.removeJobScheduler(scheduleId);
    await this.redis.hdel(this.keys.schedules, scheduleId);
    return removed;
  }

  async listSchedules(): Promise<ScheduleInfo[]> {
    const all = await this.queue.getJobSchedulers(0, -1, true);
    return all.map((s) => {
      const d = ScheduleJobData.safeParse(s.template?.data);
      return {
        scheduleId: s.key,
        workflow: d.success ? d.data.workflow : '',
        input: d.success ? d.data.input : null,
        every: s.every ?? null,
        pattern: s.pattern ?? null,
        tz: s.tz ?? null,
        next: s.next ?? null,
      };
    });
  }

  /** Worker side of a schedule tick. */
  async runScheduleTick(data: unknown, tick: number): Promise<string | null> {
    const d = ScheduleJobData.safeParse(data);
    if (!d.success) {
      this.logger.error({ issues: d.error.issues }, 'malformed schedule tick; ignoring it');
      return null;
    }
    const { schedule, workflow, input, overlap } = d.data;
    if (overlap === 'skip') {
      const last = await this.redis.hget(this.keys.schedules, schedule);
      if (last) {
        const status = await this.redis.hget(this.keys.rec(last), 'status');
        if (status && !isTerminal(status)) {
          this.logger.info(
            { schedule, running: last },
            'previous scheduled run still unfinished; skipping tick',
          );
          return null;
        }
      }
    }
    const id = `${schedule}@${tick}`;
    await this.startInternal(workflow, id, input, true, null);
    await this.redis.hset(this.keys.schedules, schedule, id);
    return id;
  }

  /**
   * Reads Redis's `maxmemory-policy` and warns unless it is `noeviction`: with eviction,
   * Redis may silently drop workflow records and jobs under memory pressure.
   */
  checkRedis(): Promise<string | null> {
    if (!this.redisChecked) {
      this.redisChecked = (async () => {
        try {
          const res = (await this.redis.config('GET', 'maxmemory-policy')) as string[];
          const policy = res[1] ?? null;
          if (policy !== null && policy !== 'noeviction') {
            this.logger.warn(
              { maxmemoryPolicy: policy },
              'Redis maxmemory-policy is not "noeviction": workflow state and jobs may be evicted',
            );
          }
          return policy;
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'could not read Redis maxmemory-policy');
          return null;
        }
      })();
    }
    return this.redisChecked;
  }

  createWorker(options: WorkflowWorkerOptions = {}): WorkflowWorker {
    if (this.closed) throw new Error('workflow engine is closed');
    if (options.workflows) this.register(...options.workflows);
    const worker = new WorkflowWorker(this, options);
    this.workers.add(worker);
    worker.onClosed(() => this.workers.delete(worker));
    return worker;
  }

  /** Closes workers (with their deadline), then the engine's connections. */
  async close(deadlineMs = 10_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.workers].map((w) => w.close(deadlineMs)));
    await this.queue.close().catch(() => {});
    await this.subscriber.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // ------------------------------------------------------------ internals for workers

  jobOptions(runId: string): JobsOptions {
    return {
      jobId: runId,
      attempts: this.activationAttempts,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: true,
      removeOnFail: { age: Math.ceil(this.retentionMs / 1000) },
    };
  }

  async ensureJob(workflowId: string, runId: string, name: string): Promise<void> {
    const data: JobData = { id: workflowId, runId };
    await this.queue.add(name, data, this.jobOptions(runId));
  }

  parseJobData(data: unknown): JobData | null {
    const r = JobData.safeParse(data);
    return r.success ? r.data : null;
  }

  /** Moves a delayed job to waiting; a job in any other state is left alone. */
  async promote(jobId: string): Promise<void> {
    try {
      await this.queue.backend.promote(jobId);
    } catch {
      // not delayed: it is active, waiting or gone, and will observe the change itself
    }
  }

  async wakeParent(parentJson: string): Promise<void> {
    let parent: { workflowId: string };
    try {
      parent = JSON.parse(parentJson) as { workflowId: string };
    } catch {
      return;
    }
    const [runId, status] = await this.redis.hmget(this.keys.rec(parent.workflowId), 'runId', 'status');
    if (runId && (status === 'sleeping' || status === 'waiting')) await this.promote(runId);
  }

  async readRecordFields(
    workflowId: string,
  ): Promise<{ status: string; output?: string; error?: string } | null> {
    const [status, output, error] = await this.redis.hmget(
      this.keys.rec(workflowId),
      'status',
      'output',
      'error',
    );
    if (status === null || status === undefined) return null;
    return { status, output: output ?? undefined, error: error ?? undefined };
  }
}

function checkId(workflowId: string): void {
  if (typeof workflowId !== 'string' || workflowId.length === 0 || workflowId.length > 1024) {
    throw new TypeError('workflow id must be a non-empty string of at most 1024 characters');
  }
}

function parseFailure(json: string | null | undefined): SerializedError {
  if (!json) return { name: 'Error', message: 'unknown failure' };
  try {
    return JSON.parse(json) as SerializedError;
  } catch {
    return { name: 'Error', message: json };
  }
}

function parseJson(json: string | undefined): unknown {
  if (json === undefined || json === '') return null;
  try {
    return JSON.parse(json);
  } catch {
    return null;
  }
}

function toInfo(
  workflowId: string,
  rec: Record<string, string>,
  historyLength: number,
  pending: number,
): WorkflowInfo {
  const waiting = parseJson(rec.waitingFor) as WorkflowInfo['waitingFor'];
  const parent = parseJson(rec.parent) as WorkflowInfo['parent'];
  return {
    workflowId,
    name: rec.name ?? '',
    runId: rec.runId ?? '',
    status: (rec.status ?? 'running') as WorkflowStatus,
    input: parseJson(rec.input),
    state: parseJson(rec.state),
    output: parseJson(rec.output),
    error: rec.error ? parseFailure(rec.error) : null,
    startedAt: Number(rec.startedAt ?? 0),
    runStartedAt: Number(rec.runStartedAt ?? 0),
    updatedAt: Number(rec.updatedAt ?? 0),
    closedAt: rec.closedAt ? Number(rec.closedAt) : null,
    runs: Number(rec.runs ?? 1),
    wakeAt: rec.wakeAt ? Number(rec.wakeAt) : null,
    waitingFor: waiting ?? null,
    parent: parent ?? null,
    cancelRequested: rec.cancel !== undefined,
    historyLength,
    pendingSignals: pending,
  };
}
