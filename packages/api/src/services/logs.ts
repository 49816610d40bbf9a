import type { DbOrTx } from '@sluice/db';
import { appendAttemptLogChunks, MAX_LOG_SEQUENCE } from '@sluice/workload';

const FLUSH_MS = 250;
const FLUSH_BYTES = 256 * 1024;
/** Check and discover logs are short; a connector printing more is cut off with a note. */
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * The API's own lines of an attempt (a connector job it runs, the local runner): appended to
 * `attempt_log_chunks` while it runs, a chunk per flush, so a client following the log
 * (job.attemptLog with its cursor) sees it grow. Chunks are the `api` writer's, numbered from 0
 * in its own range: the middleware and launcher of the same attempt write theirs alongside.
 * One writer per attempt; its chunks are stored one after the other, in order.
 */
export class AttemptLogWriter {
  #sequence: number;
  #buffer: string[] = [];
  #bufferBytes = 0;
  #totalBytes = 0;
  #truncated = false;
  #timer: NodeJS.Timeout | null = null;
  #chain: Promise<void> = Promise.resolve();
  #failed: Error | null = null;

  constructor(
    private readonly db: DbOrTx,
    private readonly attemptId: string,
    startSequence = 0,
  ) {
    if (startSequence < 0 || startSequence > MAX_LOG_SEQUENCE)
      throw new RangeError('startSequence out of range');
    this.#sequence = startSequence;
  }

  append(line: string): void {
    if (this.#truncated) return;
    const text = `${new Date().toISOString()} ${line}`;
    this.#totalBytes += text.length + 1;
    if (this.#totalBytes > MAX_BYTES) {
      this.#truncated = true;
      this.#push(`${new Date().toISOString()} [platform] log truncated at ${MAX_BYTES} bytes`);
      return;
    }
    this.#push(text);
  }

  #push(text: string): void {
    this.#buffer.push(text);
    this.#bufferBytes += text.length + 1;
    if (this.#bufferBytes >= FLUSH_BYTES) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    if (this.#buffer.length === 0) return this.#chain;
    const text = `${this.#buffer.join('\n')}\n`;
    this.#buffer = [];
    this.#bufferBytes = 0;
    const sequence = this.#sequence++;
    this.#chain = this.#chain.then(async () => {
      try {
        await appendAttemptLogChunks(this.db, this.attemptId, 'api', [{ sequence, text }]);
      } catch (err) {
        this.#failed ??= err as Error;
      }
    });
    return this.#chain;
  }

  /** Writes what is buffered; reports a write that failed on the way (the caller logs it). */
  async close(): Promise<Error | null> {
    await this.flush();
    return this.#failed;
  }
}
