import { type AirbyteMessage, type AirbyteStateMessage, decodeLine, LineSplitter } from '@sluice/protocol';
import type { MessageHandler } from './messages';

export interface OutputReaderOptions {
  messages: MessageHandler;
  /** STATE messages (a destination's echoes). Without it, states are logged as unexpected. */
  onState?(state: AirbyteStateMessage): void;
  /** Messages the caller handles itself (SPEC, CATALOG, CONNECTION_STATUS of connector jobs). */
  onOther?(message: AirbyteMessage): boolean;
  /**
   * A socket-mode destination's count of what it read of a (source) stream so far: Airbyte's
   * RECORD flagged `isDummyStatsMessage` with `emittedRecordsCount` and `emittedBytesCount`.
   */
  onReadStats?(stats: DestinationReadStats): void;
  maxLineBytes?: number;
}

export interface DestinationReadStats {
  name: string;
  namespace: string | undefined;
  records: number;
  bytes: number;
}

const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined;

/** The counts of a destination's stats message, or undefined for any other record. */
export function readStatsOf(m: AirbyteMessage): DestinationReadStats | undefined {
  const r = m.record as (Record<string, unknown> & { stream: string; namespace?: string }) | undefined;
  if (r?.isDummyStatsMessage !== true) return undefined;
  const records = count(r.emittedRecordsCount);
  const bytes = count(r.emittedBytesCount);
  if (records === undefined || bytes === undefined) return undefined;
  return { name: r.stream, namespace: r.namespace, records, bytes };
}

/**
 * Reads a connector's stdout when it carries no records to route: the destination's (state
 * echoes, logs, traces), the source's in socket mode (its records travel over the sockets), a
 * spec/check/discover connector's. Every line is parsed and validated against the protocol.
 */
export class OutputReader {
  private readonly splitter: LineSplitter;
  unexpectedRecords = 0;

  constructor(private readonly opts: OutputReaderOptions) {
    this.splitter = new LineSplitter(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {});
  }

  push(chunk: Buffer): void {
    this.splitter.push(chunk, this.onLine);
  }

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
    const text = buf.toString('utf8', start, end);
    const { messages } = this.opts;
    if (!utf8) {
      messages.invalid(lineNo, text, 'not valid UTF-8');
      return;
    }
    const d = decodeLine(text, lineNo, 'full');
    if (d.kind === 'not_json') {
      if (text.trimStart().startsWith('{')) messages.invalid(lineNo, text, `not valid JSON: ${d.error}`);
      else messages.notJson(text);
      return;
    }
    if (d.kind !== 'message') {
      messages.invalid(lineNo, text, d.error);
      return;
    }
    const m = d.message;
    if (this.opts.onOther?.(m)) return;
    if (m.type === 'STATE' && this.opts.onState) {
      this.opts.onState(m.state!);
      return;
    }
    if (m.type === 'RECORD') {
      const stats = this.opts.onReadStats ? readStatsOf(m) : undefined;
      if (stats) {
        this.opts.onReadStats!(stats);
        return;
      }
      // A destination printing records, or a source printing them on stdout in socket mode.
      if (this.unexpectedRecords++ === 0)
        messages.invalid(lineNo, text.slice(0, 120), 'a RECORD on this output is not routed');
      return;
    }
    messages.handle(m);
  };
}

/** Splits a byte stream (stderr) into text lines. */
export class TextLines {
  private readonly splitter = new LineSplitter({ maxLineBytes: 64 * 1024 * 1024 });

  constructor(private readonly onLine: (text: string) => void) {}

  push(chunk: Buffer): void {
    this.splitter.push(chunk, (buf, start, end) =>
      this.onLine(buf.toString('utf8', start, Math.min(end, start + 65536))),
    );
  }

  end(): void {
    this.splitter.end((buf, start, end) =>
      this.onLine(buf.toString('utf8', start, Math.min(end, start + 65536))),
    );
  }
}
