/** One chunk of the attempt log (LogChunk of @sluice/workload): numbered from 0 by this writer. */
export interface LogChunk {
  sequence: number;
  text: string;
}

export interface LogBatcherOptions {
  /** Appends chunks to the attempt log; throws on failure. A retried call repeats sequences
   * already stored, which the API skips. */
  send(chunks: LogChunk[]): Promise<void>;
  isTransient(err: unknown): boolean;
  /** Lines wait at most this long. Default 1000 ms. */
  flushMs?: number;
  /** A chunk is cut at this many characters. Default 256 Ki (the API takes up to 1 M). */
  chunkChars?: number;
  /** Chunks per API call (the API takes up to 1000). Default 16. */
  chunksPerCall?: number;
  /** Above this many buffered characters `needsDrain` is set: producers that can wait, wait. */
  softLimitChars?: number;
  /** Above this, lines are dropped (counted, and said so in the log). Default 32 Mi. */
  hardLimitChars?: number;
  /** One line longer than this is cut. Default 64 Ki. */
  maxLineChars?: number;
  onDropped?(err: unknown): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Batches attempt-log lines into numbered chunks and appends them through the Workload API in
 * the background. Memory is bounded: a flood of lines first sets `needsDrain` (the router then
 * stops reading the connector that floods), and past a hard limit lines are dropped and counted.
 * While the API is unreachable, chunks wait and are retried with their own numbers.
 */
export class LogBatcher {
  private lines: string[] = [];
  private lineChars = 0;
  private chunks: LogChunk[] = [];
  private chunkChars = 0;
  private sequence = 0;
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> | undefined;
  private waiters: Array<() => void> = [];
  private dropped = 0;
  private closed = false;
  private backoffMs = 0;
  linesWritten = 0;
  linesDropped = 0;
  chunksSent = 0;
  private readonly flushMs: number;
  private readonly maxChunk: number;
  private readonly perCall: number;
  private readonly soft: number;
  private readonly hard: number;
  private readonly maxLine: number;

  constructor(private readonly opts: LogBatcherOptions) {
    this.flushMs = opts.flushMs ?? 1000;
    this.maxChunk = opts.chunkChars ?? 256 * 1024;
    this.perCall = opts.chunksPerCall ?? 16;
    this.soft = opts.softLimitChars ?? 4 * 1024 * 1024;
    this.hard = opts.hardLimitChars ?? 32 * 1024 * 1024;
    this.maxLine = opts.maxLineChars ?? 64 * 1024;
  }

  private get buffered(): number {
    return this.lineChars + this.chunkChars;
  }

  get needsDrain(): boolean {
    return this.buffered >= this.soft;
  }

  /** Resolves once the buffer is below the soft limit. */
  drain(): Promise<void> {
    if (!this.needsDrain) return Promise.resolve();
    this.kick();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  line(text: string): void {
    if (this.closed) return;
    if (text.length > this.maxLine) {
      text = `${text.slice(0, this.maxLine)}… [${text.length - this.maxLine} more characters cut]`;
    }
    if (this.buffered + text.length > this.hard) {
      this.dropped++;
      this.linesDropped++;
      return;
    }
    if (this.dropped > 0) {
      this.push(
        `${new Date().toISOString()} platform > WARN ${this.dropped} log lines were dropped: the log grew faster than it could be stored`,
      );
      this.dropped = 0;
    }
    this.push(text);
  }

  private push(text: string): void {
    this.lines.push(text);
    this.lineChars += text.length + 1;
    this.linesWritten++;
    if (this.lineChars >= this.maxChunk) {
      this.cut();
      this.kick();
    } else if (!this.timer && !this.sending) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.cut();
        this.kick();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  private cut(): void {
    if (this.lines.length === 0) return;
    const text = `${this.lines.join('\n')}\n`;
    this.lines = [];
    this.lineChars = 0;
    this.chunks.push({ sequence: this.sequence++, text });
    this.chunkChars += text.length;
  }

  private kick(): void {
    if (this.sending || this.chunks.length === 0) return;
    this.sending = this.sendAll().finally(() => {
      this.sending = undefined;
      if (this.lines.length > 0 && !this.timer && !this.closed) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.cut();
          this.kick();
        }, this.flushMs);
        this.timer.unref();
      }
    });
  }

  private async sendAll(): Promise<void> {
    while (this.chunks.length > 0) {
      if (this.backoffMs > 0) await sleep(this.backoffMs);
      const batch = this.chunks.slice(0, this.perCall);
      try {
        await this.opts.send(batch);
        this.backoffMs = 0;
      } catch (err) {
        if (this.opts.isTransient(err) && !this.giveUp) {
          this.backoffMs = Math.min(5000, Math.max(200, this.backoffMs * 2));
          continue;
        }
        this.opts.onDropped?.(err);
      }
      this.chunks.splice(0, batch.length);
      this.chunksSent += batch.length;
      for (const c of batch) this.chunkChars -= c.text.length;
      if (!this.needsDrain && this.waiters.length) {
        const w = this.waiters;
        this.waiters = [];
        for (const r of w) r();
      }
    }
  }

  private giveUp = false;

  /**
   * Sends everything buffered. With `deadlineMs`, stops retrying after that long (what is left
   * is lost: the workload is ending and the API stayed down).
   */
  async flush(deadlineMs?: number): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.cut();
    this.kick();
    let timer: NodeJS.Timeout | undefined;
    const deadline =
      deadlineMs === undefined
        ? undefined
        : new Promise<void>((resolve) => {
            timer = setTimeout(() => {
              this.giveUp = true;
              resolve();
            }, deadlineMs);
          });
    while (this.sending) {
      await (deadline ? Promise.race([this.sending, deadline]) : this.sending);
      if (this.giveUp) break;
      this.cut();
      this.kick();
    }
    if (timer) clearTimeout(timer);
  }

  async close(deadlineMs?: number): Promise<void> {
    await this.flush(deadlineMs);
    this.closed = true;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }
}
