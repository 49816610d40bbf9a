import type { Writable } from 'node:stream';

export interface ChunkWriterOptions {
  /** Bytes collected before a write. Default 256 KiB. */
  chunkBytes?: number;
  /** Bytes the stream may hold before `needsDrain` is set. Default 2 MiB. */
  maxPendingBytes?: number;
  /** Longest a line waits in the buffer. Default 20 ms. */
  maxDelayMs?: number;
}

const NEWLINE = Buffer.from('\n');

/**
 * Collects lines (byte ranges of the source's chunks, or strings) into large chunks for the
 * destination's stdin, and says when the stream holds too much (`needsDrain`) and when it has
 * caught up (`onResume`). The stream's own high-water mark is small and every large chunk
 * exceeds it, so backpressure is judged on `writableLength` against a limit of our own; memory
 * is bounded by that limit plus one chunk.
 *
 * Byte ranges of lines too big for a chunk are handed to the stream without a copy: Node never
 * reuses the memory of a chunk it delivered, nor the line buffers LineSplitter concatenates.
 */
export class ChunkWriter {
  private buf: Buffer;
  private off = 0;
  private readonly chunkBytes: number;
  private readonly maxPending: number;
  private readonly lowWater: number;
  private readonly maxDelayMs: number;
  private timer: NodeJS.Timeout | undefined;
  private blocked = false;
  private resumeListeners: Array<() => void> = [];
  private failure: Error | undefined;
  private ended = false;
  bytesWritten = 0;
  linesWritten = 0;

  constructor(
    readonly stream: Writable,
    options: ChunkWriterOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? 256 * 1024;
    this.maxPending = options.maxPendingBytes ?? 2 * 1024 * 1024;
    this.lowWater = Math.floor(this.maxPending / 2);
    this.maxDelayMs = options.maxDelayMs ?? 20;
    this.buf = Buffer.allocUnsafe(this.chunkBytes);
    stream.on('error', (err) => {
      this.failure ??= err;
      this.unblock();
    });
  }

  get error(): Error | undefined {
    return this.failure;
  }

  get needsDrain(): boolean {
    return this.blocked;
  }

  /** Calls `fn` once the stream has caught up (immediately when it is not backed up). */
  onResume(fn: () => void): void {
    if (!this.blocked) fn();
    else this.resumeListeners.push(fn);
  }

  writeRange(src: Buffer, start: number, end: number): void {
    const len = end - start;
    if (len + 1 > this.chunkBytes - this.off) {
      this.writePending();
      if (len + 1 > this.chunkBytes) {
        this.send(src.subarray(start, end));
        this.send(NEWLINE);
        this.linesWritten++;
        return;
      }
    }
    this.off += src.copy(this.buf, this.off, start, end);
    this.buf[this.off++] = 0x0a;
    this.linesWritten++;
    if (this.off >= this.chunkBytes) this.writePending();
    else this.arm();
  }

  writeBuffer(line: Buffer): void {
    this.writeRange(line, 0, line.length);
  }

  writeString(line: string): void {
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    if (line.length * 3 + 1 <= this.chunkBytes - this.off) {
      this.off += this.buf.write(line, this.off);
      this.buf[this.off++] = 0x0a;
      this.linesWritten++;
      if (this.off >= this.chunkBytes) this.writePending();
      else this.arm();
      return;
    }
    this.writeBuffer(Buffer.from(line));
  }

  /** Hands the buffered lines to the stream now. */
  flush(): void {
    this.writePending();
  }

  /** Flushes, ends the stream and resolves once it finished (or failed: the exit code tells why). */
  end(): Promise<void> {
    this.writePending();
    this.ended = true;
    return new Promise((resolve) => {
      if (this.stream.writableFinished || this.stream.destroyed) return resolve();
      this.stream.once('finish', resolve);
      this.stream.once('close', resolve);
      this.stream.once('error', () => resolve());
      this.stream.end();
    });
  }

  /** Drops what is buffered and stops the stream (the destination is gone or being stopped). */
  destroy(): void {
    this.clearTimer();
    this.off = 0;
    this.ended = true;
    this.stream.destroy();
    this.unblock();
  }

  private arm(): void {
    if (this.timer === undefined && this.maxDelayMs > 0) {
      this.timer = setTimeout(this.onTimer, this.maxDelayMs);
    }
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.writePending();
  };

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private writePending(): void {
    this.clearTimer();
    if (this.off === 0) return;
    const data = this.buf.subarray(0, this.off);
    // The stream keeps `data` until written: the next lines go to a fresh buffer.
    this.buf = Buffer.allocUnsafe(this.chunkBytes);
    this.off = 0;
    this.send(data);
  }

  private send(data: Buffer): void {
    if (this.failure || this.ended || this.stream.destroyed) return;
    this.bytesWritten += data.length;
    this.stream.write(data, this.afterWrite);
    if (this.stream.writableLength >= this.maxPending) this.blocked = true;
  }

  private readonly afterWrite = (err?: Error | null): void => {
    if (err) this.failure ??= err;
    if (this.blocked && (err || this.stream.writableLength <= this.lowWater)) this.unblock();
  };

  private unblock(): void {
    this.blocked = false;
    const listeners = this.resumeListeners;
    this.resumeListeners = [];
    for (const fn of listeners) fn();
  }
}
