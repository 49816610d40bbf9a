import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { parseSdkEnv } from '../env';
import { type DecodedLine, JsonlDecoder, type LineReader } from '../jsonl/decode';
import type { BufferedLineWriter } from '../jsonl/encode';
import type { AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog } from '../schema';
import { type CommandContext, type CommonDefinition, type Connector, createConnector } from './connector';
import { ConnectorError } from './errors';
import { loadCatalog } from './files';
import { logMessage } from './messages';
import { connectToSockets, dataChannelMode } from './socket';
import { CatalogIndex, StreamMapper, streamKey, streamLabel } from './streams';

/** Messages from one channel, in the order they arrived. */
export interface WriteBatch {
  /**
   * Data channel: 0 for stdin, the socket index in socket mode. Batches of the control channel
   * (stdin in socket mode) say 0 too, so a handler indexing per-partition state needs no case
   * for them; `control` tells them apart.
   */
  partition: number;
  /** Socket mode: the batch came from stdin, where the platform forwards the source's stream
   * statuses (TRACE messages only; no records or states). */
  control?: boolean;
  /**
   * RECORDs (already mapped when a stream mapping is set, and checked against the catalog),
   * STATEs, and whatever else the platform forwarded (e.g. TRACE stream statuses, whose stream
   * descriptors are mapped like records).
   */
  messages: AirbyteMessage[];
  /** How many of `messages` are RECORDs. */
  records: number;
  /** Input bytes of this batch's messages. */
  bytes: number;
}

export interface WriteContext<C> extends CommandContext<C> {
  catalog: ConfiguredAirbyteCatalog;
  /** Configured streams by name and namespace. */
  streams: CatalogIndex;
  /**
   * The records and states to write, from stdin or from every socket, as batches. Consume
   * it to the end; a bad input line ends it with an error naming the line.
   */
  input: AsyncIterable<WriteBatch>;
  /**
   * Acknowledges a STATE (the message or its `state`) once every record before it on its
   * partition is durable. The SDK echoes it on stdout with `destinationStats.recordCount`;
   * in socket mode echoes follow the states' `id` order across sockets.
   */
  ack(state: AirbyteMessage | AirbyteStateMessage): void;
  medium: 'STDIO' | 'SOCKET';
  partitions: number;
  /** The platform's stream mapping (SLUICE_STREAM_MAPPING), which the SDK applies to records. */
  mapping: StreamMapper | undefined;
  /**
   * Lets the destination read RECORD lines itself: a line it takes skips the SDK's JSON parse
   * (see {@link LineReader}); the record it returns must carry the destination's stream names,
   * with `mapping` applied. Lines it leaves are parsed as usual. Data channels are read only
   * once `input` is iterated, so a reader set before that sees every line.
   */
  readRecordsWith(reader: LineReader): void;
}

export interface DestinationDefinition<C = Record<string, unknown>> extends CommonDefinition<C> {
  write(ctx: WriteContext<C>): Promise<void>;
}

/** What the SDK knows about a received state, for its echo. */
interface StateMeta {
  partition: number;
  records: number;
  acked: boolean;
}

interface Partition {
  index: number;
  label: string;
  /** Socket mode's stdin: stream statuses from the platform, not data. */
  control: boolean;
  stream: Readable;
  decoder: JsonlDecoder;
  recordsSinceState: number;
  records: number;
  bytes: number;
  states: number;
  ended: boolean;
}

const QUEUE_HIGH = 32;
const QUEUE_LOW = 8;
/** Socket mode: once every socket ended, how long the platform may take to close stdin. */
const CONTROL_GRACE_MS = 5_000;
/** Socket mode: how often the per-stream counts read so far are reported on stdout. */
const STATS_INTERVAL_MS = 2_000;
/** Warnings about stray lines on the control channel, at most. */
const MAX_CONTROL_WARNINGS = 10;

/** Records and bytes of one source stream read from the sockets. */
interface StreamReadStats {
  name: string;
  namespace: string | undefined;
  records: number;
  bytes: number;
}

export interface DestinationInputOptions {
  /** Socket mode: once every socket ended, how long to wait for stdin to end. Default 5 s. */
  controlGraceMs?: number;
  /** Socket mode: how often to report read counts on stdout. Default 2 s; 0: only at the end. */
  statsIntervalMs?: number;
}

