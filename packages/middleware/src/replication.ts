/**
 * A sync workload: runs the source's `read` and the destination's `write`, in stdio mode (records
 * routed through this process) or socket mode (records go straight from source to destination
 * over Unix sockets; this process is the bookkeeper), and keeps the books: committed states,
 * per-stream stats, logs, failures.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AirbyteStateMessage } from '@sluice/protocol';
import type { ConnectorProgram } from '@sluice/runtime/io';
import type { Logger } from 'pino';
import type { WorkloadApi } from './api';
import { ChunkWriter } from './chunk-writer';
import { type ConnectorExit, type RunningConnector, startConnector } from './connectors';
import type { LogBatcher } from './log-batcher';
import { StreamRoutes } from './mapping';
import { type AttemptLog, type FailureReason, failure, MessageHandler } from './messages';
import { type JobOutcome, reasonOf, type SyncOutput } from './output';
import { OutputReader, TextLines } from './output-reader';
import {
  destinationMappingEnv,
  isIdentityMapping,
  SOCKETS_DIR,
  socketModeEnv,
  socketPaths,
  socketPathsFit,
} from './plan-support';
import { errorCode, isTransientError, withRetry } from './retry';
import { StdioRouter } from './router';
import { StateReporter } from './state-reporter';
import { persistableState, recordCountOf, SocketStateTracker, StdioStateTracker } from './state-tracker';
import { type StreamStatsReport, SyncStats } from './stats';
import { StatusForwarder } from './status-forwarder';
import { loadSourceCatalog, loadStreamMapping, type Workdir } from './workdir';

export interface ReplicationOptions {
  workdir: Workdir;
  api: WorkloadApi;
  log: AttemptLog;
  batcher: LogBatcher;
  logger: Logger;
  /** The connection's state generation the input was read at (reportState refuses a stale one). */
  stateGeneration: number | undefined;
  /** Aborted when the workload must stop: cancelled (heartbeat) or the middleware is terminated. */
  signal: AbortSignal;
}

const STDERR_TAIL_LINES = 20;
const DEFAULT_STATE_FLUSH_MS = 5_000;
const DEFAULT_STOP_GRACE_MS = 10_000;
/** After a connector exits, how long its output may still take to close (a grandchild holding it). */
const OUTPUT_CLOSE_GRACE_MS = 5_000;
/** How long the last committed states may wait for the API at the end. */
const FINAL_STATE_DEADLINE_MS = 120_000;
/** How long a source may take to exit once its output is complete and the destination is done. */
const SOURCE_EXIT_GRACE_MS = 60_000;

