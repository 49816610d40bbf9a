import {
  type AirbyteMessage,
  type AirbyteStateMessage,
  decodeLine,
  LineSplitter,
  messageProblem,
  peekRecordEnvelope,
  type RecordEnvelope,
  rewriteRecordEnvelope,
  streamLabel,
} from '@sluice/protocol';
import { type Route, type StreamRoutes, selectFields } from './mapping';
import type { AttemptLog, MessageHandler } from './messages';
import type { StdioStateTracker } from './state-tracker';
import type { StreamCounter, SyncStats } from './stats';
import { StatusForwarder } from './status-forwarder';

/** Where routed lines go (the destination's stdin, through a ChunkWriter). */
export interface LineSink {
  writeRange(buf: Buffer, start: number, end: number): void;
  writeBuffer(line: Buffer): void;
  writeString(line: string): void;
}

export interface RouterOptions {
  routes: StreamRoutes;
  stats: SyncStats;
  tracker: StdioStateTracker;
  out: LineSink;
  /** The source's LOG, TRACE and CONTROL messages and stray lines. */
  messages: MessageHandler;
  log: AttemptLog;
  /** Where the source's stream statuses go; by default to `out`, named by `routes`. */
  statuses?: StatusForwarder;
  maxLineBytes?: number;
}

/**
 * stdio mode: routes the source's stdout, chunk by chunk, to the destination's stdin.
 *
 * RECORD lines take the protocol package's fast path: the envelope (type, stream, namespace) is
 * read without building `data`, the line is counted for its stream and copied as bytes, or
 * spliced when the mapping renames its stream or namespace. Only records of streams with a field
 * selection are parsed, to drop keys from `data`. Records of streams the configured catalog does
 * not have are counted and dropped. STATE lines get an id and the mapped descriptors and are
 * tracked until the destination echoes them. Everything else is validated against the protocol
 * schemas and handled by the source's MessageHandler; TRACE stream statuses also go to the
 * destination, in order with the records (COMPLETE only once the source succeeded: see
 * StatusForwarder).
 */
export class StdioRouter {
  private readonly splitter: LineSplitter;
  private readonly routes: StreamRoutes;
  private readonly stats: SyncStats;
  private readonly tracker: StdioStateTracker;
  private readonly out: LineSink;
  private readonly messages: MessageHandler;
  private readonly log: AttemptLog;
  readonly statuses: StatusForwarder;
  private lastRoute: Route | undefined;
  private lastCounter: StreamCounter | undefined;
  private readonly warnedUnknown = new Set<string>();
  private warnedCount = false;
  recordsSinceState = 0;
  recordsForwarded = 0;
  recordsDropped = 0;
  statesForwarded = 0;

  constructor(opts: RouterOptions) {
    this.routes = opts.routes;
    this.stats = opts.stats;
    this.tracker = opts.tracker;
    this.out = opts.out;
    this.messages = opts.messages;
    this.log = opts.log;
    const routes = opts.routes;
    this.statuses =
      opts.statuses ??
      new StatusForwarder({
        write: (line) => opts.out.writeString(line),
        toDestination: (d) => (routes.resolve(d.name, d.namespace) ? routes.toDestination(d) : undefined),
        streams: routes.routes.map((r) => ({ name: r.destName, namespace: r.destNamespace })),
      });
    this.splitter = new LineSplitter(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {});
  }

  /** Routes the complete lines of a chunk; throws JsonlLineTooLongError on an oversized line. */
  push(chunk: Buffer): void {
    this.splitter.push(chunk, this.onLine);
  }

  /** The source's stdout ended: routes a last line without a newline. */
  end(): void {
    this.splitter.end(this.onLine);
  }

  private readonly onLine = (
    buf: Buffer,
    start: number,
    end: number,
    lineNo: number,
    utf8: boolean,
  ): void => {
    if (!utf8) {
      this.messages.invalid(lineNo, buf.toString('utf8', start, end), 'not valid UTF-8');
      return;
    }
    // `data` is forwarded untouched: only the envelope is read and checked here; the destination
    // parses (and rejects) the data itself.
    const env = peekRecordEnvelope(buf, start, end, { validate: 'structure' });
    if (env !== null && env.type === 'RECORD') this.record(buf, start, end, env, lineNo);
    else this.other(buf, start, end, lineNo);
  };

  private counterOf(route: Route): StreamCounter {
    if (route === this.lastRoute) return this.lastCounter!;
    const c = this.stats.counter(route.name, route.namespace);
    this.lastRoute = route;
    this.lastCounter = c;
    return c;
  }

