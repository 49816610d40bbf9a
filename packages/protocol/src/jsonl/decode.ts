import { type AirbyteMessage, formatZodError, parseAirbyteMessage } from '../schema';
import { JsonlLineTooLongError, type LineHandler, LineSplitter, type LineSplitterOptions } from './lines';

/**
 * How much of each message is checked against the protocol:
 * - `envelope` (default): plain RECORDs (only `stream`, `data`, `emitted_at`, `namespace`,
 *   `partition_id`) are checked by hand, which is exactly what the schema requires of them
 *   since `data` is any object; every other message goes through the zod schema.
 * - `full`: every message goes through the zod schema.
 * - `none`: only that the line is a JSON object with a known `type`.
 */
export type ValidationLevel = 'envelope' | 'full' | 'none';

export interface DecoderOptions extends LineSplitterOptions {
  validate?: ValidationLevel;
}

/**
 * One classified line. Lines that are not messages are reported, never thrown, so a caller
 * can log them the way Airbyte's platform logs a connector's stray output.
 */
export type DecodedLine =
  | {
      kind: 'message';
      line: number;
      bytes: number;
      message: AirbyteMessage;
      /** Set when a {@link LineReader} read the line: the record's stream as the source named it. */
      source?: StreamName;
    }
  | { kind: 'not_json'; line: number; text: string; error: string }
  | { kind: 'invalid_message'; line: number; text: string; value: unknown; error: string }
  | { kind: 'invalid_utf8'; line: number; text: string; error: string };

const MESSAGE_TYPES = new Set([
  'RECORD',
  'STATE',
  'LOG',
  'SPEC',
  'CONNECTION_STATUS',
  'CATALOG',
  'TRACE',
  'CONTROL',
  'DESTINATION_CATALOG',
]);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Hand-written check of a plain RECORD. Returns a problem, `undefined` when valid, or `null`
 * when the message carries fields this check does not cover (then the schema decides).
 */
function plainRecordProblem(msg: Record<string, unknown>): string | undefined | null {
  for (const k in msg) if (k !== 'type' && k !== 'record') return null;
  const r = msg.record;
  if (!isPlainObject(r)) return 'record: must be an object';
  for (const k in r) {
    if (k !== 'stream' && k !== 'data' && k !== 'emitted_at' && k !== 'namespace' && k !== 'partition_id') {
      return null;
    }
  }
  if (typeof r.stream !== 'string') return 'record.stream: must be a string';
  if (!isPlainObject(r.data)) return 'record.data: must be an object';
  if (!Number.isInteger(r.emitted_at)) return 'record.emitted_at: must be an integer';
  if (r.namespace !== undefined && typeof r.namespace !== 'string')
    return 'record.namespace: must be a string';
  const p = r.partition_id;
  if (p !== undefined && typeof p !== 'number' && typeof p !== 'string') {
    return 'record.partition_id: must be a number or a string';
  }
  return undefined;
}

/** Why `value` is not an AirbyteMessage, or `undefined` when it is one. */
export function messageProblem(value: unknown, level: ValidationLevel = 'envelope'): string | undefined {
  if (!isPlainObject(value)) return 'not a JSON object';
  const type = value.type;
  if (typeof type !== 'string') return 'type: missing or not a string';
  if (!MESSAGE_TYPES.has(type)) return `type: unknown message type "${type.slice(0, 40)}"`;
  if (level === 'none') return undefined;
  if (level === 'envelope' && type === 'RECORD') {
    const p = plainRecordProblem(value);
    if (p !== null) return p;
  }
  const parsed = parseAirbyteMessage(value);
  return parsed.success ? undefined : formatZodError(parsed.error, value);
}

/** Classifies one line of text (no newline); `bytes` is its UTF-8 length when the caller knows it. */
export function decodeLine(
  text: string,
  line: number,
  level: ValidationLevel = 'envelope',
  bytes?: number,
): DecodedLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { kind: 'not_json', line, text, error: (err as Error).message };
  }
  const problem = messageProblem(value, level);
  if (problem !== undefined) return { kind: 'invalid_message', line, text, value, error: problem };
  return { kind: 'message', line, bytes: bytes ?? Buffer.byteLength(text), message: value as AirbyteMessage };
}