/** The write handler's input: decodes, checks and maps every line, queues batches with backpressure. */
export class DestinationInput implements AsyncIterable<WriteBatch> {
  private readonly partitions: Partition[] = [];
  private queue: WriteBatch[] = [];
  private head = 0;
  private paused = false;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private iterated = false;
  private abandoned = false;
  private readonly metas = new WeakMap<object, StateMeta>();
  private readonly heldEchoes = new Map<number, AirbyteStateMessage>();
  private nextEchoId = 1;
  private flushScheduled = false;
  private statesEchoed = 0;
  private control: Partition | undefined;
  /** The control channel is no longer read: it ended, or every socket ended a while ago. */
  private controlDone = true;
  private controlTimer: NodeJS.Timeout | undefined;
  private controlWarnings = 0;
  private readonly readStats = new Map<string, StreamReadStats>();
  private statsDirty = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly controlGraceMs: number;
  private reader: LineReader | undefined;

  constructor(
    private readonly stdout: BufferedLineWriter,
    private readonly catalog: CatalogIndex,
    private readonly mapper: StreamMapper | undefined,
    private readonly socketMode: boolean,
    private readonly maxLineBytes: number | undefined,
    options: DestinationInputOptions = {},
  ) {
    this.controlGraceMs = options.controlGraceMs ?? CONTROL_GRACE_MS;
    const every = options.statsIntervalMs ?? STATS_INTERVAL_MS;
    if (socketMode && every > 0) {
      this.statsTimer = setInterval(() => this.reportReadStats(), every);
      this.statsTimer.unref();
    }
  }

  /** Data channels' lines are offered to `reader` before they are parsed (not the control channel's). */
  readRecordsWith(reader: LineReader): void {
    this.reader = reader;
    for (const p of this.partitions) p.decoder.reader = reader;
  }

  attach(stream: Readable, label: string): void {
    const p: Partition = {
      index: this.partitions.length,
      label,
      control: false,
      stream,
      decoder: new JsonlDecoder({ maxLineBytes: this.maxLineBytes }),
      recordsSinceState: 0,
      records: 0,
      bytes: 0,
      states: 0,
      ended: false,
    };
    p.decoder.reader = this.reader;
    this.partitions.push(p);
    // Nothing is read before the handler starts iterating: it may still be preparing what its
    // line reader needs, and unread input holds the source back instead of filling memory.
    stream.pause();
    stream.on('data', (chunk: Buffer) => this.onChunk(p, chunk));
    stream.on('end', () => this.onEnd(p));
    stream.on('error', (err) => this.fail(new ConnectorError(`reading ${label} failed: ${err.message}`)));
  }

  /**
   * Socket mode: stdin, where the platform forwards the source's stream statuses (Airbyte's
   * platform does; a destination learns from them which streams completed). It is read beside
   * the sockets; once every socket ended, it is read until it ends, for `controlGraceMs` at most.
   */
  attachControl(stream: Readable, label = 'stdin'): void {
    const p: Partition = {
      index: 0,
      label,
      control: true,
      stream,
      decoder: new JsonlDecoder({ maxLineBytes: this.maxLineBytes }),
      recordsSinceState: 0,
      records: 0,
      bytes: 0,
      states: 0,
      ended: false,
    };
    this.control = p;
    this.controlDone = false;
    const onData = (chunk: Buffer) => {
      if (this.failure || this.controlDone) return;
      this.controlLines(p, p.decoder.push(chunk));
      if (p.decoder.error) {
        this.controlWarn(`${label}: ${p.decoder.error.message}; no more of it is read`);
        this.endControl();
      }
    };
    const onEnd = () => {
      if (this.controlDone) return;
      try {
        this.controlLines(p, p.decoder.end());
      } catch (err) {
        this.controlWarn(`${label}: ${(err as Error).message}`);
      }
      this.endControl();
    };
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('error', (err) => {
      this.controlWarn(`reading ${label} failed: ${err.message}`);
      this.endControl();
    });
  }

  /** TRACE messages from the control channel are queued; anything else is said and skipped. */
  private controlLines(p: Partition, lines: DecodedLine[]): void {
    const messages: AirbyteMessage[] = [];
    let bytes = 0;
    for (const d of lines) {
      if (d.kind !== 'message') {
        this.controlWarn(`${p.label} line ${d.line} is not an Airbyte message (${d.error}); skipped`);
        continue;
      }
      if (d.message.type !== 'TRACE') {
        this.controlWarn(
          `${p.label} line ${d.line}: a ${d.message.type} message on ${p.label} in socket mode is not read; skipped`,
        );
        continue;
      }
      messages.push(this.mapStatus(d.message));
      bytes += d.bytes;
    }
    if (messages.length > 0) this.enqueue({ partition: 0, control: true, messages, records: 0, bytes });
  }

