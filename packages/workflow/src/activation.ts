import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  CancelledError,
  deserializeError,
  InputValidationError,
  NonDeterminismError,
  NonRetryableError,
  type SerializedError,
  ShutdownError,
  StepFailedError,
  serializeError,
  TerminatedError,
  TimeoutError,
  WorkflowFailedError,
  WorkflowNotFoundError,
} from './errors';
import { backoffDelay, resolveRetry } from './retry';
import type {
  ChildHandle,
  ChildOptions,
  EngineHooks,
  RetryPolicy,
  SignalMessage,
  StepContext,
  StepOptions,
  WaitForSignalOptions,
  WorkflowContext,
  WorkflowDefinition,
  WorkflowInfoCtx,
} from './types';
import { DEFAULT_RETRY, isTerminal } from './types';

/** One recorded command of a run, stored as JSON under its sequence number. */
export type HistoryEntry =
  | { t: 'step'; n: string; s: 'ok'; a: number; ts: number; v?: unknown }
  | { t: 'step'; n: string; s: 'err'; a: number; ts: number; e: SerializedError; nr?: boolean }
  | { t: 'step'; n: string; s: 'retry'; a: number; ts: number; e: SerializedError; at: number }
  | { t: 'step'; n: string; s: 'cancelled'; ts: number }
  | { t: 'sleep'; until: number; c?: 1 }
  | { t: 'sigw'; names: string[]; d?: number }
  | { t: 'sig'; v?: { n: string; p?: unknown; at: number }; to?: 1; c?: 1 }
  | { t: 'now'; v: number }
  | { t: 'uuid'; v: string }
  | { t: 'child'; id: string; runId?: string; e?: SerializedError }
  | { t: 'childr'; id: string; s: 'ok' | 'err' | 'cancelled'; v?: unknown; e?: SerializedError };

export type Outcome =
  | { kind: 'completed'; output: unknown }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cancelled'; error: unknown }
  | {
      kind: 'blocked';
      wakeAt: number | null;
      signals: string[];
      children: string[];
      timer: boolean;
    }
  | { kind: 'continue'; input: string }
  /** The run was superseded/finished elsewhere, or this worker lost the job's lock. */
  | { kind: 'fenced'; reason: 'lock' | 'superseded' }
  | { kind: 'shutdown' }
  /** Redis failed under us: let BullMQ retry the activation. */
  | { kind: 'error'; error: unknown };

export class FenceError extends Error {
  override name = 'FenceError';
  constructor(readonly reason: 'lock' | 'superseded') {
    super(reason === 'lock' ? 'job lock lost' : 'run superseded or finished');
  }
}

/** What an activation needs from the worker that runs it. */
export interface ActivationHost {
  readonly logger: Logger;
  readonly hooks: EngineHooks;
  readonly inlineWaitMs: number;
  readonly defaultRetry?: Partial<RetryPolicy>;
  commit(
    act: { workflowId: string; runId: string; token: string },
    op: string,
    entries: [string, string][],
    fields: [string, string][],
    opArgs: string,
    opData: string,
  ): Promise<unknown[]>;
  startChild(
    name: string,
    workflowId: string,
    input: unknown,
    idempotent: boolean,
    parent: { workflowId: string; runId: string },
  ): Promise<{ runId: string }>;
  readChild(workflowId: string): Promise<{ status: string; output?: string; error?: string } | null>;
  cancelChild(workflowId: string, reason: string): void;
}

interface Block {
  until?: number;
  signals?: string[];
  child?: string;
}

interface Cmd {
  seq: number;
  done: boolean;
  resolve(value: unknown): void;
  reject(err: unknown): void;
  /** Entry recorded when a cancellation rejects this command; commands without one are not cancellable. */
  cancelEntry?: () => HistoryEntry;
  /** Redis I/O in flight: a cancellation is applied once it returns. */
  busy: boolean;
  cancelAfterIo: boolean;
  inflight: boolean;
  abort?: AbortController;
  block?: Block;
  onCancel?: () => void;
  /** Set while a step attempt runs, for the metrics hook. */
  step?: { name: string; attempt: number; started: number };
}

const NEVER = new Promise<never>(() => {});
const LOG_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

export interface ActivationParams {
  host: ActivationHost;
  def: WorkflowDefinition;
  workflowId: string;
  runId: string;
  token: string;
  input: unknown;
  history: Map<number, HistoryEntry>;
  info: WorkflowInfoCtx;
  cancelReason: string | null;
  cancelDelivered: boolean;
}