  private record(buf: Buffer, start: number, end: number, env: RecordEnvelope, lineNo: number): void {
    if (env.stream === undefined || !env.record) {
      this.drop(lineNo, buf.toString('utf8', start, end), 'record.stream: missing');
      return;
    }
    const route = this.routes.resolve(env.stream, env.namespace);
    if (!route) {
      this.unknown(env.stream, env.namespace);
      return;
    }
    if (route.fields) {
      this.slowRecord(buf.toString('utf8', start, end), lineNo, route, end - start);
      return;
    }
    const change = this.routes.changeFor(route, env.namespace);
    if (change) this.out.writeBuffer(rewriteRecordEnvelope(buf, env, change, start, end));
    else this.out.writeRange(buf, start, end);
    const c = this.counterOf(route);
    c.recordsEmitted++;
    c.bytesEmitted += end - start;
    if (!c.dirty) this.stats.markDirty(c);
    this.recordsSinceState++;
    this.recordsForwarded++;
  }

  /** Full parse: field selection, or a line the fast path could not read. */
  private slowRecord(
    text: string,
    lineNo: number,
    route: Route | undefined,
    bytes: number,
    parsed?: unknown,
  ): void {
    let value = parsed;
    if (value === undefined) {
      try {
        value = JSON.parse(text);
      } catch (err) {
        this.drop(lineNo, text, (err as Error).message);
        return;
      }
    }
    const problem = messageProblem(value);
    if (problem !== undefined) {
      this.drop(lineNo, text, problem);
      return;
    }
    const msg = value as AirbyteMessage & { record: NonNullable<AirbyteMessage['record']> };
    const r = msg.record;
    const target = route ?? this.routes.resolve(r.stream, r.namespace);
    if (!target) {
      this.unknown(r.stream, r.namespace);
      return;
    }
    r.stream = target.destName;
    if (target.destNamespace === undefined) delete r.namespace;
    else r.namespace = target.destNamespace;
    if (target.fields) r.data = selectFields(r.data, target.fields);
    this.out.writeString(JSON.stringify(msg));
    const c = this.counterOf(target);
    c.recordsEmitted++;
    c.bytesEmitted += bytes;
    if (!c.dirty) this.stats.markDirty(c);
    this.recordsSinceState++;
    this.recordsForwarded++;
  }

  private other(buf: Buffer, start: number, end: number, lineNo: number): void {
    const text = buf.toString('utf8', start, end);
    const d = decodeLine(text, lineNo, 'full');
    if (d.kind === 'not_json') {
      // Stray prints are logged as they are; a line that meant to be a message is a broken one.
      if (!text.trimStart().startsWith('{')) this.messages.notJson(text);
      else if (/"type"\s*:\s*"RECORD"/.test(text.slice(0, 200)))
        this.drop(lineNo, text, `not valid JSON: ${d.error}`);
      else this.messages.invalid(lineNo, text, `not valid JSON: ${d.error}`);
      return;
    }
    if (d.kind !== 'message') {
      // A RECORD-typed line the schema refuses is a dropped record; other lines are just logged.
      const type =
        (d.kind === 'invalid_message' ? (d.value as { type?: unknown } | null)?.type : undefined) ?? '';
      if (type === 'RECORD') this.drop(lineNo, text, d.error);
      else this.messages.invalid(lineNo, text, d.error);
      return;
    }
    const m = d.message;
    switch (m.type) {
      case 'RECORD':
        // Valid, but outside the fast path (e.g. keys spelled with escapes): parse fully.
        this.slowRecord(text, lineNo, undefined, end - start, m);
        return;
      case 'STATE':
        this.state(m.state!);
        return;
      case 'TRACE':
        this.messages.handle(m);
        // Destinations learn that a stream is complete from the source's status, as on Airbyte.
        if (m.trace?.type === 'STREAM_STATUS') this.statuses.onStatus(m);
        return;
      default:
        this.messages.handle(m);
    }
  }

  private state(state: AirbyteStateMessage): void {
    const claimed = state.sourceStats?.recordCount;
    if (
      claimed !== undefined &&
      claimed !== this.recordsSinceState &&
      !this.warnedCount &&
      this.recordsDropped === 0
    ) {
      this.warnedCount = true;
      this.log.platform(
        'WARN',
        `a source state says ${claimed} records preceded it, but ${this.recordsSinceState} were forwarded; the destination is told the forwarded count`,
      );
    }
    const forwarded = this.tracker.onSourceState(state, this.stats.snapshot(), this.recordsSinceState);
    this.recordsSinceState = 0;
    this.statesForwarded++;
    this.out.writeString(JSON.stringify({ type: 'STATE', state: forwarded }));
  }

  private drop(lineNo: number, text: string, error: string): void {
    this.recordsDropped++;
    this.stats.invalidRecords++;
    this.messages.invalid(lineNo, text, error);
  }

  private unknown(name: string, namespace: string | null | undefined): void {
    const label = streamLabel(name, namespace ?? undefined);
    this.stats.unknown(label);
    this.recordsDropped++;
    if (!this.warnedUnknown.has(label) && this.warnedUnknown.size < 100) {
      this.warnedUnknown.add(label);
      this.log.platform(
        'WARN',
        `the source emitted records for stream "${label}", which is not in the configured catalog; they are counted and dropped`,
      );
    }
  }
}
