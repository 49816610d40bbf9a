import { WriteStream } from 'node:fs';
import { Socket } from 'node:net';
import type { Writable } from 'node:stream';
import type { AirbyteMessage } from '../schema';

/** One message as one JSONL line, without the newline. */
export function serializeMessage(message: AirbyteMessage): string {
  return JSON.stringify(message);
}

/** Messages as JSONL text, each line newline-terminated. */
export function encodeJsonl(messages: Iterable<AirbyteMessage>): string {
  let out = '';
  for (const m of messages) out += `${JSON.stringify(m)}\n`;
  return out;
}

export interface BufferedLineWriterOptions {
  /** Pending bytes that trigger a write to the stream. Default 256 KiB. */
  chunkBytes?: number;
  /**
   * Longest time a line waits in the buffer before it is written anyway, so a slow producer's
   * states and logs are not held back. Default 50 ms; 0 disables the timer.
   */
  maxDelayMs?: number;
}

/**
 * Collects lines into large chunks before handing them to a stream, and reports the
 * stream's backpressure: after a write returns false, `needsDrain` is true until 'drain'.
 * Producers poll `needsDrain` (cheap) and `await drain()` only when it is set.
 *
 * Each line is UTF-8 encoded straight into a Buffer as it arrives: one native copy per line,
 * no long string ropes to flatten later, and exact byte counts.
 */
export class BufferedLineWriter {
  private buf: Buffer;
  private off = 0;
  private readonly chunkBytes: number;
  private blocked = false;
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private failure: Error | undefined;
  private linesWritten = 0;
  private bytesWritten = 0;
  private readonly maxDelayMs: number;
  private timer: NodeJS.Timeout | undefined;
  /**
   * Chunk buffers the stream has finished writing, ready for reuse. Only for sockets, pipes and
   * files, whose write callback means the memory is no longer read; a Transform downstream may
   * keep the Buffer it was given, so other streams always get a fresh one. At hundreds of MB/s
   * a fresh 512 KiB buffer per chunk is a steady stream of external memory that only a GC
   * gives back.
   */
  private readonly spare: Buffer[] | undefined;

  constructor(
    readonly stream: Writable,
    options: BufferedLineWriterOptions = {},
  ) {
    this.chunkBytes = options.chunkBytes ?? 256 * 1024;
    this.maxDelayMs = options.maxDelayMs ?? 50;
    this.buf = Buffer.allocUnsafe(this.chunkBytes * 2);
    this.spare = stream instanceof Socket || stream instanceof WriteStream ? [] : undefined;
    stream.on('error', this.onError);
  }

  /** Lines accepted so far. */
  get lines(): number {
    return this.linesWritten;
  }

  /** Bytes accepted so far (newlines included). */
  get bytes(): number {
    return this.bytesWritten + this.off;
  }

  get needsDrain(): boolean {
    return this.blocked;
  }

  get error(): Error | undefined {
    return this.failure;
  }

  writeLine(line: string): void {
    if (this.failure) throw this.failure;
    if (this.off === 0 && this.maxDelayMs > 0 && this.timer === undefined) {
      this.timer = setTimeout(this.onTimer, this.maxDelayMs);
      this.timer.unref();
    }
    this.linesWritten++;
    // A UTF-16 code unit never takes more than 3 UTF-8 bytes.
    if (this.buf.length - this.off <= line.length * 3) {
      if (this.off > 0) this.writePending();
      if (line.length * 3 >= this.buf.length) {
        // Larger than a chunk: hand it over on its own.
        const data = Buffer.from(`${line}\n`);
        this.bytesWritten += data.length;
        if (!this.stream.write(data)) this.block();
        return;
      }
    }
    this.off += this.buf.write(line, this.off);
    this.buf[this.off++] = 0x0a;
    if (this.off >= this.chunkBytes) this.writePending();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    if (this.off > 0 && !this.failure) this.writePending();
  };

  /** Removes and returns the bytes not yet handed to the stream (for a last synchronous write). */
  takePending(): Buffer {
    const data = Buffer.from(this.buf.subarray(0, this.off));
    this.off = 0;
    return data;
  }

  writeMessage(message: AirbyteMessage): void {
    this.writeLine(JSON.stringify(message));
  }

  /** Resolves once the stream can take more; immediately when it is not backed up. */
  drain(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (!this.blocked) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Hands everything pending to the stream and waits until the stream accepted it. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    this.clearTimer();
    if (this.off > 0) {
      const data = this.takeChunk();
      await new Promise<void>((resolve, reject) => {
        const ok = this.stream.write(data, (err) => (err ? reject(err) : resolve()));
        if (!ok) this.block();
      });
    }
    await this.drain();
  }

  /** Flushes, then ends the stream (for sockets and files; never call it on stdout). */
  async end(): Promise<void> {
    await this.flush();
    await new Promise<void>((resolve) => this.stream.end(resolve));
    this.stream.off('error', this.onError);
  }

  /** Stops listening to the stream; pending bytes are dropped. */
  detach(): void {
    this.clearTimer();
    this.stream.off('error', this.onError);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** The pending bytes; the stream keeps the Buffer, so a fresh one takes its place. */
  private takeChunk(): Buffer {
    const data = this.buf.subarray(0, this.off);
    this.bytesWritten += this.off;
    this.buf = this.spare?.pop() ?? Buffer.allocUnsafe(this.chunkBytes * 2);
    this.off = 0;
    return data;
  }

  private writePending(): void {
    const full = this.buf;
    const data = this.takeChunk();
    const spare = this.spare;
    const ok =
      spare === undefined
        ? this.stream.write(data)
        : this.stream.write(data, (err) => {
            if (!err && spare.length < 4) spare.push(full);
          });
    if (!ok) this.block();
  }

  private block(): void {
    if (this.blocked) return;
    this.blocked = true;
    this.stream.once('drain', this.onDrain);
  }

  private readonly onDrain = (): void => {
    this.blocked = false;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.resolve();
  };

  private readonly onError = (err: Error): void => {
    this.failure ??= err;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  };
}