/**
 * Runs a workflow function against its recorded history. Commands with a recorded result
 * return it; the first command without one executes (a step), or blocks (a timer or a
 * signal not yet due). When nothing can progress the activation ends as `blocked` and
 * the worker suspends the job; the next activation replays from the top.
 */
export class Activation {
  readonly workflowId: string;
  readonly runId: string;
  readonly token: string;
  private readonly host: ActivationHost;
  private readonly def: WorkflowDefinition;
  private readonly input: unknown;
  private readonly info: WorkflowInfoCtx;
  readonly history: Map<number, HistoryEntry>;
  private maxSeq = -1;
  private readonly buffer = new Map<number, string>();
  private readonly fields = new Map<string, string>();
  private commitChain: Promise<void> = Promise.resolve();

  private cancelRequested: boolean;
  private cancelReason: string | undefined;
  private cancelDelivered: boolean;
  private shuttingDown = false;
  private abandoned: Outcome | null = null;
  private closing = false;

  // Per-replay state.
  private gen = 0;
  private seq = 0;
  private pending = new Set<Cmd>();
  private inflight = 0;
  private settled = true;
  private settleFn: (o: Outcome) => void = () => {};
  private checkScheduled = false;
  private cancelSeen = false;
  private ctxAbort = new AbortController();
  private wakeInline: (() => void) | null = null;

  constructor(p: ActivationParams) {
    this.host = p.host;
    this.def = p.def;
    this.workflowId = p.workflowId;
    this.runId = p.runId;
    this.token = p.token;
    this.input = p.input;
    this.history = p.history;
    this.info = p.info;
    this.cancelRequested = p.cancelReason !== null;
    this.cancelReason = p.cancelReason ?? undefined;
    this.cancelDelivered = p.cancelDelivered;
    for (const k of p.history.keys()) if (k > this.maxSeq) this.maxSeq = k;
  }

  /** Replays until the workflow finishes or blocks on something not due within inlineWaitMs. */
  async run(): Promise<Outcome> {
    for (;;) {
      const outcome = await this.replayOnce();
      if (outcome.kind !== 'blocked' || this.shuttingDown || this.closing) return outcome;
      const wait = outcome.wakeAt === null ? Number.POSITIVE_INFINITY : outcome.wakeAt - Date.now();
      if (wait > this.host.inlineWaitMs) return outcome;
      if (wait > 0) await this.inlineSleep(wait);
      if (this.abandoned) return this.abandoned;
    }
  }

  /** A cancel notice reached this process while the activation runs. */
  notifyCancel(reason: string | undefined): void {
    this.cancelRequested = true;
    this.cancelReason = reason;
    if (this.cancelDelivered) return;
    if (!this.settled) this.deliverCancel();
    this.wakeInline?.();
  }

  /** Worker closing: do not wait in-process for short timers any more. */
  markClosing(): void {
    this.closing = true;
    this.wakeInline?.();
  }

  /** Worker deadline passed: abort running steps without recording them. */
  shutdown(): void {
    this.abandon(new ShutdownError('worker shutting down'), { kind: 'shutdown' });
  }

  /** The record was terminated elsewhere: abort running steps; nothing more is recorded. */
  terminate(): void {
    this.abandon(new TerminatedError('workflow terminated'), { kind: 'fenced', reason: 'superseded' });
  }

  private abandon(reason: Error, outcome: Outcome): void {
    this.shuttingDown = true;
    this.abandoned ??= outcome;
    for (const cmd of this.pending) cmd.abort?.abort(reason);
    this.settle(outcome);
    this.wakeInline?.();
  }

  hasBuffered(): boolean {
    return this.buffer.size > 0 || this.fields.size > 0;
  }

  /**
   * Sends the buffered entries and fields together with `op` in one fenced round trip.
   * Commits are serialised so entries reach Redis in the order they were recorded.
   */
  async commit(op: string, opArgs: object = {}, opData = ''): Promise<unknown[]> {
    const prev = this.commitChain;
    let release!: () => void;
    this.commitChain = new Promise<void>((r) => {
      release = r;
    });
    try {
      await prev;
      if (op === 'none' && !this.hasBuffered()) return [1];
      const entries: [string, string][] = [];
      for (const [seq, json] of this.buffer) entries.push([String(seq), json]);
      const fields: [string, string][] = [...this.fields];
      this.buffer.clear();
      this.fields.clear();
      const res = await this.host.commit(this, op, entries, fields, JSON.stringify(opArgs), opData);
      const code = res[0];
      if (code === -1) throw new FenceError('lock');
      if (code === -2) throw new FenceError('superseded');
      return res;
    } finally {
      release();
    }
  }

  private flush(): Promise<unknown[]> {
    return this.commit('none');
  }