  private controlWarn(message: string): void {
    if (this.controlWarnings++ >= MAX_CONTROL_WARNINGS) return;
    this.stdout.writeMessage(logMessage('WARN', message));
    this.scheduleFlush();
  }

  private endControl(): void {
    if (this.controlDone) return;
    this.controlDone = true;
    if (this.controlTimer) clearTimeout(this.controlTimer);
    const p = this.control;
    if (p) {
      p.ended = true;
      p.stream.pause();
      // stdin must not keep the process alive once it is not read any more.
      (p.stream as Readable & { unref?: () => void }).unref?.();
    }
    this.notify();
  }

  /**
   * A stream status gets the destination's stream names. Sluice's platform sends them so named
   * already (a configured stream: kept); a status naming a source stream of the mapping instead
   * is mapped as its records are.
   */
  private mapStatus(m: AirbyteMessage): AirbyteMessage {
    const s = m.trace?.stream_status;
    if (!this.mapper || !s) return m;
    const d = s.stream_descriptor;
    if (this.catalog.get(d.name, d.namespace)) return m;
    const mapped = this.mapper.mapDescriptor(d);
    if (!mapped) return m;
    return { ...m, trace: { ...m.trace!, stream_status: { ...s, stream_descriptor: mapped } } };
  }

  /** Counts of the records read per source stream (Airbyte's socket-mode stats message). */
  private countRead(name: string, namespace: string | undefined, bytes: number): void {
    const key = streamKey(name, namespace);
    let c = this.readStats.get(key);
    if (!c) {
      c = { name, namespace, records: 0, bytes: 0 };
      this.readStats.set(key, c);
    }
    c.records++;
    c.bytes += bytes;
    this.statsDirty = true;
  }

  /**
   * Socket mode: the platform never sees the records, so the destination reports what it read,
   * as Airbyte's destinations do: a RECORD per source stream flagged `isDummyStatsMessage`,
   * with cumulative `emittedRecordsCount` and `emittedBytesCount`. Only a platform reads it.
   */
  private reportReadStats(): void {
    if (!this.statsDirty) return;
    this.statsDirty = false;
    const now = Date.now();
    for (const c of this.readStats.values()) {
      this.stdout.writeMessage({
        type: 'RECORD',
        record: {
          stream: c.name,
          ...(c.namespace === undefined ? {} : { namespace: c.namespace }),
          data: {},
          emitted_at: now,
          isDummyStatsMessage: true,
          emittedRecordsCount: c.records,
          emittedBytesCount: c.bytes,
        },
      });
    }
    this.scheduleFlush();
  }

