import { randomUUID } from 'node:crypto';
import { DelayedError, type Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { Activation, type ActivationHost, FenceError, type Outcome, parseHistory } from './activation';
import type { Engine } from './engine';
import { InputValidationError, serializeError } from './errors';
import { SCHEDULE_JOB } from './keys';
import { createRedis } from './redis';
import type { ActivationEvent, WorkflowDefinition } from './types';
import { isTerminal } from './types';

export const WorkflowWorkerOptions = z.object({
  /** Activations run at once in this process. */
  concurrency: z.number().int().positive().default(10),
  /**
   * BullMQ lock of an activation; a worker that dies is detected after roughly this long
   * (plus up to two stalled-check intervals) and its workflows resume elsewhere.
   */
  lockDurationMs: z.number().int().positive().default(30_000),
  stalledIntervalMs: z.number().int().positive().optional(),
  /** Times one run's job may be recovered from a dead worker before it is failed. */
  maxStalledCount: z.number().int().min(0).default(10),
  /** Timers due within this many ms are awaited in-process instead of suspending the job. */
  inlineWaitMs: z.number().int().min(0).default(500),
  /** A suspended workflow wakes at least this often to re-check (safety net for lost wake-ups). */
  maxSuspendMs: z.number().int().positive().default(3600_000),
  /** A job for a workflow this worker does not know is retried after this delay. */
  unknownWorkflowDelayMs: z.number().int().positive().default(5000),
  autorun: z.boolean().default(true),
  /** Install handlers that call close(closeDeadlineMs) on these signals (e.g. ['SIGTERM']). */
  closeOnSignals: z.array(z.string()).default([]),
  closeDeadlineMs: z.number().int().min(0).default(10_000),
});
export type WorkflowWorkerOptions = z.input<typeof WorkflowWorkerOptions> & {
  workflows?: WorkflowDefinition<z.ZodType, unknown>[];
};

const ControlMessage = z.object({
  t: z.enum(['cancel', 'terminate']),
  id: z.string(),
  reason: z.string().optional(),
});

/** Executes workflow activations from the engine's queue. */
export class WorkflowWorker {
  readonly bull: Worker;
  private readonly engine: Engine;
  private readonly opts: z.output<typeof WorkflowWorkerOptions>;
  private readonly connection: Redis;
  private readonly host: ActivationHost;
  private readonly activations = new Map<string, Activation>();
  /** Cancel notices that arrived while an activation was loading, by run id. */
  private readonly loading = new Map<string, { id: string; cancel?: string; terminate?: boolean }>();
  private unsubscribe: (() => Promise<void>) | null = null;
  private readonly ready: Promise<void>;
  private closing: Promise<void> | null = null;
  private readonly closedCallbacks: (() => void)[] = [];
  private readonly signalHandlers: [string, () => void][] = [];

  constructor(engine: Engine, options: WorkflowWorkerOptions) {
    const parsed = WorkflowWorkerOptions.safeParse(options);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
      throw new TypeError(`invalid workflow worker options: ${problems.join('; ')}`);
    }
    this.engine = engine;
    this.opts = parsed.data;
    const o = this.opts;
    this.host = {
      logger: engine.logger,
      hooks: engine.hooks,
      inlineWaitMs: o.inlineWaitMs,
      defaultRetry: engine.defaultRetry,
      commit: (act, op, entries, fields, opArgs, opData) => {
        const k = engine.keys;
        const args: (string | number)[] = [
          k.rec(act.workflowId),
          k.hist(act.runId),
          k.lock(act.runId),
          k.sig(act.workflowId),
          k.active,
          k.counts,
          act.workflowId,
          act.runId,
          act.token,
          Date.now(),
          op,
          entries.length,
          fields.length,
          opArgs,
          opData,
        ];
        for (const [a, b] of entries) args.push(a, b);
        for (const [a, b] of fields) args.push(a, b);
        return engine.redis.wfCommit(...args) as Promise<unknown[]>;
      },
      startChild: (name, id, input, idempotent, parent) =>
        engine.startInternal(name, id, input, idempotent, parent),
      readChild: (id) => engine.readRecordFields(id),
      cancelChild: (id, reason) => {
        engine
          .cancel(id, reason)
          .catch((err) => engine.logger.warn({ err: err.message, id }, 'child cancel failed'));
      },
    };
    // Workers need maxRetriesPerRequest: null so a Redis blip pauses them instead of failing commands.
    this.connection = createRedis(engine.connection, { maxRetriesPerRequest: null });
    this.connection.on('error', (err) =>
      engine.logger.warn({ err: err.message }, 'workflow worker redis error'),
    );
    this.bull = new Worker(engine.keys.queue, (job, token) => this.process(job, token), {
      connection: this.connection,
      prefix: engine.keys.prefix,
      concurrency: o.concurrency,
      lockDuration: o.lockDurationMs,
      stalledInterval: o.stalledIntervalMs ?? o.lockDurationMs,
      maxStalledCount: o.maxStalledCount,
      autorun: false,
      removeOnComplete: { count: 0 },
    });
    this.bull.on('error', (err) => engine.logger.warn({ err: err.message }, 'workflow worker error'));
    this.bull.on('failed', (job, err) => {
      if (job) void this.onJobFailed(job, err);
    });
    for (const sig of o.closeOnSignals) {
      const handler = () => {
        engine.logger.info({ signal: sig }, 'closing workflow worker');
        void this.close(o.closeDeadlineMs);
      };
      process.once(sig as NodeJS.Signals, handler);
      this.signalHandlers.push([sig, handler]);
    }
    this.ready = this.init();
  }

  private async init(): Promise<void> {
    void this.engine.checkRedis();
    this.unsubscribe = await this.engine.subscriber.subscribe(this.engine.keys.control, (m) =>
      this.onControl(m),
    );
    await this.bull.waitUntilReady();
    if (this.opts.autorun) void this.run();
  }

  /** Resolves once the worker is connected and listening for cancellations. */
  waitUntilReady(): Promise<void> {
    return this.ready;
  }

  /** Starts fetching jobs (only needed with autorun: false). */
  async run(): Promise<void> {
    await this.ready.catch(() => {});
    if (this.closing || this.bull.isRunning()) return;
    this.bull.run().catch((err) => this.engine.logger.error({ err: err.message }, 'workflow worker stopped'));
  }

  get activeCount(): number {
    return this.activations.size;
  }

  onClosed(cb: () => void): void {
    this.closedCallbacks.push(cb);
  }

  /**
   * Stops taking jobs and lets running activations finish. After `deadlineMs` the steps
   * still running are aborted (their results are not recorded), the results already
   * obtained are stored, and the jobs go back to the queue at once for another worker —
   * without consuming an attempt. Call it on SIGTERM.
   */
  close(deadlineMs = this.opts.closeDeadlineMs): Promise<void> {
    if (!this.closing) this.closing = this.doClose(deadlineMs);
    return this.closing;
  }

  private async doClose(deadlineMs: number): Promise<void> {
    for (const [sig, handler] of this.signalHandlers) process.removeListener(sig, handler);
    await this.ready.catch(() => {});
    for (const act of this.activations.values()) act.markClosing();
    const closed = this.bull.close();
    let finished = false;
    void closed.then(() => {
      finished = true;
    });
    await Promise.race([closed, sleep(deadlineMs)]);
    if (!finished) {
      for (const act of this.activations.values()) act.shutdown();
      await Promise.race([closed, sleep(2000)]);
      if (!finished) await this.bull.close(true).catch(() => {});
    }
    await closed.catch(() => {});
    await this.unsubscribe?.().catch(() => {});
    await this.connection.quit().catch(() => this.connection.disconnect());
    for (const cb of this.closedCallbacks) cb();
  }

  private onControl(message: string): void {
    let m: z.infer<typeof ControlMessage>;
    try {
      m = ControlMessage.parse(JSON.parse(message));
    } catch {
      return;
    }
    const act = this.activations.get(m.id);
    if (act) {
      if (m.t === 'cancel') act.notifyCancel(m.reason);
      else act.terminate();
      return;
    }
    for (const l of this.loading.values()) {
      if (l.id !== m.id) continue;
      if (m.t === 'cancel') l.cancel = m.reason ?? 'cancelled';
      else l.terminate = true;
    }
  }

  private async onJobFailed(job: Job, err: Error): Promise<void> {
    const data = this.engine.parseJobData(job.data);
    if (!data) return;
    try {
      const state = await job.getState();
      if (state !== 'failed') return;
      this.engine.logger.error(
        { workflowId: data.id, err: err.message },
        'workflow activation failed permanently',
      );
      await this.engine.failRecord(
        data.id,
        { name: 'ActivationFailedError', message: `activation failed permanently: ${err.message}` },
        data.runId,
      );
    } catch (e) {
      this.engine.logger.warn({ err: (e as Error).message }, 'could not record failed activation');
    }
  }

  // ------------------------------------------------------------ processing

  private async process(job: Job, token: string | undefined): Promise<null> {
    const engine = this.engine;
    const k = engine.keys;
    if (job.name === SCHEDULE_JOB) {
      await engine.runScheduleTick(job.data, Number(job.opts.prevMillis ?? job.timestamp));
      return null;
    }
    const data = engine.parseJobData(job.data);
    if (!data || !token) {
      engine.logger.error({ jobId: job.id }, 'workflow job without valid data; dropping it');
      return null;
    }
    const { id, runId } = data;
    const began = Date.now();
    const notices: { id: string; cancel?: string; terminate?: boolean } = { id };
    this.loading.set(runId, notices);
    let loaded: unknown[];
    try {
      loaded = (await engine.redis.wfLoad(
        k.rec(id),
        k.hist(runId),
        k.counts,
        runId,
        Date.now(),
      )) as unknown[];
    } finally {
      this.loading.delete(runId);
    }
    if (loaded[0] === 0) return null;
    if (loaded[0] === 1) {
      const [, current, status] = loaded as [number, string, string];
      if (!isTerminal(status)) await engine.ensureJob(id, current, job.name);
      return null;
    }
    if (loaded[0] === 2) {
      // Finished, perhaps by a worker that died before waking the parent: wake it again.
      const parent = await engine.redis.hget(k.rec(id), 'parent');
      if (parent) await engine.wakeParent(parent);
      return null;
    }
    const rec = pairs(loaded[1] as string[]);
    const history = parseHistory(loaded[2] as string[]);
    const name = rec.name ?? '';
    const def = engine.getDefinition(name);
    if (!def) {
      engine.logger.error(
        { workflowId: id, workflow: name },
        'no worker definition for this workflow; retrying later',
      );
      await job.moveToDelayed(Date.now() + this.opts.unknownWorkflowDelayMs, token);
      throw new DelayedError();
    }
    if (notices.terminate) return null;

    let rawInput: unknown;
    try {
      rawInput = JSON.parse(rec.input ?? 'null');
    } catch {
      rawInput = undefined;
    }
    const parsedInput = def.inputSchema.safeParse(rawInput);
    const act = new Activation({
      host: this.host,
      def,
      workflowId: id,
      runId,
      token,
      input: parsedInput.success ? parsedInput.data : undefined,
      history,
      info: {
        workflowId: id,
        runId,
        workflowName: name,
        startedAt: Number(rec.startedAt ?? 0),
        runStartedAt: Number(rec.runStartedAt ?? 0),
        runNumber: Number(rec.runs ?? 1),
      },
      cancelReason: rec.cancel !== undefined ? parseReason(rec.cancel) : (notices.cancel ?? null),
      cancelDelivered: rec.cd !== undefined,
    });
    let outcome: Outcome;
    if (!parsedInput.success) {
      outcome = {
        kind: 'failed',
        error: new InputValidationError(
          `input of workflow "${id}" (${name}) is invalid: ${parsedInput.error.message}`,
        ),
      };
    } else {
      this.activations.set(id, act);
      try {
        if (this.closing) act.markClosing();
        outcome = await act.run();
      } finally {
        this.activations.delete(id);
      }
    }
    return this.finishActivation(job, token, act, rec, outcome, began);
  }

  private async finishActivation(
    job: Job,
    token: string,
    act: Activation,
    rec: Record<string, string>,
    outcome: Outcome,
    began: number,
  ): Promise<null> {
    const engine = this.engine;
    const k = engine.keys;
    const id = act.workflowId;
    const name = rec.name ?? '';
    const report = (o: ActivationEvent['outcome']) =>
      callHook(() =>
        engine.hooks.onActivation?.({
          workflowName: name,
          workflowId: id,
          durationMs: Date.now() - began,
          outcome: o,
        }),
      );
    try {
      switch (outcome.kind) {
        case 'completed':
        case 'failed':
        case 'cancelled': {
          let status: 'completed' | 'failed' | 'cancelled' = outcome.kind;
          let field = 'output';
          let data: string;
          if (outcome.kind === 'completed') {
            try {
              data = JSON.stringify(outcome.output ?? null);
            } catch (err) {
              status = 'failed';
              field = 'error';
              data = JSON.stringify(
                serializeError(
                  new InputValidationError('workflow output is not JSON-serializable', { cause: err }),
                ),
              );
            }
          } else {
            field = 'error';
            const err = outcome.error instanceof Error ? outcome.error : new Error(String(outcome.error));
            data = JSON.stringify(serializeError(err));
          }
          const res = await act.commit(
            'finish',
            { status, field, retention: engine.retentionMs, channel: k.done(id) },
            data,
          );
          if (status === 'failed' && outcome.kind === 'failed') {
            engine.logger.warn(
              { workflowId: id, workflow: name, err: (outcome.error as Error)?.message },
              'workflow failed',
            );
          }
          if (res[1]) await engine.wakeParent(String(res[1]));
          report(status);
          callHook(() =>
            engine.hooks.onWorkflowEnd?.({
              workflowName: name,
              workflowId: id,
              status,
              durationMs: Date.now() - Number(rec.runStartedAt ?? began),
            }),
          );
          return null;
        }
        case 'continue': {
          const newRunId = randomUUID();
          await act.commit('continue', { runId: newRunId }, outcome.input);
          await engine.ensureJob(id, newRunId, name);
          report('continued');
          return null;
        }
        case 'blocked': {
          const waiting = outcome.signals.length > 0 || outcome.children.length > 0;
          const now = Date.now();
          const wakeAt = Math.min(outcome.wakeAt ?? Number.POSITIVE_INFINITY, now + this.opts.maxSuspendMs);
          await act.commit('suspend', {
            status: waiting ? 'waiting' : 'sleeping',
            wakeAt: String(wakeAt),
            waitingFor: JSON.stringify({
              signals: outcome.signals,
              children: outcome.children,
              timer: outcome.timer,
            }),
          });
          await job.moveToDelayed(wakeAt, token);
          // A signal, cancel or child completion that arrived while the job was still
          // active could not promote it: look again now that it is delayed.
          const set: Record<string, true> = {};
          for (const s of outcome.signals) set[s] = true;
          const keys = [k.rec(id), k.sig(id), ...outcome.children.map((c) => k.rec(c))];
          const again = await engine.redis.wfWakeCheck(keys.length, ...keys, act.runId, JSON.stringify(set));
          if (again === 1) await engine.promote(act.runId);
          report('suspended');
          throw new DelayedError();
        }
        case 'shutdown': {
          // Keep what finished; the job goes back to the queue now, for another worker.
          await act.commit('none').catch(() => {});
          await job.moveToDelayed(Date.now(), token);
          report('abandoned');
          throw new DelayedError();
        }
        case 'fenced':
          report('abandoned');
          if (outcome.reason === 'lock') throw new FenceError('lock');
          return null;
        case 'error':
          report('abandoned');
          throw outcome.error;
      }
    } catch (err) {
      if (err instanceof FenceError && err.reason === 'superseded') return null;
      throw err;
    }
  }
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

function parseReason(json: string): string {
  try {
    const v = JSON.parse(json);
    return typeof v === 'string' ? v : 'cancelled';
  } catch {
    return json;
  }
}

function callHook(fn: () => void): void {
  try {
    fn();
  } catch {
    // metrics must never break a workflow
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