  // ---------------------------------------------------------------- replay machinery

  private replayOnce(): Promise<Outcome> {
    this.gen++;
    this.seq = 0;
    this.pending = new Set();
    this.inflight = 0;
    this.settled = false;
    this.cancelSeen = false;
    this.ctxAbort = new AbortController();
    const gen = this.gen;
    return new Promise<Outcome>((resolve) => {
      this.settleFn = (o) => {
        if (this.settled || gen !== this.gen) return;
        this.settled = true;
        resolve(o);
      };
      const ctx = this.makeContext(gen);
      let p: Promise<unknown>;
      try {
        p = Promise.resolve(this.def.fn(ctx, this.input));
      } catch (err) {
        p = rejected(err);
      }
      p.then(
        (output) => this.settle({ kind: 'completed', output }),
        (err) => {
          if (err instanceof CancelledError) this.settle({ kind: 'cancelled', error: err });
          else this.settle({ kind: 'failed', error: err });
        },
      );
    });
  }

  private settle(o: Outcome): void {
    this.settleFn(o);
  }

  private live(gen: number): boolean {
    return gen === this.gen && !this.settled;
  }

  private get isReplaying(): boolean {
    return this.seq <= this.maxSeq;
  }

  private record(seq: number, entry: HistoryEntry, json?: string): void {
    this.history.set(seq, entry);
    this.buffer.set(seq, json ?? JSON.stringify(entry));
    if (seq > this.maxSeq) this.maxSeq = seq;
  }