  private onChunk(p: Partition, chunk: Buffer): void {
    if (this.failure) return;
    try {
      const lines = p.decoder.push(chunk);
      if (lines.length > 0) this.enqueueLines(p, lines);
      if (p.decoder.error) throw this.lineError(p, p.decoder.error);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private onEnd(p: Partition): void {
    if (this.failure) return;
    try {
      const lines = p.decoder.end();
      if (lines.length > 0) this.enqueueLines(p, lines);
    } catch (err) {
      this.fail(this.lineError(p, err as Error));
      return;
    }
    p.ended = true;
    this.notify();
  }

  private lineError(p: Partition, err: Error): Error {
    return err instanceof ConnectorError ? err : new ConnectorError(`${p.label}: ${err.message}`);
  }

  /**
   * Turns decoded lines into a batch. On a bad line the lines before it are still queued,
   * so states among them can be written and acknowledged, then the error is thrown.
   */
  private enqueueLines(p: Partition, lines: DecodedLine[]): void {
    const messages: AirbyteMessage[] = [];
    let records = 0;
    let bytes = 0;
    try {
      for (const d of lines) {
        const m = this.check(p, d);
        messages.push(m);
        if (d.kind === 'message') bytes += d.bytes;
        if (m.type === 'RECORD') records++;
      }
    } finally {
      p.records += records;
      p.bytes += bytes;
      if (messages.length > 0) this.enqueue({ partition: p.index, messages, records, bytes });
    }
  }

  private check(p: Partition, d: DecodedLine): AirbyteMessage {
    if (d.kind !== 'message') throw this.badLine(p, d);
    const m = d.message;
    if (m.type === 'RECORD') {
      const r = m.record;
      if (!r) throw new ConnectorError(`${p.label} line ${d.line}: RECORD message without a record`);
      const source = d.source;
      if (this.socketMode)
        this.countRead(source ? source.name : r.stream, source ? source.namespace : r.namespace, d.bytes);
      if (this.mapper && !source) this.mapper.map(r);
      if (!this.catalog.get(r.stream, r.namespace)) {
        throw new ConnectorError(
          `${p.label} line ${d.line}: record for stream "${streamLabel(r.stream, r.namespace)}", which is not in the configured catalog (configured: ${this.catalog.labels().join(', ') || 'none'})`,
        );
      }
      p.recordsSinceState++;
    } else if (m.type === 'STATE') {
      const s = m.state;
      if (!s) throw new ConnectorError(`${p.label} line ${d.line}: STATE message without a state`);
      const claimed = s.sourceStats?.recordCount;
      if (this.socketMode && claimed !== undefined && claimed !== p.recordsSinceState) {
        throw new ConnectorError(
          `${p.label} line ${d.line}: state id ${String(s.id)} says ${claimed} records preceded it on this socket, but ${p.recordsSinceState} arrived`,
        );
      }
      this.metas.set(s, { partition: p.index, records: p.recordsSinceState, acked: false });
      p.recordsSinceState = 0;
      p.states++;
    } else if (m.type === 'TRACE') {
      return this.mapStatus(m);
    }
    return m;
  }

  private badLine(p: Partition, d: Exclude<DecodedLine, { kind: 'message' }>): ConnectorError {
    const what =
      d.kind === 'not_json'
        ? 'is not valid JSON'
        : d.kind === 'invalid_utf8'
          ? 'is not valid UTF-8'
          : 'is not an Airbyte message';
    return new ConnectorError(`${p.label} line ${d.line} ${what}: ${d.error}`, {
      internalMessage: `line starts with: ${d.text.slice(0, 120)}`,
    });
  }

  private enqueue(batch: WriteBatch): void {
    this.queue.push(batch);
    if (!this.paused && this.queue.length - this.head >= QUEUE_HIGH) {
      this.paused = true;
      for (const p of this.partitions) p.stream.pause();
      this.control?.stream.pause();
    }
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.partitions) p.stream.pause();
    this.endControl();
    this.notify();
  }

  /** Every data channel ended (and the control channel is done with). */
  private get allEnded(): boolean {
    if (!this.partitions.every((p) => p.ended)) return false;
    if (!this.controlDone && !this.controlTimer) {
      // The sockets ended: the platform closes stdin right after the source's last statuses.
      this.controlTimer = setTimeout(() => this.endControl(), this.controlGraceMs);
      this.controlTimer.unref();
    }
    return this.controlDone;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WriteBatch> {
    if (this.iterated) throw new Error('the write input can be iterated only once');
    this.iterated = true;
    if (!this.paused) for (const p of this.partitions) if (!p.ended) p.stream.resume();
    try {
      for (;;) {
        if (this.head < this.queue.length) {
          const batch = this.queue[this.head]!;
          this.queue[this.head] = undefined as never;
          this.head++;
          if (this.head > 1024 && this.head * 2 > this.queue.length) {
            this.queue = this.queue.slice(this.head);
            this.head = 0;
          }
          if (this.paused && this.queue.length - this.head <= QUEUE_LOW) {
            this.paused = false;
            for (const p of this.partitions) if (!p.ended) p.stream.resume();
            if (this.control && !this.controlDone) this.control.stream.resume();
          }
          yield batch;
          continue;
        }
        // Batches queued before a failure are delivered first: their states may still be acked.
        if (this.failure) throw this.failure;
        if (this.allEnded) return;
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    } finally {
      if (!this.failure && !(this.allEnded && this.head >= this.queue.length)) this.abandoned = true;
      this.endControl();
      this.closeStats();
    }
  }

  /** The last read counts (socket mode), and no more timer. */
  private closeStats(): void {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.statsTimer = undefined;
    this.reportReadStats();
  }

  ack(input: AirbyteMessage | AirbyteStateMessage): void {
    const state = isStateEnvelope(input) ? input.state : (input as AirbyteStateMessage);
    const meta = state ? this.metas.get(state) : undefined;
    if (!state || !meta)
      throw new Error('ack() needs a STATE message (or its state) received from this input');
    if (meta.acked) return;
    meta.acked = true;
    const echo: AirbyteStateMessage = {
      ...state,
      destinationStats: { ...state.destinationStats, recordCount: meta.records },
    };
    const id = state.id;
    if (this.socketMode && typeof id === 'number') {
      // States from different sockets are echoed in id order: state N implies every slice
      // before it is written, whichever socket carried it.
      this.heldEchoes.set(id, echo);
      for (
        let next = this.heldEchoes.get(this.nextEchoId);
        next;
        next = this.heldEchoes.get(this.nextEchoId)
      ) {
        this.heldEchoes.delete(this.nextEchoId);
        this.nextEchoId++;
        this.echo(next);
      }
    } else this.echo(echo);
  }

  private echo(state: AirbyteStateMessage): void {
    this.stdout.writeMessage({ type: 'STATE', state });
    this.statesEchoed++;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    // Echoes reach the platform promptly, batched per event-loop turn.
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.stdout.flush().catch(() => {});
    });
  }

  /** After the write handler returned: anything left unread or unacknowledged is an error. */
  finish(): void {
    if (this.failure) throw this.failure;
    if (this.abandoned || !this.allEnded || this.head < this.queue.length) {
      throw new ConnectorError('the write handler returned before reading all of its input');
    }
    if (this.heldEchoes.size > 0) {
      const held = [...this.heldEchoes.keys()].sort((a, b) => a - b);
      throw new ConnectorError(
        `states ${held.join(', ')} were acknowledged but not echoed: state id ${this.nextEchoId} never arrived`,
      );
    }
  }

  stop(): void {
    for (const p of this.partitions) {
      p.stream.pause();
      if ('destroy' in p.stream && p.stream !== process.stdin) p.stream.destroy();
    }
    this.endControl();
    this.closeStats();
  }

  summary(): string {
    const records = this.partitions.reduce((n, p) => n + p.records, 0);
    const bytes = this.partitions.reduce((n, p) => n + p.bytes, 0);
    const states = this.partitions.reduce((n, p) => n + p.states, 0);
    return `${records} records, ${bytes} bytes, ${states} states received, ${this.statesEchoed} echoed`;
  }

  get totals(): { records: number; bytes: number; states: number; echoed: number } {
    return {
      records: this.partitions.reduce((n, p) => n + p.records, 0),
      bytes: this.partitions.reduce((n, p) => n + p.bytes, 0),
      states: this.partitions.reduce((n, p) => n + p.states, 0),
      echoed: this.statesEchoed,
    };
  }
}

function isStateEnvelope(
  v: AirbyteMessage | AirbyteStateMessage,
): v is AirbyteMessage & { state: AirbyteStateMessage } {
  return (v as AirbyteMessage).type === 'STATE' && typeof (v as AirbyteMessage).state === 'object';
}

/**
 * Builds a destination CLI: `spec`, `check --config F`, `write --config F --catalog F`.
 * The write handler is transport-agnostic: records come from stdin, or from every socket
 * when DATA_CHANNEL_MEDIUM=SOCKET, mapped per SLUICE_STREAM_MAPPING when it is set (records and
 * stream statuses alike). In socket mode stdin still carries the stream statuses the platform
 * forwards (batches with `control: true`), and the SDK reports the records and bytes it read per
 * stream on stdout, since the platform does not see them.
 */
export function defineDestination<C = Record<string, unknown>>(def: DestinationDefinition<C>): Connector {
  return createConnector<C>('destination', def, async (cmd, config, rt) => {
    const { stdout, logger, io } = rt;
    if (cmd.command !== 'write') throw new Error(`a destination cannot run "${cmd.command}"`);
    const catalog = await loadCatalog(cmd.catalog);
    const streams = new CatalogIndex(catalog);
    const env = parseSdkEnv(io.env);
    const mode = dataChannelMode(env);
    const mapper = env.SLUICE_STREAM_MAPPING ? await StreamMapper.load(env.SLUICE_STREAM_MAPPING) : undefined;
    const input = new DestinationInput(
      stdout,
      streams,
      mapper,
      mode.medium === 'SOCKET',
      env.SLUICE_MAX_LINE_BYTES,
    );
    let sockets: Socket[] = [];
    if (mode.medium === 'STDIO') input.attach(io.stdin, 'stdin');
    else {
      sockets = await connectToSockets(mode.paths, mode.connectTimeoutMs);
      for (const [i, s] of sockets.entries()) input.attach(s, `socket ${i}`);
      // The platform forwards the source's stream statuses on stdin (a terminal has none).
      if (!(io.stdin as Readable & { isTTY?: boolean }).isTTY) input.attachControl(io.stdin, 'stdin');
    }
    const started = Date.now();
    try {
      await def.write({
        config,
        logger,
        catalog,
        streams,
        input,
        ack: (s) => input.ack(s),
        medium: mode.medium,
        partitions: mode.medium === 'SOCKET' ? mode.paths.length : 1,
        mapping: mapper,
        readRecordsWith: (reader) => input.readRecordsWith(reader),
      });
      input.finish();
    } catch (err) {
      input.stop();
      throw err;
    } finally {
      for (const s of sockets) s.destroy();
    }
    const seconds = (Date.now() - started) / 1000;
    logger.info(`write finished: ${input.summary()} in ${seconds.toFixed(2)} s`);
  });
}