interface Side {
  program: ConnectorProgram;
  conn: RunningConnector;
  messages: MessageHandler;
  stderrTail: string[];
  exit?: ConnectorExit;
}

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Replication {
  readonly stats = new SyncStats();
  private readonly o: ReplicationOptions;
  private routes!: StreamRoutes;
  /** Source streams under the destination's names, for stream statuses (whoever maps records). */
  private statusRoutes!: StreamRoutes;
  private mode: 'stdio' | 'socket' = 'stdio';
  private socketCount = 0;
  private stdioTracker: StdioStateTracker | undefined;
  private socketTracker: SocketStateTracker | undefined;
  private reporter!: StateReporter;
  private readonly failures: FailureReason[] = [];
  private readonly controlUpdates: Promise<void>[] = [];
  private source!: Side;
  private destination!: Side;
  private readonly started = new Date();
  private destinationEndedEarly = false;
  /** The middleware stopped the source because the destination had ended. */
  private sourceStopped = false;
  private fatal: Error | undefined;
  private sourceStatesOnStdout = 0;
  /** The source's stdout has ended (stdio: every record is routed). */
  private sourceOutputEnded = false;

  constructor(options: ReplicationOptions) {
    this.o = options;
  }

  /** Per-stream counters for heartbeats. */
  streamStats(): StreamStatsReport[] {
    return this.stats.reports();
  }

  async run(): Promise<JobOutcome> {
    const { workdir: w, log } = this.o;
    const catalog = await loadSourceCatalog(w);
    const mapping = await loadStreamMapping(w);
    const sourceProgram = w.connector('source')!;
    const destProgram = w.connector('destination')!;

    const sourceEnv: Record<string, string> = {};
    const destEnv: Record<string, string> = {};
    const removeEnv: string[] = [];
    this.chooseMode(sourceProgram, destProgram, mapping, sourceEnv, destEnv, removeEnv);
    // In stdio mode a destination given the mapping applies it itself; otherwise the router does.
    const destinationMaps =
      this.mode === 'stdio' && !!destProgram.env.SLUICE_STREAM_MAPPING && !removeEnv.length;
    this.routes = new StreamRoutes(catalog, destinationMaps ? undefined : mapping?.mapping);
    this.statusRoutes = new StreamRoutes(catalog, mapping?.mapping);

    this.reporter = new StateReporter({
      send: (states) => this.o.api.reportState(states, this.o.stateGeneration),
      isTransient: isTransientError,
      onRetry: (err) =>
        this.o.logger.warn({ err: (err as Error).message }, 'persisting state failed; will retry'),
      onPermanentFailure: (err) => {
        const msg = `committed state could not be persisted: ${(err as Error).message}`;
        log.platform('ERROR', msg);
        this.failures.push(
          failure('platform', errorCode(err) === 'CONFLICT' ? 'transient_error' : 'system_error', msg),
        );
      },
    });

    log.platform(
      'INFO',
      this.mode === 'socket'
        ? `replication starting in socket mode over ${this.socketCount} socket(s); records go straight from source to destination`
        : `replication starting in stdio mode${this.routes.identity ? '' : ' with stream mapping'}${destinationMaps ? ' (the destination applies the stream mapping)' : ''}`,
    );

    const startOpts = { workDir: w.dir, connectorIo: w.config.connectorIo };
    // Socket mode keeps the destination's stdin for the source's stream statuses. A spawned
    // destination always gets one; a container's stdin pipe is the plan's.
    const destStart =
      this.mode === 'socket' && w.config.connectorIo === 'spawn'
        ? { ...destProgram, stdin: true }
        : destProgram;
    // The destination first: in socket mode it connects to the source's sockets with retries.
    this.destination = this.side(
      destProgram,
      startConnector(destStart, { ...startOpts, extraEnv: destEnv, removeEnv }),
    );
    this.source = this.side(
      sourceProgram,
      startConnector(sourceProgram, { ...startOpts, extraEnv: sourceEnv, removeEnv }),
    );
    log.platform(
      'INFO',
      `source started${this.source.conn.pid ? ` (pid ${this.source.conn.pid})` : ''}, destination started${this.destination.conn.pid ? ` (pid ${this.destination.conn.pid})` : ''}`,
    );

    const flushTimer = setInterval(
      () => void this.reporter.flush(),
      w.config.stateFlushMs ?? DEFAULT_STATE_FLUSH_MS,
    );
    const graceMs = w.config.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    const stopAll = () => {
      this.source.conn.stop(graceMs);
      this.destination.conn.stop(graceMs);
    };
    const onAbort = () => {
      log.platform('WARN', `stopping the connectors: ${String(this.o.signal.reason ?? 'stop requested')}`);
      stopAll();
    };
    if (this.o.signal.aborted) onAbort();
    else this.o.signal.addEventListener('abort', onAbort, { once: true });

    try {
      const outputs = this.mode === 'stdio' ? this.wireStdio(stopAll) : this.wireSocket();
      void this.destination.conn.exit.then((e) => {
        if (this.source.conn.ended) return;
        // stdio: the destination must outlive the source's output. socket: a destination that
        // exits cleanly has read every socket to its end; the source is finishing up.
        const early = this.mode === 'stdio' ? !this.sourceOutputEnded : e.code !== 0;
        if (early) {
          if (e.code === 0) this.destinationEndedEarly = true;
          this.sourceStopped = true;
          if (!this.o.signal.aborted) {
            log.platform(
              'WARN',
              `the destination exited (code ${e.code}) while the source was still running: stopping the source`,
            );
          }
          this.source.conn.stop(graceMs);
        } else {
          setTimeout(() => {
            if (this.source.conn.ended) return;
            log.platform(
              'WARN',
              `the source did not exit within ${SOURCE_EXIT_GRACE_MS / 1000} s of finishing its output: stopping it`,
            );
            this.source.conn.stop(graceMs);
          }, SOURCE_EXIT_GRACE_MS).unref();
        }
      });
      void this.source.conn.exit.then((e) => {
        if (e.code !== 0 && !this.o.signal.aborted) {
          log.platform(
            'WARN',
            `the source exited with code ${e.code}; the destination may still commit what it received`,
          );
        }
      });
      [this.source.exit, this.destination.exit] = await Promise.all([
        this.source.conn.exit,
        this.destination.conn.exit,
      ]);
      await outputs;
    } finally {
      clearInterval(flushTimer);
      this.o.signal.removeEventListener('abort', onAbort);
    }
    log.platform(
      'INFO',
      `source exited with code ${this.source.exit.code}, destination exited with code ${this.destination.exit.code}`,
    );

    if (this.socketTracker && this.destination.exit.code === 0 && !this.o.signal.aborted) {
      // A clean exit means every state the destination echoed is committed, and so is every
      // record it read.
      for (const s of this.socketTracker.releaseAll()) this.committedSocketState(s);
      this.stats.commitAllRead();
    }
    await Promise.allSettled(this.controlUpdates);
    await this.persistFinalState();
    return this.outcome();
  }

  private side(program: ConnectorProgram, conn: RunningConnector): Side {
    const role = program.role;
    const side: Side = {
      program,
      conn,
      stderrTail: [],
      messages: new MessageHandler(role, {
        log: this.o.log,
        ...(role === 'source' ? { stats: this.stats } : {}),
        onControl: (config) => this.control(role as 'source' | 'destination', config),
      }),
    };
    const lines = new TextLines((text) => {
      side.messages.stderr(text);
      side.stderrTail.push(text);
      if (side.stderrTail.length > STDERR_TAIL_LINES) side.stderrTail.shift();
    });
    conn.io.stderr.on('data', (c: Buffer) => lines.push(c));
    conn.io.stderr.on('end', () => lines.end());
    conn.io.stderr.on('error', () => {});
    return side;
  }

  /** Socket mode when both connectors are set up for it (the launcher decided: both support it). */
  private chooseMode(
    source: ConnectorProgram,
    dest: ConnectorProgram,
    mapping: { file: string; mapping: import('@sluice/protocol').StreamMappingFile } | undefined,
    sourceEnv: Record<string, string>,
    destEnv: Record<string, string>,
    removeEnv: string[],
  ): void {
    const w = this.o.workdir;
    const spawn = w.config.connectorIo === 'spawn';
    const envSocket = (p: ConnectorProgram) => p.env.DATA_CHANNEL_MEDIUM === 'SOCKET';
    const wanted = (w.config.socketCount ?? 0) > 0 || envSocket(source) || envSocket(dest);
    if (!wanted) {
      this.mode = 'stdio';
      return;
    }
    const fromEnv = (source.env.DATA_CHANNEL_SOCKET_PATHS ?? dest.env.DATA_CHANNEL_SOCKET_PATHS ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const paths = fromEnv.length > 0 ? fromEnv : socketPaths(w.dir, w.config.socketCount ?? 2);
    const problem = !socketPathsFit(paths)
      ? `socket paths are longer than the ${107} bytes a Unix socket address holds`
      : (source.env.DATA_CHANNEL_SOCKET_PATHS ?? paths.join(',')) !==
          (dest.env.DATA_CHANNEL_SOCKET_PATHS ?? paths.join(','))
        ? 'the source and destination were given different socket paths'
        : undefined;
    if (problem) {
      if (!spawn) throw new Error(`socket mode cannot run: ${problem}`);
      this.o.log.platform('WARN', `socket mode is not possible (${problem}); falling back to stdio`);
      this.mode = 'stdio';
      removeEnv.push(
        'DATA_CHANNEL_MEDIUM',
        'DATA_CHANNEL_FORMAT',
        'DATA_CHANNEL_SOCKET_PATHS',
        'SLUICE_STREAM_MAPPING',
      );
      return;
    }
    const env = socketModeEnv(paths);
    const needsMapping = mapping && !isIdentityMapping(mapping.mapping);
    if (!spawn) {
      // Container runtimes started the connectors with the plan's environment: it must be complete.
      for (const [p, label] of [
        [source, 'source'],
        [dest, 'destination'],
      ] as const) {
        if (!envSocket(p) || !p.env.DATA_CHANNEL_SOCKET_PATHS) {
          throw new Error(
            `socket mode: the plan gives the ${label} no DATA_CHANNEL_MEDIUM=SOCKET and DATA_CHANNEL_SOCKET_PATHS`,
          );
        }
      }
      if (needsMapping && !dest.env.SLUICE_STREAM_MAPPING) {
        throw new Error(
          'socket mode: the destination needs SLUICE_STREAM_MAPPING to apply the stream mapping',
        );
      }
    } else {
      Object.assign(sourceEnv, env);
      Object.assign(destEnv, env);
      if (needsMapping && !dest.env.SLUICE_STREAM_MAPPING) {
        Object.assign(
          destEnv,
          mapping.file === path.join(w.dir, 'destination/streamMapping.json')
            ? destinationMappingEnv(w.dir)
            : { SLUICE_STREAM_MAPPING: mapping.file },
        );
      }
    }
    this.mode = 'socket';
    this.socketCount = paths.length;
    // The source binds its sockets here.
    fs.mkdirSync(path.join(w.dir, SOCKETS_DIR), { recursive: true });
  }

  // ---------------------------------------------------------------------------------------------
  // stdio mode

  private async wireStdio(stopAll: () => void): Promise<void> {
    const { source, destination } = this;
    const stdin = destination.conn.io.stdin;
    if (!stdin) throw new Error('the destination was started without stdin');
    const writer = new ChunkWriter(stdin);
    const tracker = new StdioStateTracker(
      (d) => this.routes.toDestination(d),
      (d) => this.routes.toSource(d),
    );
    this.stdioTracker = tracker;
    const statuses = this.statusForwarder((line) => writer.writeString(line));
    const router = new StdioRouter({
      routes: this.routes,
      stats: this.stats,
      tracker,
      out: writer,
      messages: source.messages,
      log: this.o.log,
      statuses,
    });

    const destOut = new OutputReader({
      messages: destination.messages,
      onState: (echo) => this.echo(echo),
    });
    const destStdout = this.consume(
      destination,
      (c) => destOut.push(c),
      () => destOut.end(),
    );

    const srcOut = source.conn.io.stdout;
    let paused = false;
    const resume = () => {
      if (!paused || writer.needsDrain || this.o.batcher.needsDrain) return;
      paused = false;
      srcOut.resume();
    };
    const backpressure = () => {
      if (paused) return;
      if (writer.needsDrain) {
        paused = true;
        srcOut.pause();
        writer.onResume(resume);
      }
      if (this.o.batcher.needsDrain) {
        paused = true;
        srcOut.pause();
        void this.o.batcher.drain().then(resume);
      }
    };
    const srcStdout = this.consume(
      source,
      (chunk) => {
        if (this.fatal) return;
        try {
          router.push(chunk);
        } catch (err) {
          this.fail(err as Error, stopAll);
          return;
        }
        backpressure();
      },
      () => {
        if (!this.fatal) {
          try {
            router.end();
          } catch (err) {
            this.fail(err as Error, stopAll);
          }
        }
      },
    );
    await srcStdout;
    this.sourceOutputEnded = true;
    // Everything the source printed is routed. Its stream statuses end the input: COMPLETE only
    // when it succeeded, so its exit code is awaited first. Closing stdin then lets the
    // destination finish and commit (also after a failed source: the records before its last
    // state are kept, and no overwrite is swapped in).
    statuses.finish(await this.sourceSucceeded());
    if (this.fatal || this.o.signal.aborted) writer.destroy();
    else await writer.end();
    await destStdout;
  }

  /** The source's stream statuses for the destination, under the destination's names. */
  private statusForwarder(write: (line: string) => void): StatusForwarder {
    const routes = this.statusRoutes;
    return new StatusForwarder({
      write,
      toDestination: (d) => (routes.resolve(d.name, d.namespace) ? routes.toDestination(d) : undefined),
      streams: routes.routes.map((r) => ({ name: r.destName, namespace: r.destNamespace })),
    });
  }

  /**
   * Once the source's output ended: whether it succeeded (exit code 0, no error trace, not
   * stopped). Waits for its exit, which follows its output at once; one that lingers is stopped.
   */
  private async sourceSucceeded(): Promise<boolean> {
    const { source } = this;
    if (!source.conn.ended && !this.fatal && !this.o.signal.aborted) {
      let timer: NodeJS.Timeout | undefined;
      const late = await Promise.race([
        source.conn.exit.then(() => false),
        new Promise<boolean>((r) => {
          timer = setTimeout(() => r(true), SOURCE_EXIT_GRACE_MS);
          timer.unref();
        }),
      ]);
      if (timer) clearTimeout(timer);
      if (late) {
        this.o.log.platform(
          'WARN',
          `the source did not exit within ${SOURCE_EXIT_GRACE_MS / 1000} s of finishing its output: stopping it`,
        );
        source.conn.stop(this.o.workdir.config.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
        return false;
      }
    }
    if (!source.conn.ended) return false;
    const exit = await source.conn.exit;
    return exit.code === 0 && source.messages.errors.length === 0 && !this.fatal && !this.o.signal.aborted;
  }

  private fail(err: Error, stopAll: () => void): void {
    if (this.fatal) return;
    this.fatal = err;
    this.o.log.platform('ERROR', `replication failed: ${err.message}`);
    this.failures.push(failure('replication', 'system_error', err.message));
    stopAll();
  }

  private echo(echo: AirbyteStateMessage): void {
    const tracker = this.stdioTracker!;
    const r = tracker.onEcho(echo, (snap) => this.stats.commit(snap));
    if (r.kind === 'committed') this.reporter.add(r.state);
    else if (r.kind === 'unknown') {
      this.o.log.platform(
        'WARN',
        `the destination echoed a state (id ${r.id ?? 'none'}) that was never sent to it; ignored`,
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // socket mode

  private async wireSocket(): Promise<void> {
    const { source, destination } = this;
    const tracker = new SocketStateTracker();
    this.socketTracker = tracker;
    // The records travel over the sockets; stdin carries the source's stream statuses (as
    // Airbyte's platform forwards them), so the destination knows which streams completed.
    const stdin = destination.conn.io.stdin;
    const writer = stdin ? new ChunkWriter(stdin) : undefined;
    if (!writer) {
      this.o.log.platform(
        'WARN',
        "the destination was started without stdin: the source's stream statuses cannot reach it",
      );
    }
    const statuses = this.statusForwarder((line) => writer?.writeString(line));
    const destOut = new OutputReader({
      messages: destination.messages,
      onState: (echo) => {
        for (const s of tracker.onEcho(echo)) this.committedSocketState(s);
      },
      onReadStats: (r) => this.stats.readByDestination(r.name, r.namespace, r.records, r.bytes),
    });
    const srcOut = new OutputReader({
      messages: source.messages,
      // A source that also prints its states on stdout: only echoed states count.
      onState: () => {
        this.sourceStatesOnStdout++;
      },
      onOther: (m) => {
        if (m.type === 'TRACE' && m.trace?.type === 'STREAM_STATUS') statuses.onStatus(m);
        return false;
      },
    });
    const sourceDone = this.consume(
      source,
      (c) => srcOut.push(c),
      () => {
        this.sourceOutputEnded = true;
        srcOut.end();
      },
    ).then(async () => {
      statuses.finish(await this.sourceSucceeded());
      if (!writer) return;
      if (this.o.signal.aborted) writer.destroy();
      else await writer.end();
    });
    await Promise.all([
      this.consume(
        destination,
        (c) => destOut.push(c),
        () => destOut.end(),
      ),
      sourceDone,
    ]);
  }

  private committedSocketState(s: AirbyteStateMessage): void {
    const records = recordCountOf(s);
    const d =
      s.stream?.stream_descriptor ??
      (s.global?.stream_states.length === 1 ? s.global.stream_states[0]!.stream_descriptor : undefined);
    if (d && records > 0) this.stats.addCommitted(d.name, d.namespace, records);
    this.reporter.add(persistableState(s));
  }

  // ---------------------------------------------------------------------------------------------

  /** Reads a connector's stdout to its end (or until it is closed after the connector exited). */
  private consume(side: Side, onChunk: (c: Buffer) => void, onEnd: () => void): Promise<void> {
    const out = side.conn.io.stdout;
    const done = deferred();
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      onEnd();
      done.resolve();
    };
    out.on('data', onChunk);
    out.once('end', finish);
    out.once('close', finish);
    out.once('error', (err) => {
      this.o.logger.warn({ role: side.program.role, err: err.message }, 'reading connector output failed');
      finish();
    });
    void side.conn.exit.then(async () => {
      await sleep(OUTPUT_CLOSE_GRACE_MS);
      if (!finished) {
        this.o.log.platform('WARN', `${side.program.role} exited but its output stayed open; closing it`);
        out.destroy();
        finish();
      }
    });
    return done.promise;
  }

  private control(role: 'source' | 'destination', config: Record<string, unknown>): void {
    const p = withRetry(() => this.o.api.updateConnectorConfig(role, config), { maxElapsedMs: 60_000 }).then(
      () => this.o.log.platform('INFO', `the ${role}'s updated config was validated and persisted`),
      (err: Error) =>
        this.o.log.platform('WARN', `the ${role}'s updated config was not persisted: ${err.message}`),
    );
    this.controlUpdates.push(p);
  }

  private async persistFinalState(): Promise<void> {
    const deadline = Date.now() + FINAL_STATE_DEADLINE_MS;
    let delay = 200;
    for (;;) {
      await this.reporter.flush();
      if (this.reporter.queued === 0 || this.reporter.error !== undefined) return;
      if (Date.now() + delay > deadline) {
        const msg = `${this.reporter.queued} committed state(s) could not be persisted: the Workload API did not answer for ${FINAL_STATE_DEADLINE_MS / 1000} s`;
        this.o.log.platform('ERROR', msg);
        this.failures.push(failure('platform', 'transient_error', msg));
        return;
      }
      await sleep(delay);
      delay = Math.min(5_000, delay * 2);
    }
  }

  private exitFailure(side: Side): FailureReason | undefined {
    const e = side.exit;
    if (!e || e.code === 0) return undefined;
    const role = side.program.role as 'source' | 'destination';
    const tail = side.stderrTail.slice(-5).join('\n');
    const how = e.error ?? `the ${role} exited with code ${e.code}`;
    return failure(role, 'system_error', how, tail ? { internalMessage: tail } : {});
  }

  private outcome(): JobOutcome {
    const cancelled = this.o.signal.aborted;
    const sourceExit = this.exitFailure(this.source);
    const destExit = this.exitFailure(this.destination);
    // The cause first: a destination that died before the source finished explains the
    // source's exit (the middleware stopped it); otherwise the source's failure comes first.
    const sourceFailures = [...this.source.messages.errors];
    const destFailures = [...this.destination.messages.errors];
    if (!cancelled) {
      // A connector's own error trace explains its exit code better than the code does.
      if (sourceExit && sourceFailures.length === 0 && !this.sourceStopped) sourceFailures.push(sourceExit);
      if (destExit && destFailures.length === 0) destFailures.push(destExit);
      if (this.destinationEndedEarly && !destExit && destFailures.length === 0) {
        destFailures.push(
          failure(
            'destination',
            'system_error',
            'the destination exited before the source finished: not every record was written',
          ),
        );
      }
    }
    const failures: FailureReason[] = this.sourceStopped
      ? [...destFailures, ...sourceFailures]
      : [...sourceFailures, ...destFailures];
    failures.push(...this.failures);

    const t = this.stats.totals();
    const tracker = this.stdioTracker ?? this.socketTracker!;
    const statesEmitted = this.stdioTracker?.statesEmitted ?? this.socketTracker?.statesCommitted ?? 0;
    const output: SyncOutput = {
      type: 'sync',
      status: cancelled ? 'cancelled' : failures.length ? 'failed' : 'succeeded',
      mode: this.mode,
      ...(this.mode === 'socket' ? { socketCount: this.socketCount } : {}),
      startedAt: this.started.toISOString(),
      endedAt: new Date().toISOString(),
      durationMs: Date.now() - this.started.getTime(),
      recordsEmitted: t.recordsEmitted,
      bytesEmitted: t.bytesEmitted,
      recordsCommitted: this.mode === 'socket' ? tracker.recordsCommitted : t.recordsCommitted,
      bytesCommitted: t.bytesCommitted,
      recordsDropped: t.recordsDropped,
      statesEmitted,
      statesCommitted: tracker.statesCommitted,
      statesPersisted: this.reporter.persisted,
      partialSuccess: failures.length > 0 && this.reporter.persisted > 0,
      source: { exitCode: this.source.exit?.code ?? null },
      destination: { exitCode: this.destination.exit?.code ?? null },
      streams: this.stats.reports(),
      streamStatuses: Object.fromEntries(this.source.messages.streamStatuses),
      failures,
    };
    const summary = `${output.recordsEmitted} records emitted, ${output.recordsCommitted} committed, ${output.recordsDropped} dropped; ${output.statesCommitted} states committed, ${output.statesPersisted} persisted; ${(output.durationMs / 1000).toFixed(1)} s`;
    if (cancelled) {
      const reason = String(this.o.signal.reason ?? 'cancelled');
      this.o.log.platform('WARN', `replication cancelled (${reason}): ${summary}`);
      return { kind: 'cancelled', reason, output };
    }
    if (failures.length > 0) {
      this.o.log.platform('ERROR', `replication failed: ${summary}`);
      return { kind: 'failure', reason: reasonOf(failures), output };
    }
    if (this.sourceStatesOnStdout > 0) {
      this.o.log.platform(
        'DEBUG',
        `the source also printed ${this.sourceStatesOnStdout} states on stdout (ignored)`,
      );
    }
    this.o.log.platform('INFO', `replication succeeded: ${summary}`);
    return { kind: 'success', output };
  }
}