  private newCmd<T>(seq: number, cancelEntry?: () => HistoryEntry): { cmd: Cmd; promise: Promise<T> } {
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res as (v: unknown) => void;
      reject = rej;
    });
    const cmd: Cmd = {
      seq,
      done: false,
      busy: false,
      cancelAfterIo: false,
      inflight: false,
      cancelEntry,
      resolve: (v) => {
        if (cmd.done) return;
        cmd.done = true;
        this.pending.delete(cmd);
        resolve(v);
      },
      reject: (e) => {
        if (cmd.done) return;
        cmd.done = true;
        this.pending.delete(cmd);
        reject(e);
      },
    };
    this.pending.add(cmd);
    // A cancellation may reject a command the workflow holds but has not awaited yet; that
    // must not crash the worker as an unhandled rejection. Awaiting it still throws.
    promise.catch(() => {});
    return { cmd, promise };
  }

  private beginInflight(cmd: Cmd): void {
    if (cmd.inflight) return;
    cmd.inflight = true;
    this.inflight++;
  }

  private endInflight(cmd: Cmd): void {
    if (!cmd.inflight) return;
    cmd.inflight = false;
    this.inflight--;
    this.scheduleCheck();
  }

  private block(cmd: Cmd, b: Block): void {
    cmd.block = b;
    this.scheduleCheck();
  }

  /**
   * Quiescence: once the microtasks triggered by the last resolution have run, a workflow
   * with no step running and at least one blocked command cannot progress in this replay.
   */
  private scheduleCheck(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    const gen = this.gen;
    setImmediate(() => {
      this.checkScheduled = false;
      if (!this.live(gen) || this.inflight > 0) return;
      let blocked = [...this.pending].filter((c) => !c.done && c.block);
      if (blocked.length === 0) return;
      if (this.cancelRequested && !this.cancelDelivered) {
        this.deliverCancel();
        // The workflow now runs its handlers; wait for the next quiescence.
        blocked = [...this.pending].filter((c) => !c.done && c.block);
        if (this.cancelDelivered || blocked.length === 0) return;
      }
      let wakeAt: number | null = null;
      const signals = new Set<string>();
      const children: string[] = [];
      let timer = false;
      for (const c of blocked) {
        const b = c.block!;
        if (b.until !== undefined) {
          timer = true;
          wakeAt = wakeAt === null ? b.until : Math.min(wakeAt, b.until);
        }
        for (const s of b.signals ?? []) signals.add(s);
        if (b.child) children.push(b.child);
      }
      this.settle({ kind: 'blocked', wakeAt, signals: [...signals], children, timer });
    });
  }

  private inlineSleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        self.wakeInline = null;
        resolve();
      }
      this.wakeInline = done;
    });
  }

  private nondeterminism(seq: number, issued: string, entry: HistoryEntry): Promise<never> {
    const err = new NonDeterminismError(
      `workflow "${this.def.name}" issued ${issued} as command #${seq}, but its history recorded ${describe(entry)}; ` +
        'workflow code must issue commands in the same order on every replay',
    );
    this.settle({ kind: 'failed', error: err });
    return NEVER;
  }

  private ioFailed(err: unknown): void {
    if (err instanceof FenceError) this.settle({ kind: 'fenced', reason: err.reason });
    else this.settle({ kind: 'error', error: err });
  }

  private markCancelSeen(): void {
    if (this.cancelSeen) return;
    this.cancelSeen = true;
    this.ctxAbort.abort(new CancelledError(this.cancelReason));
  }

  /** Cancels every pending cancellable command; the first delivery is recorded for the run. */
  private deliverCancel(): void {
    this.markCancelSeen();
    let n = 0;
    for (const cmd of [...this.pending]) {
      if (cmd.done || !cmd.cancelEntry) continue;
      if (cmd.busy) {
        cmd.cancelAfterIo = true;
        continue;
      }
      this.cancelCmd(cmd);
      n++;
    }
    if (n > 0) this.markDelivered();
  }

  private cancelCmd(cmd: Cmd): void {
    const err = new CancelledError(this.cancelReason);
    this.record(cmd.seq, cmd.cancelEntry!());
    if (cmd.step) {
      const { name, attempt, started } = cmd.step;
      this.hook('onStep', { step: name, attempt, durationMs: Date.now() - started, outcome: 'cancelled' });
    }
    cmd.abort?.abort(err);
    cmd.onCancel?.();
    cmd.reject(err);
    this.endInflight(cmd);
    this.markDelivered();
  }

  private markDelivered(): void {
    if (this.cancelDelivered) return;
    this.cancelDelivered = true;
    this.fields.set('cd', '1');
  }

  /**
   * With a cancellation requested but not yet delivered, a command without a recorded
   * result neither runs nor waits: it parks until the replay is quiescent, and then every
   * parked command is cancelled together. The set is the same on every replay.
   */
  private parkForCancel(cmd: Cmd): boolean {
    if (!this.cancelRequested || this.cancelDelivered) return false;
    this.block(cmd, {});
    return true;
  }

  // ---------------------------------------------------------------- commands

  private makeContext(gen: number): WorkflowContext {
    const self = this;
    let log: Logger | undefined;
    const makeLog = (): Logger =>
      new Proxy(this.host.logger.child({ workflowId: this.workflowId, runId: this.runId }), {
        get(target, prop, receiver) {
          if (typeof prop === 'string' && LOG_METHODS.has(prop) && self.isReplaying) return () => {};
          return Reflect.get(target, prop, receiver);
        },
      });
    const ctx: WorkflowContext = {
      workflowId: this.workflowId,
      runId: this.runId,
      info: this.info,
      get signal() {
        return self.ctxAbort.signal;
      },
      get cancelled() {
        return self.cancelSeen;
      },
      get isReplaying() {
        return self.isReplaying;
      },
      get log() {
        log ??= makeLog();
        return log;
      },
      step: (name, fn, options) => this.step(gen, name, fn, options),
      sleep: (ms) => this.sleepUntil(gen, 'sleep', Date.now() + Math.max(0, checkMs(ms, 'sleep'))),
      sleepUntil: (date) => this.sleepUntil(gen, 'sleepUntil', toEpoch(date, 'sleepUntil')),
      waitForSignal: <T>(name: string | readonly string[], options?: WaitForSignalOptions) =>
        this.waitForSignal(gen, name, options) as Promise<SignalMessage<T> | null>,
      now: () => this.recorded(gen, 'now', () => Date.now()),
      uuid: () => this.recorded(gen, 'uuid', () => randomUUID()),
      setState: (state) => {
        if (!this.live(gen)) return;
        const json = JSON.stringify(state ?? null);
        this.fields.set('state', json);
      },
      continueAsNew: (input) => this.continueAsNew(gen, input),
      startChild: <O>(
        workflow: string | WorkflowDefinition<z.ZodType, O>,
        id: string,
        input: unknown,
        options?: ChildOptions,
      ) => this.startChild(gen, workflow, id, input, options) as Promise<ChildHandle<O>>,
      executeChild: async <O>(
        workflow: string | WorkflowDefinition<z.ZodType, O>,
        id: string,
        input: unknown,
        options?: ChildOptions,
      ) => {
        const handle = (await this.startChild(gen, workflow, id, input, options)) as ChildHandle<O>;
        return handle.result();
      },
    };
    return ctx;
  }

  private step<T>(
    gen: number,
    name: string,
    fn: (s: StepContext) => Promise<T> | T,
    options: StepOptions = {},
  ): Promise<T> {
    if (!this.live(gen)) return NEVER;
    if (typeof name !== 'string' || name.length === 0) {
      return rejected(new TypeError('ctx.step needs a non-empty name'));
    }
    if (typeof fn !== 'function') return rejected(new TypeError(`ctx.step("${name}") needs a function`));
    const seq = this.seq++;
    const e = this.history.get(seq);
    let attempt = 1;
    let retryAt: number | undefined;
    if (e) {
      if (e.t !== 'step' || e.n !== name) return this.nondeterminism(seq, `step "${name}"`, e);
      switch (e.s) {
        case 'ok':
          return Promise.resolve(e.v as T);
        case 'err':
          return rejected(new StepFailedError(name, e.a, deserializeError(e.e), e.nr === true));
        case 'cancelled':
          this.markCancelSeen();
          return rejected(new CancelledError(this.cancelReason));
        case 'retry':
          attempt = e.a + 1;
          retryAt = e.at;
      }
    }
    const { cmd, promise } = this.newCmd<T>(seq, () => ({
      t: 'step',
      n: name,
      s: 'cancelled',
      ts: Date.now(),
    }));
    if (this.parkForCancel(cmd)) return promise;
    if (retryAt !== undefined && retryAt > Date.now()) {
      this.block(cmd, { until: retryAt });
      return promise;
    }
    if (this.closing) {
      // The worker is closing: start no new step; the run resumes on another worker now.
      this.block(cmd, { until: Date.now() });
      return promise;
    }
    this.runStep(gen, cmd, name, fn as (s: StepContext) => unknown, options, attempt).catch((err) =>
      this.ioFailed(err),
    );
    return promise;
  }

  private async runStep(
    gen: number,
    cmd: Cmd,
    name: string,
    fn: (s: StepContext) => unknown,
    options: StepOptions,
    attempt: number,
  ): Promise<void> {
    const timeoutMs = options.timeoutMs;
    this.beginInflight(cmd);
    try {
      // Results of earlier steps become durable before this step's side effects start.
      try {
        await this.flush();
      } catch (err) {
        this.ioFailed(err);
        return;
      }
      if (cmd.done || !this.live(gen)) return;
      const ac = new AbortController();
      cmd.abort = ac;
      const timer =
        timeoutMs !== undefined && timeoutMs > 0
          ? setTimeout(
              () => ac.abort(new TimeoutError(`step "${name}" timed out after ${timeoutMs} ms`)),
              timeoutMs,
            )
          : undefined;
      const started = Date.now();
      cmd.step = { name, attempt, started };
      const host = this.host;
      const workflowId = this.workflowId;
      let log: Logger | undefined;
      const stepCtx: StepContext = {
        signal: ac.signal,
        attempt,
        stepName: name,
        workflowId,
        runId: this.runId,
        get log() {
          log ??= host.logger.child({ workflowId, step: name, attempt });
          return log;
        },
      };
      let ok = false;
      let value: unknown;
      let error: unknown;
      try {
        value = await raceAbort(
          Promise.resolve().then(() => fn(stepCtx)),
          ac.signal,
        );
        ok = true;
      } catch (err) {
        error = err;
      } finally {
        if (timer) clearTimeout(timer);
        cmd.step = undefined;
      }
      if (cmd.done || this.shuttingDown || !this.live(gen)) return;
      const durationMs = Date.now() - started;
      if (ok) {
        let json: string | undefined;
        try {
          json = JSON.stringify(value);
        } catch (err) {
          ok = false;
          error = new NonRetryableError(`step "${name}" returned a value that is not JSON-serializable`, {
            cause: err,
          });
        }
        if (ok) {
          // The caller gets exactly what a replay will return.
          const v = json === undefined ? undefined : JSON.parse(json);
          const ts = Date.now();
          const entryJson =
            `{"t":"step","n":${JSON.stringify(name)},"s":"ok","a":${attempt},"ts":${ts}` +
            (json === undefined ? '}' : `,"v":${json}}`);
          this.record(cmd.seq, { t: 'step', n: name, s: 'ok', a: attempt, ts, v }, entryJson);
          this.hook('onStep', { step: name, attempt, durationMs, outcome: 'completed' });
          cmd.resolve(v);
          return;
        }
      }
      if (error instanceof ShutdownError) return;
      let policy: RetryPolicy;
      try {
        policy = resolveRetry(this.host.defaultRetry, this.def.options.retry, options.retry);
      } catch (err) {
        // A malformed policy is a bug in the workflow code: fail the step for good.
        error = err;
        policy = { ...DEFAULT_RETRY, maxAttempts: 1 };
      }
      const ser = serializeError(error);
      const errName = error instanceof Error ? error.name : 'Error';
      const nonRetryable =
        error instanceof NonRetryableError ||
        error instanceof CancelledError ||
        policy.nonRetryableErrors.includes(errName);
      if (nonRetryable || attempt >= policy.maxAttempts) {
        this.record(cmd.seq, {
          t: 'step',
          n: name,
          s: 'err',
          a: attempt,
          ts: Date.now(),
          e: ser,
          nr: nonRetryable,
        });
        this.hook('onStep', { step: name, attempt, durationMs, outcome: 'failed' });
        cmd.reject(new StepFailedError(name, attempt, deserializeError(ser), nonRetryable));
        return;
      }
      const at = Date.now() + backoffDelay(policy, attempt);
      this.record(cmd.seq, { t: 'step', n: name, s: 'retry', a: attempt, ts: Date.now(), e: ser, at });
      this.hook('onStep', { step: name, attempt, durationMs, outcome: 'retrying' });
      cmd.abort = undefined;
      this.block(cmd, { until: at });
    } finally {
      this.endInflight(cmd);
    }
  }

  private sleepUntil(gen: number, what: string, until: number): Promise<void> {
    if (!this.live(gen)) return NEVER;
    const seq = this.seq++;
    const e = this.history.get(seq);
    if (e) {
      if (e.t !== 'sleep') return this.nondeterminism(seq, what, e);
      if (e.c) {
        this.markCancelSeen();
        return rejected(new CancelledError(this.cancelReason));
      }
      until = e.until;
    } else {
      this.record(seq, { t: 'sleep', until });
    }
    if (Date.now() >= until) return Promise.resolve();
    const { cmd, promise } = this.newCmd<void>(seq, () => ({ t: 'sleep', until, c: 1 }));
    if (this.parkForCancel(cmd)) return promise;
    this.block(cmd, { until });
    return promise;
  }

  private waitForSignal(
    gen: number,
    nameOrNames: string | readonly string[],
    options: WaitForSignalOptions = {},
  ): Promise<SignalMessage | null> {
    if (!this.live(gen)) return NEVER;
    const names = typeof nameOrNames === 'string' ? [nameOrNames] : [...nameOrNames];
    if (
      names.length === 0 ||
      names.some((n) => typeof n !== 'string' || n.length === 0 || n.includes('\n'))
    ) {
      return rejected(new TypeError('waitForSignal needs signal names: non-empty strings without newlines'));
    }
    const seq = this.seq++;
    const e = this.history.get(seq);
    let deadline: number | undefined;
    if (e) {
      if (e.t === 'sig') {
        if (e.c) {
          this.markCancelSeen();
          return rejected(new CancelledError(this.cancelReason));
        }
        if (e.to || !e.v) return Promise.resolve(null);
        if (!names.includes(e.v.n)) return this.nondeterminism(seq, `waitForSignal(${names.join(',')})`, e);
        return Promise.resolve(toSignal(e.v));
      }
      if (e.t !== 'sigw' || e.names.join('\n') !== names.join('\n')) {
        return this.nondeterminism(seq, `waitForSignal(${names.join(',')})`, e);
      }
      deadline = e.d;
    } else if (options.timeout !== undefined) {
      deadline = Date.now() + Math.max(0, checkMs(options.timeout, 'waitForSignal timeout'));
    } else if (options.until !== undefined) {
      deadline = toEpoch(options.until, 'waitForSignal until');
    }
    const { cmd, promise } = this.newCmd<SignalMessage | null>(seq, () => ({ t: 'sig', c: 1 }));
    if (this.parkForCancel(cmd)) return promise;
    this.takeSignal(gen, cmd, names, deadline, !e).catch((err) => this.ioFailed(err));
    return promise;
  }

  private async takeSignal(
    gen: number,
    cmd: Cmd,
    names: string[],
    deadline: number | undefined,
    firstTime: boolean,
  ): Promise<void> {
    this.beginInflight(cmd);
    cmd.busy = true;
    try {
      const timedOut = deadline !== undefined && Date.now() >= deadline;
      const set: Record<string, true> = {};
      for (const n of names) set[n] = true;
      const args: Record<string, unknown> = { seq: String(cmd.seq), names: set };
      if (timedOut) args.timeout = '{"t":"sig","to":1}';
      else if (firstTime) args.pending = JSON.stringify({ t: 'sigw', names, d: deadline });
      let res: unknown[];
      try {
        res = await this.commit('take', args);
      } catch (err) {
        this.ioFailed(err);
        return;
      }
      cmd.busy = false;
      if (!this.live(gen)) return;
      if (cmd.seq > this.maxSeq) this.maxSeq = cmd.seq;
      if (res[1] === 'signal') {
        const raw = String(res[2]);
        const v = JSON.parse(raw.slice(raw.indexOf('\n') + 1)) as { n: string; p?: unknown; at: number };
        this.history.set(cmd.seq, { t: 'sig', v });
        cmd.resolve(toSignal(v));
        return;
      }
      if (res[1] === 'timeout') {
        this.history.set(cmd.seq, { t: 'sig', to: 1 });
        cmd.resolve(null);
        return;
      }
      if (firstTime) this.history.set(cmd.seq, { t: 'sigw', names, d: deadline });
      if (cmd.cancelAfterIo || (this.cancelRequested && !this.cancelDelivered)) {
        this.cancelCmd(cmd);
        return;
      }
      this.block(cmd, { until: deadline, signals: names });
    } finally {
      cmd.busy = false;
      this.endInflight(cmd);
    }
  }

  private recorded<T extends number | string>(gen: number, kind: 'now' | 'uuid', make: () => T): T {
    if (!this.live(gen)) return make();
    const seq = this.seq++;
    const e = this.history.get(seq);
    if (e) {
      if (e.t !== kind) {
        void this.nondeterminism(seq, `ctx.${kind}()`, e);
        return make();
      }
      return e.v as T;
    }
    const v = make();
    this.record(seq, kind === 'now' ? { t: 'now', v: v as number } : { t: 'uuid', v: v as string });
    return v;
  }

  private continueAsNew(gen: number, input: unknown): Promise<never> {
    if (!this.live(gen)) return NEVER;
    const parsed = this.def.inputSchema.safeParse(input);
    if (!parsed.success) {
      return rejected(
        new InputValidationError(
          `continueAsNew input for "${this.def.name}" is invalid: ${parsed.error.message}`,
        ),
      );
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(input);
    } catch (err) {
      return rejected(
        new InputValidationError('continueAsNew input is not JSON-serializable', { cause: err }),
      );
    }
    this.settle({ kind: 'continue', input: json ?? 'null' });
    return NEVER;
  }

  private startChild(
    gen: number,
    workflow: string | WorkflowDefinition,
    childId: string,
    input: unknown,
    options: ChildOptions = {},
  ): Promise<ChildHandle> {
    if (!this.live(gen)) return NEVER;
    const name = typeof workflow === 'string' ? workflow : workflow.name;
    if (typeof childId !== 'string' || childId.length === 0) {
      return rejected(new TypeError('startChild needs a non-empty child workflow id'));
    }
    const seq = this.seq++;
    const e = this.history.get(seq);
    if (e) {
      if (e.t !== 'child' || e.id !== childId) return this.nondeterminism(seq, `startChild("${childId}")`, e);
      if (e.e) return rejected(deserializeError(e.e));
      return Promise.resolve(this.childHandle(gen, childId, e.runId!));
    }
    const { cmd, promise } = this.newCmd<ChildHandle>(seq);
    void (async () => {
      this.beginInflight(cmd);
      try {
        try {
          await this.flush();
        } catch (err) {
          this.ioFailed(err);
          return;
        }
        if (!this.live(gen)) return;
        let runId: string;
        try {
          if (typeof workflow !== 'string') {
            const parsed = workflow.inputSchema.safeParse(input);
            if (!parsed.success) {
              throw new InputValidationError(
                `input for child "${childId}" (${name}) is invalid: ${parsed.error.message}`,
              );
            }
          }
          ({ runId } = await this.host.startChild(name, childId, input, options.idempotent ?? true, {
            workflowId: this.workflowId,
            runId: this.runId,
          }));
        } catch (err) {
          if (!this.live(gen)) return;
          if (err instanceof NonRetryableError || err instanceof TypeError || isUserError(err)) {
            this.record(seq, { t: 'child', id: childId, e: serializeError(err) });
            cmd.reject(err);
          } else {
            this.ioFailed(err);
          }
          return;
        }
        if (!this.live(gen)) return;
        this.record(seq, { t: 'child', id: childId, runId });
        cmd.resolve(this.childHandle(gen, childId, runId));
      } finally {
        this.endInflight(cmd);
      }
    })().catch((err) => this.ioFailed(err));
    return promise;
  }

  private childHandle(gen: number, childId: string, runId: string): ChildHandle {
    return {
      workflowId: childId,
      runId,
      result: () => this.childResult(gen, childId),
    };
  }

  private childResult(gen: number, childId: string): Promise<unknown> {
    if (!this.live(gen)) return NEVER;
    const seq = this.seq++;
    const e = this.history.get(seq);
    if (e) {
      if (e.t !== 'childr' || e.id !== childId)
        return this.nondeterminism(seq, `child("${childId}").result()`, e);
      return replayChildResult(e, () => {
        this.markCancelSeen();
        return this.cancelReason;
      });
    }
    const { cmd, promise } = this.newCmd<unknown>(seq, () => ({ t: 'childr', id: childId, s: 'cancelled' }));
    cmd.onCancel = () => this.host.cancelChild(childId, this.cancelReason ?? 'parent cancelled');
    if (this.parkForCancel(cmd)) return promise;
    void (async () => {
      this.beginInflight(cmd);
      cmd.busy = true;
      try {
        let child: Awaited<ReturnType<ActivationHost['readChild']>>;
        try {
          child = await this.host.readChild(childId);
        } catch (err) {
          this.ioFailed(err);
          return;
        }
        cmd.busy = false;
        if (!this.live(gen)) return;
        let entry: HistoryEntry | null = null;
        if (!child) {
          entry = {
            t: 'childr',
            id: childId,
            s: 'err',
            e: serializeError(new WorkflowNotFoundError(childId)),
          };
        } else if (child.status === 'completed') {
          entry = { t: 'childr', id: childId, s: 'ok', v: child.output ? JSON.parse(child.output) : null };
        } else if (child.status === 'failed') {
          entry = { t: 'childr', id: childId, s: 'err', e: parseSerialized(child.error) };
        } else if (child.status === 'cancelled') {
          entry = { t: 'childr', id: childId, s: 'cancelled' };
        }
        if (entry) {
          this.record(seq, entry);
          replayChildResult(entry, () => this.cancelReason).then(cmd.resolve, cmd.reject);
          return;
        }
        if (cmd.cancelAfterIo) {
          this.cancelCmd(cmd);
          return;
        }
        this.block(cmd, { child: childId });
      } finally {
        cmd.busy = false;
        this.endInflight(cmd);
      }
    })().catch((err) => this.ioFailed(err));
    return promise;
  }

  private hook(
    name: 'onStep',
    e: {
      step: string;
      attempt: number;
      durationMs: number;
      outcome: 'completed' | 'retrying' | 'failed' | 'cancelled';
    },
  ): void {
    const fn = this.host.hooks[name];
    if (!fn) return;
    try {
      fn({ workflowName: this.def.name, workflowId: this.workflowId, ...e });
    } catch {
      // metrics must never break a workflow
    }
  }
}

