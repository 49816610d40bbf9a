import type { DbOrTx } from '@sluice/db';

const FLUSH_MS = 250;
const FLUSH_BYTES = 256 * 1024;
/** Check and discover logs are short; a connector printing more is cut off with a note. */
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * Appends an attempt's log to `attempt_log_chunks` while it runs, a chunk per flush, so a
 * client following the log (job.attemptLog with `afterSequence`) sees it grow.
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
        await this.db.attemptLogChunk.create({ data: { attemptId: this.attemptId, sequence, text } });
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

export interface LogPage {
  chunks: Array<{ sequence: number; text: string; createdAt: string }>;
  /** Pass as `afterSequence` to get what follows; -1 when nothing was written yet. */
  lastSequence: number;
  /** The attempt ended: once `chunks` comes back empty, the log is complete. */
  complete: boolean;
}

export async function readAttemptLog(
  db: DbOrTx,
  attemptId: string,
  afterSequence: number,
  limit: number,
  attemptEnded: boolean,
): Promise<LogPage> {
  const rows = await db.attemptLogChunk.findMany({
    where: { attemptId, sequence: { gt: afterSequence } },
    orderBy: { sequence: 'asc' },
    take: limit,
  });
  return {
    chunks: rows.map((r) => ({ sequence: r.sequence, text: r.text, createdAt: r.createdAt.toISOString() })),
    lastSequence: rows.at(-1)?.sequence ?? afterSequence,
    complete: attemptEnded && rows.length < limit,
  };
}