export interface StreamName {
  name: string;
  namespace: string | undefined;
}

/** A RECORD a {@link LineReader} took. */
export interface ReadRecord {
  /** The RECORD, with the destination's stream names (the stream mapping applied). */
  message: AirbyteMessage;
  /** The stream as the source named it (the SDK counts what it read per source stream). */
  source: StreamName;
}

/**
 * Reads a line before the decoder parses it: returns the RECORD it took, or undefined to leave
 * the line to the decoder. Only valid UTF-8 lines are offered. The record may keep `buf`: every
 * input the SDK reads hands out chunks that are not reused.
 */
export type LineReader = (buf: Buffer, start: number, end: number) => ReadRecord | undefined;

/**
 * Streaming JSONL → AirbyteMessage decoder over Buffers. `push` returns the lines completed
 * by that chunk, in order. A line over the size limit fails the decoder: the lines before it
 * are still returned, and the next `push`/`end` throws {@link JsonlLineTooLongError}.
 */
export class JsonlDecoder {
  private readonly splitter: LineSplitter;
  private readonly level: ValidationLevel;
  private out: DecodedLine[] = [];
  private failure: Error | undefined;
  /** Tried on each line before it is parsed (a destination's own reading of its records). */
  reader: LineReader | undefined;

  constructor(options: DecoderOptions = {}) {
    this.splitter = new LineSplitter(options);
    this.level = options.validate ?? 'envelope';
  }

  /** The error that stopped this decoder, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  get linesSeen(): number {
    return this.splitter.linesSeen;
  }

  private readonly onLine: LineHandler = (buf, start, end, line, utf8) => {
    if (utf8 && this.reader) {
      const read = this.reader(buf, start, end);
      if (read) {
        this.out.push({
          kind: 'message',
          line,
          bytes: end - start,
          message: read.message,
          source: read.source,
        });
        return;
      }
    }
    const text = buf.toString('utf8', start, end);
    if (!utf8) {
      this.out.push({
        kind: 'invalid_utf8',
        line,
        text,
        error: `line ${line} is not valid UTF-8 (at byte ${firstInvalidUtf8(buf, start, end) - start})`,
      });
      return;
    }
    this.out.push(decodeLine(text, line, this.level, end - start));
  };

  push(chunk: Buffer | Uint8Array | string): DecodedLine[] {
    if (this.failure) throw this.failure;
    const buf =
      typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : toBuffer(chunk);
    this.out = [];
    try {
      this.splitter.push(buf, this.onLine);
    } catch (err) {
      if (!(err instanceof JsonlLineTooLongError)) throw err;
      this.failure = err;
    }
    return this.out;
  }

  end(): DecodedLine[] {
    if (this.failure) throw this.failure;
    this.out = [];
    this.splitter.end(this.onLine);
    return this.out;
  }
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/**
 * Decodes a byte stream (a Readable, a socket, any async iterable of chunks) into batches of
 * classified lines, one batch per chunk that completed at least one line.
 */
export async function* decodeJsonlStream(
  source: AsyncIterable<Buffer | Uint8Array | string>,
  options: DecoderOptions = {},
): AsyncGenerator<DecodedLine[], void, undefined> {
  const decoder = new JsonlDecoder(options);
  for await (const chunk of source) {
    const batch = decoder.push(chunk);
    if (batch.length > 0) yield batch;
    if (decoder.error) throw decoder.error;
  }
  const last = decoder.end();
  if (last.length > 0) yield last;
}

/** Decodes a complete JSONL buffer or string at once. */
export function decodeJsonl(input: Buffer | string, options: DecoderOptions = {}): DecodedLine[] {
  const decoder = new JsonlDecoder(options);
  const lines = decoder.push(input);
  if (decoder.error) throw decoder.error;
  for (const l of decoder.end()) lines.push(l);
  return lines;
}

/** Offset of the first byte that breaks UTF-8 in buf[start, end). */
function firstInvalidUtf8(buf: Buffer, start: number, end: number): number {
  let i = start;
  while (i < end) {
    const b = buf[i]!;
    let need: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    if (i + need >= end) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return end;
}