function rejected(err: unknown): Promise<never> {
  const p = Promise.reject(err);
  p.catch(() => {});
  return p;
}

function replayChildResult(
  e: Extract<HistoryEntry, { t: 'childr' }>,
  onCancelled: () => string | undefined,
): Promise<unknown> {
  if (e.s === 'ok') return Promise.resolve(e.v);
  if (e.s === 'cancelled') return rejected(new CancelledError(onCancelled() ?? `child "${e.id}" cancelled`));
  const failure = e.e ?? { name: 'Error', message: 'child failed' };
  if (failure.name === 'WorkflowNotFoundError') return rejected(new WorkflowNotFoundError(e.id));
  return rejected(new WorkflowFailedError(e.id, failure));
}

function parseSerialized(json: string | undefined): SerializedError {
  if (!json) return { name: 'Error', message: 'unknown failure' };
  try {
    return JSON.parse(json) as SerializedError;
  } catch {
    return { name: 'Error', message: json };
  }
}

function isUserError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'WorkflowExistsError' || err.name === 'InputValidationError');
}

function toSignal(v: { n: string; p?: unknown; at: number }): SignalMessage {
  return { name: v.n, payload: v.p, sentAt: v.at };
}

function describe(e: HistoryEntry): string {
  switch (e.t) {
    case 'step':
      return `step "${e.n}"`;
    case 'sigw':
      return `waitForSignal(${e.names.join(',')})`;
    case 'sig':
      return e.v ? `signal "${e.v.n}"` : 'waitForSignal';
    case 'child':
      return `startChild("${e.id}")`;
    case 'childr':
      return `child("${e.id}").result()`;
    default:
      return e.t;
  }
}

function checkMs(ms: number, what: string): number {
  if (typeof ms !== 'number' || Number.isNaN(ms))
    throw new TypeError(`${what} needs a number of milliseconds`);
  return ms;
}

function toEpoch(date: Date | number, what: string): number {
  const t = date instanceof Date ? date.getTime() : date;
  if (typeof t !== 'number' || Number.isNaN(t))
    throw new TypeError(`${what} needs a Date or epoch milliseconds`);
  return t;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

export function parseHistory(flat: string[]): Map<number, HistoryEntry> {
  const m = new Map<number, HistoryEntry>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    m.set(Number(flat[i]), JSON.parse(flat[i + 1]!) as HistoryEntry);
  }
  return m;
}

export { isTerminal };
