import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { parseSdkEnv } from '../env';
import { type DecodedLine, JsonlDecoder } from '../jsonl/decode';
import type { BufferedLineWriter } from '../jsonl/encode';
import type { AirbyteMessage, AirbyteStateMessage, ConfiguredAirbyteCatalog } from '../schema';
import { type CommandContext, type CommonDefinition, type Connector, createConnector } from './connector';
import { ConnectorError } from './errors';
import { loadCatalog } from './files';
import { connectToSockets, dataChannelMode } from './socket';
import { CatalogIndex, StreamMapper, streamLabel } from './streams';

/** Messages from one data channel, in the order they arrived. */
export interface WriteBatch {
  /** Data channel: 0 for stdin, the socket index in socket mode. */
  partition: number;
  /**
   * RECORDs (already mapped when a stream mapping is set, and checked against the catalog),
   * STATEs, and whatever else the platform forwarded (e.g. TRACE stream statuses).
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

  constructor(
    private readonly stdout: BufferedLineWriter,
    private readonly catalog: CatalogIndex,
    private readonly mapper: StreamMapper | undefined,
    private readonly socketMode: boolean,
    private readonly maxLineBytes: number | undefined,
  ) {}

  attach(stream: Readable, label: string): void {
    const p: Partition = {
      index: this.partitions.length,
      label,
      stream,
      decoder: new JsonlDecoder({ maxLineBytes: this.maxLineBytes }),
      recordsSinceState: 0,
      records: 0,
      bytes: 0,
      states: 0,
      ended: false,
    };
    this.partitions.push(p);
    stream.on('data', (chunk: Buffer) => this.onChunk(p, chunk));
    stream.on('end', () => this.onEnd(p));
    stream.on('error', (err) => this.fail(new ConnectorError(`reading ${label} failed: ${err.message}`)));
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
      if (this.mapper) this.mapper.map(r);
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
    this.notify();
  }

  private get allEnded(): boolean {
    return this.partitions.every((p) => p.ended);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WriteBatch> {
    if (this.iterated) throw new Error('the write input can be iterated only once');
    this.iterated = true;
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
    }
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
    if (!this.flushScheduled) {
      // Echoes reach the platform promptly, batched per event-loop turn.
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.stdout.flush().catch(() => {});
      });
    }
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
 * when DATA_CHANNEL_MEDIUM=SOCKET, mapped per SLUICE_STREAM_MAPPING when it is set.
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
