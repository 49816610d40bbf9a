import type { BufferedLineWriter } from '../jsonl/encode';
import type {
  AirbyteLogLevel,
  AirbyteMessage,
  AirbyteStateMessage,
  AirbyteStreamStatus,
  StreamDescriptor,
} from '../schema';
import { ConnectorError } from './errors';
import {
  controlConfigMessage,
  type EstimateInput,
  estimateMessage,
  logMessage,
  streamStatusMessage,
} from './messages';
import { type CatalogIndex, streamKey, streamLabel } from './streams';

/**
 * What a source's `read` writes to. Records and states go to the data channel (stdout, or
 * one of the sockets in socket mode); everything else goes to stdout. All methods are
 * synchronous and buffer; a producer checks `needsDrain` now and then (it is a field read)
 * and awaits `drain()` when it is set, so stdout or socket backpressure is honoured.
 */
export interface SourceOutput {
  /** Emits a RECORD; `data` is serialised with JSON.stringify. */
  record(stream: string, data: Record<string, unknown>, namespace?: string): void;
  /**
   * Emits a RECORD whose `data` is already JSON text of an object (the fastest path for
   * generators that build JSON directly). The text is not re-checked.
   */
  recordJson(stream: string, dataJson: string, namespace?: string): void;
  /**
   * Emits a checkpoint after the records before it. The SDK adds `sourceStats.recordCount`
   * (records on this channel since the previous state); in socket mode also `id` and
   * `partition_id`, and the next records go to the next socket.
   */
  state(state: AirbyteStateMessage): void;
  /** Shorthand for a STREAM state of one stream. */
  streamState(stream: string, streamState: Record<string, unknown>, namespace?: string): void;
  /** TRACE STREAM_STATUS. The SDK marks started, unfinished streams INCOMPLETE if read fails. */
  streamStatus(stream: string, status: AirbyteStreamStatus, namespace?: string): void;
  /** TRACE ESTIMATE for one stream. */
  estimate(stream: string, estimate: EstimateInput): void;
  log(level: AirbyteLogLevel, message: string): void;
  /** CONTROL CONNECTOR_CONFIG: asks the platform to persist an updated config. */
  controlConfig(config: Record<string, unknown>): void;
  /** Any message; RECORD and STATE take the same route as record() and state(). */
  message(message: AirbyteMessage): void;
  /** True while the current data channel is backed up. */
  readonly needsDrain: boolean;
  drain(): Promise<void>;
  /** Records emitted so far. */
  readonly recordCount: number;
}

/** One data channel: stdout in stdio mode, one socket in socket mode. */
export class DataChannel {
  recordsSinceState = 0;
  /** Text after `emitted_at`'s value: closes the record, adding partition_id in socket mode. */
  readonly recordSuffix: string;

  constructor(
    readonly index: number,
    readonly writer: BufferedLineWriter,
    readonly socket: boolean,
  ) {
    this.recordSuffix = socket ? `,"partition_id":${index}}}` : '}}';
  }
}

export class SourceOutputImpl implements SourceOutput {
  private current: DataChannel;
  private currentIndex = 0;
  private records = 0;
  private nextStateId = 1;
  private prefixStream: string | undefined;
  private prefixNamespace: string | undefined;
  private prefix = '';
  // `,"emitted_at":<ms><suffix>` changes once a millisecond, not once a record.
  private stampMs = -1;
  private stampChannel: DataChannel | undefined;
  private stamp = '';
  private readonly started = new Map<string, StreamDescriptor>();

  constructor(
    private readonly control: BufferedLineWriter,
    private readonly channels: readonly DataChannel[],
    private readonly catalog: CatalogIndex | undefined,
  ) {
    if (channels.length === 0) throw new Error('a source needs at least one data channel');
    this.current = channels[0]!;
  }

  get needsDrain(): boolean {
    return this.current.writer.needsDrain || this.control.needsDrain;
  }

  async drain(): Promise<void> {
    await this.current.writer.drain();
    await this.control.drain();
  }

  get recordCount(): number {
    return this.records;
  }

