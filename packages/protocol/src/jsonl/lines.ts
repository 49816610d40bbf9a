import { isUtf8 } from 'node:buffer';

/** Airbyte's platform refuses lines over this size; so do we, unless told otherwise. */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

const LF = 0x0a;
const CR = 0x0d;

/** A line grew past the configured maximum before its newline arrived. */
export class JsonlLineTooLongError extends Error {
  override name = 'JsonlLineTooLongError';
  constructor(
    readonly lineNumber: number,
    readonly maxLineBytes: number,
    readonly seenBytes: number,
  ) {
    super(
      `line ${lineNumber} is longer than the maximum of ${maxLineBytes} bytes ` +
        `(${seenBytes} bytes read without a newline)`,
    );
  }
}

/**
 * Receives each complete line as a byte range of `buf` (CR/LF stripped), with its 1-based
 * line number and whether the bytes are valid UTF-8. `buf` is only valid during the call.
 */
export type LineHandler = (
  buf: Buffer,
  start: number,
  end: number,
  lineNumber: number,
  utf8: boolean,
) => void;

export interface LineSplitterOptions {
  /** Maximum bytes of one line, newline excluded. Default 64 MiB. */
  maxLineBytes?: number;
}

/**
 * Splits a byte stream into lines without copying complete lines out of their chunk.
 * Blank lines (empty or ASCII whitespace only) are counted but not delivered.
 */
export class LineSplitter {
  readonly maxLineBytes: number;
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private lineNumber = 0;

  constructor(options: LineSplitterOptions = {}) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(this.maxLineBytes) || this.maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes must be a positive integer, got ${this.maxLineBytes}`);
    }
  }

  /** Number of lines completed so far (blank ones included). */
  get linesSeen(): number {
    return this.lineNumber;
  }

  push(chunk: Buffer, onLine: LineHandler): void {
    const len = chunk.length;
    if (len === 0) return;
    let pos = 0;
    let nl = chunk.indexOf(LF);
    if (nl === -1) {
      this.keep(chunk, 0, len);
      return;
    }
    if (this.carryBytes > 0) {
      this.keep(chunk, 0, nl);
      const line = Buffer.concat(this.carry, this.carryBytes);
      this.carry = [];
      this.carryBytes = 0;
      this.deliver(line, 0, line.length, onLine, isUtf8(line));
      pos = nl + 1;
      nl = pos < len ? chunk.indexOf(LF, pos) : -1;
      if (nl === -1) {
        if (pos < len) this.keep(chunk, pos, len);
        return;
      }
    }
    const lastNl = chunk.lastIndexOf(LF);
    // One native pass over all complete lines: the common case is clean input, so per-line
    // UTF-8 checks are only needed when this region fails. LF never occurs inside a
    // multi-byte sequence, so line boundaries are character boundaries.
    const regionOk = isUtf8(chunk.subarray(pos, lastNl));
    while (nl !== -1) {
      this.deliver(chunk, pos, nl, onLine, regionOk || isUtf8(chunk.subarray(pos, nl)));
      pos = nl + 1;
      nl = pos <= lastNl ? chunk.indexOf(LF, pos) : -1;
    }
    if (pos < len) this.keep(chunk, pos, len);
  }

  /** Flushes a final line that had no trailing newline. */
  end(onLine: LineHandler): void {
    if (this.carryBytes === 0) return;
    const line = Buffer.concat(this.carry, this.carryBytes);
    this.carry = [];
    this.carryBytes = 0;
    this.deliver(line, 0, line.length, onLine, isUtf8(line));
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    if (end <= start) return;
    const total = this.carryBytes + (end - start);
    // +1 leaves room for a CR that deliver() strips; the exact check happens there.
    if (total > this.maxLineBytes + 1) {
      // Fail as soon as the limit is crossed rather than buffering an unbounded line.
      throw new JsonlLineTooLongError(this.lineNumber + 1, this.maxLineBytes, total);
    }
    // Copy: the caller may reuse the chunk's memory after push() returns.
    this.carry.push(Buffer.from(chunk.subarray(start, end)));
    this.carryBytes = total;
  }

  private deliver(buf: Buffer, start: number, end: number, onLine: LineHandler, utf8: boolean): void {
    this.lineNumber++;
    if (end > start && buf[end - 1] === CR) end--;
    if (end - start > this.maxLineBytes) {
      throw new JsonlLineTooLongError(this.lineNumber, this.maxLineBytes, end - start);
    }
    if (isBlank(buf, start, end)) return;
    onLine(buf, start, end, this.lineNumber, utf8);
  }
}

function isBlank(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== CR) return false;
  }
  return true;
}