  private setPrefix(stream: string, namespace: string | undefined): void {
    if (typeof stream !== 'string') throw new ConnectorError('record(): stream must be a string');
    if (this.catalog && !this.catalog.get(stream, namespace)) {
      throw new ConnectorError(
        `the source emitted a record for stream "${streamLabel(stream, namespace)}", which is not in the configured catalog`,
      );
    }
    const ns = namespace === undefined ? '' : `"namespace":${JSON.stringify(namespace)},`;
    this.prefix = `{"type":"RECORD","record":{"stream":${JSON.stringify(stream)},${ns}"data":`;
    this.prefixStream = stream;
    this.prefixNamespace = namespace;
  }

  recordJson(stream: string, dataJson: string, namespace?: string): void {
    if (stream !== this.prefixStream || namespace !== this.prefixNamespace) this.setPrefix(stream, namespace);
    const ch = this.current;
    const now = Date.now();
    if (now !== this.stampMs || ch !== this.stampChannel) {
      this.stampMs = now;
      this.stampChannel = ch;
      this.stamp = `,"emitted_at":${now}${ch.recordSuffix}`;
    }
    ch.writer.writeLine(this.prefix + dataJson + this.stamp);
    ch.recordsSinceState++;
    this.records++;
  }

  record(stream: string, data: Record<string, unknown>, namespace?: string): void {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new ConnectorError(`record(): data for stream "${stream}" must be an object`);
    }
    this.recordJson(stream, JSON.stringify(data), namespace);
  }

  state(state: AirbyteStateMessage): void {
    const ch = this.current;
    const sourceStats = { ...state.sourceStats, recordCount: ch.recordsSinceState };
    const out: AirbyteStateMessage = ch.socket
      ? { ...state, id: this.nextStateId++, partition_id: ch.index, sourceStats }
      : { ...state, sourceStats };
    ch.writer.writeMessage({ type: 'STATE', state: out });
    ch.recordsSinceState = 0;
    if (this.channels.length > 1) {
      // Round-robin per slice: a state closes a slice, the next slice takes the next socket.
      this.currentIndex = (this.currentIndex + 1) % this.channels.length;
      this.current = this.channels[this.currentIndex]!;
    }
  }

  streamState(stream: string, streamState: Record<string, unknown>, namespace?: string): void {
    this.state({
      type: 'STREAM',
      stream: {
        stream_descriptor: namespace === undefined ? { name: stream } : { name: stream, namespace },
        stream_state: streamState,
      },
    });
  }

  streamStatus(stream: string, status: AirbyteStreamStatus, namespace?: string): void {
    const key = streamKey(stream, namespace);
    if (status === 'STARTED' || status === 'RUNNING') {
      this.started.set(key, namespace === undefined ? { name: stream } : { name: stream, namespace });
    } else this.started.delete(key);
    this.control.writeMessage(streamStatusMessage(stream, status, namespace));
  }

  estimate(stream: string, estimate: EstimateInput): void {
    this.control.writeMessage(estimateMessage(stream, estimate));
  }

  log(level: AirbyteLogLevel, message: string): void {
    this.control.writeMessage(logMessage(level, message));
  }

  controlConfig(config: Record<string, unknown>): void {
    this.control.writeMessage(controlConfigMessage(config));
  }

  message(message: AirbyteMessage): void {
    if (message.type === 'RECORD') {
      const r = message.record;
      if (!r) throw new ConnectorError('a RECORD message must carry a record');
      // Written as given (emitted_at, meta, file references kept); only the partition is added.
      if (r.stream !== this.prefixStream || r.namespace !== this.prefixNamespace)
        this.setPrefix(r.stream, r.namespace);
      const ch = this.current;
      const record = ch.socket ? { ...r, partition_id: ch.index } : r;
      ch.writer.writeMessage({ type: 'RECORD', record });
      ch.recordsSinceState++;
      this.records++;
      return;
    }
    if (message.type === 'STATE') {
      if (!message.state) throw new ConnectorError('a STATE message must carry a state');
      this.state(message.state);
      return;
    }
    const status = message.type === 'TRACE' ? message.trace?.stream_status : undefined;
    if (status) {
      const d = status.stream_descriptor;
      this.streamStatus(d.name, status.status, d.namespace);
      return;
    }
    this.control.writeMessage(message);
  }

  /** Marks streams that started but did not finish as INCOMPLETE (after a failure). */
  failStartedStreams(): void {
    for (const d of this.started.values()) {
      this.control.writeMessage(streamStatusMessage(d.name, 'INCOMPLETE', d.namespace));
    }
    this.started.clear();
  }
}
