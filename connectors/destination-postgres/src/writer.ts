import type { AirbyteMessage } from '@sluice/protocol';
import { from as copyFrom } from 'pg-copy-streams';
import type { Client } from './connect';
import type { RowEncoder } from './encode';
import { META_COLUMNS, qualified, quoteIdent } from './names';
import type { StreamPlan } from './plan';
import { newestFirst, type Target } from './tables';

/** A stream as a writer sees it: its plan, target and encoder, plus derived SQL. */
export class StreamSink {
  readonly copyColumns: string;
  readonly allColumns: string[];
  /** Bytes of buffered COPY text before it is written to the connection. */
  static readonly CHUNK_BYTES = 256 * 1024;
  /** Records received for this stream, and how many of them the transcoder read. */
  records = 0;
  transcoded = 0;

  constructor(
    readonly plan: StreamPlan,
    readonly target: Target,
    readonly encoder: RowEncoder,
  ) {
    this.allColumns = [...META_COLUMNS, ...plan.columns.map((c) => c.name)];
    this.copyColumns = this.allColumns.map(quoteIdent).join(', ');
  }

  get targetSql(): string {
    return qualified(this.target.schema, this.target.table);
  }

  /** 64-bit key serialising merges into one target across connections (no deadlocks between partitions). */
  get lockKey(): string {
    return BigInt.asIntN(64, BigInt(`0x${this.plan.id.slice(0, 16).padEnd(16, '0')}`)).toString();
  }
}

/**
 * Commit order across connections in socket mode. A dedup merge is not commutative when a CDC
 * delete removes a row: an older update merged after it would bring the row back. Slices are
 * numbered by their state ids in source order, so merging each slice in id order applies
 * changes in the order the source saw them, while the COPYs still run in parallel.
 */
export class CommitSequencer {
  private next = 1;
  private readonly waiting = new Map<number, Array<{ resolve: () => void; reject: (e: Error) => void }>>();
  private failure: Error | undefined;
  /** The highest state id received; commits without a state (end of input) go after it. */
  maxSeen = 0;
  private readonly seenIds = new Set<number>();
  private sealed: Error | undefined;

  seen(id: number): void {
    if (id > this.maxSeen) this.maxSeen = id;
    this.seenIds.add(id);
  }

  /**
   * The input failed: no more states will come. Commits waiting behind a state that never
   * arrived give up; the others still run, so their states are acknowledged.
   */
  seal(reason: Error): void {
    this.sealed = reason;
    for (const id of [...this.waiting.keys()]) {
      if (this.unreachable(id)) {
        for (const w of this.waiting.get(id)!) w.reject(reason);
        this.waiting.delete(id);
      }
    }
  }

  private unreachable(id: number): boolean {
    if (!this.sealed) return false;
    for (let i = this.next; i < id; i++) if (!this.seenIds.has(i)) return true;
    return false;
  }

  turn(id: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (id <= this.next) return Promise.resolve();
    if (this.unreachable(id)) return Promise.reject(this.sealed!);
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(id, list);
    });
  }

  done(id: number): void {
    if (id < this.next) return;
    this.next = id + 1;
    const ws = this.waiting.get(this.next);
    if (ws) {
      this.waiting.delete(this.next);
      for (const w of ws) w.resolve();
    }
  }

  abort(err: Error): void {
    this.failure ??= err;
    for (const ws of this.waiting.values()) for (const w of ws) w.reject(err);
    this.waiting.clear();
  }
}

/** COPY text of one stream, encoded straight into a buffer handed to the connection when full. */
interface Buffered {
  sink: StreamSink;
  buf: Buffer;
  bytes: number;
}

const newChunk = () => Buffer.allocUnsafe(StreamSink.CHUNK_BYTES);

type CopyStream = ReturnType<typeof copyFrom>;

/**
 * One connection's writes: a transaction that stays open across records and closes only at
 * a STATE boundary, so a commit covers exactly the states acknowledged after it. Records are
 * encoded to COPY text as they arrive and written in chunks to a COPY that stays open while
 * the same stream keeps coming. Dedup streams COPY into a temporary table merged into their
 * target at commit. All database work runs on one promise chain; the caller only enqueues.
 */
export class PartitionWriter {
  private chain: Promise<void> = Promise.resolve();
  private queued = 0;
  private waiters: Array<() => void> = [];
  failure: Error | undefined;

  private readonly buffers = new Map<StreamSink, Buffered>();
  private inTransaction = false;
  private copy: { sink: StreamSink; stream: CopyStream } | undefined;
  private readonly tempTables = new Map<StreamSink, string>();
  private readonly merged = new Set<StreamSink>();
  private bytesSinceCommit = 0;
  private recordsSinceCommit = 0;
  private openedAt = 0;
  private pendingStates: AirbyteMessage[] = [];
  committedRecords = 0;
  commits = 0;

  private waitingForTurn = false;

  constructor(
    readonly index: number,
    private readonly client: Client,
    private readonly ack: (state: AirbyteMessage) => void,
    private readonly commitBytes: number,
    private readonly commitIntervalMs: number,
    /** Set when commits must follow state ids across connections (socket mode, dedup streams). */
    private readonly sequencer?: CommitSequencer,
  ) {}

  /** Tasks waiting on the chain: the caller waits when there are too many (backpressure). */
  get backlog(): number {
    return this.queued;
  }

  private enqueue(task: () => Promise<void>): void {
    this.queued++;
    this.chain = this.chain.then(async () => {
      try {
        if (!this.failure) await task();
      } catch (err) {
        this.failure ??= err as Error;
        this.sequencer?.abort(this.failure);
      } finally {
        this.queued--;
        this.wakeWaiters();
      }
    });
  }

  private wakeWaiters(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /**
   * Resolves once at most `n` tasks are queued, or once this writer waits for another
   * connection's commit: that commit may need input the caller has not read yet.
   */
  async drainTo(n: number): Promise<void> {
    while (this.queued > n && !this.failure && !this.waitingForTurn)
      await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Waits for every queued task; throws the first failure. */
  async settle(): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
  }

  /** Buffers one encoded row; full buffers are written by the chain. */
  append(sink: StreamSink, line: string): void {
    let b = this.buffers.get(sink);
    if (!b) {
      b = { sink, buf: newChunk(), bytes: 0 };
      this.buffers.set(sink, b);
    }
    // UTF-8 takes at most 3 bytes per UTF-16 unit: make sure the line fits before encoding it.
    if (b.bytes + line.length * 3 > b.buf.length) {
      if (b.bytes > 0) this.flushBuffer(b);
      if (line.length * 3 > b.buf.length) {
        const big = Buffer.from(line);
        this.enqueue(() => this.writeChunk(sink, big));
        this.counted(line.length);
        return;
      }
    }
    b.bytes += b.buf.write(line, b.bytes);
    this.counted(line.length);
  }

  /**
   * Buffers a row already encoded as bytes (by the transcoder) without its newline; a dedup
   * stream's sequence number is added here, in arrival order, as the encoder adds it.
   */
  appendRow(sink: StreamSink, row: Buffer, start: number, end: number, sequence: number | undefined): void {
    let b = this.buffers.get(sink);
    if (!b) {
      b = { sink, buf: newChunk(), bytes: 0 };
      this.buffers.set(sink, b);
    }
    const seq = sequence === undefined ? '' : `\t${sequence}`;
    const len = end - start + seq.length + 1;
    if (b.bytes + len > b.buf.length) {
      if (b.bytes > 0) this.flushBuffer(b);
      if (len > b.buf.length) {
        const big = Buffer.allocUnsafe(len);
        row.copy(big, 0, start, end);
        big.write(`${seq}\n`, end - start, 'latin1');
        this.enqueue(() => this.writeChunk(sink, big));
        this.counted(len);
        return;
      }
    }
    const buf = b.buf;
    let o = b.bytes + row.copy(buf, b.bytes, start, end);
    if (sequence !== undefined) o += buf.write(seq, o, 'latin1');
    buf[o++] = 0x0a;
    b.bytes = o;
    this.counted(len);
  }

  private counted(chars: number): void {
    this.bytesSinceCommit += chars;
    this.recordsSinceCommit++;
    if (this.openedAt === 0) this.openedAt = Date.now();
  }

  private flushBuffer(b: Buffered): void {
    const chunk = b.buf.subarray(0, b.bytes);
    // The connection may still hold the old buffer in its write queue: never reuse it.
    b.buf = newChunk();
    b.bytes = 0;
    const sink = b.sink;
    this.enqueue(() => this.writeChunk(sink, chunk));
  }

  /** A STATE: acknowledged now when nothing is uncommitted, else after the commit that covers it. */
  state(message: AirbyteMessage): void {
    this.pendingStates.push(message);
    if (this.sequencer && typeof message.state?.id === 'number') {
      // Ordered commits: every state is a commit point, taken in id order across connections.
      this.sequencer.seen(message.state.id);
      this.commit();
      return;
    }
    if (this.recordsSinceCommit === 0) {
      const states = this.takeStates();
      // Behind any commit still queued, so echoes keep their order.
      this.enqueue(async () => this.ackAll(states));
      return;
    }
    const due =
      this.bytesSinceCommit >= this.commitBytes || Date.now() - this.openedAt >= this.commitIntervalMs;
    if (due) this.commit();
  }

  /**
   * Commits everything appended so far, then acknowledges the states received so far: the
   * states are taken now, so states arriving while the commit waits in the queue wait for
   * the next one.
   */
  commit(): void {
    for (const b of this.buffers.values()) if (b.bytes > 0) this.flushBuffer(b);
    this.bytesSinceCommit = 0;
    this.recordsSinceCommit = 0;
    this.openedAt = 0;
    const states = this.takeStates();
    this.enqueue(() => this.commitNow(states));
  }

  private takeStates(): AirbyteMessage[] {
    const states = this.pendingStates;
    this.pendingStates = [];
    return states;
  }

  private ackAll(states: AirbyteMessage[]): void {
    for (const s of states) this.ack(s);
  }

  private async begin(): Promise<void> {
    if (this.inTransaction) return;
    await this.client.query('BEGIN');
    this.inTransaction = true;
  }

  private async tempTableFor(sink: StreamSink): Promise<string> {
    let name = this.tempTables.get(sink);
    if (name) return name;
    name = quoteIdent(`sluice_merge_${sink.plan.id}`);
    // Lives as long as this connection; ON COMMIT DELETE ROWS empties it after every merge.
    await this.client.query(
      `CREATE TEMPORARY TABLE IF NOT EXISTS ${name} (LIKE ${sink.targetSql}) ON COMMIT DELETE ROWS`,
    );
    await this.client.query(`ALTER TABLE ${name} ADD COLUMN IF NOT EXISTS "_sluice_seq" bigint`);
    this.tempTables.set(sink, name);
    return name;
  }

  private async startCopy(sink: StreamSink): Promise<CopyStream> {
    let target = sink.targetSql;
    let columns = sink.copyColumns;
    if (sink.plan.dedup) {
      target = await this.tempTableFor(sink);
      columns += ', "_sluice_seq"';
      this.merged.add(sink);
    }
    const stream = this.client.query(copyFrom(`COPY ${target} (${columns}) FROM STDIN`));
    stream.on('error', (err: Error) => {
      this.failure ??= err;
    });
    return stream;
  }

  private async endCopy(): Promise<void> {
    const c = this.copy;
    if (!c) return;
    this.copy = undefined;
    await new Promise<void>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      c.stream.once('finish', resolve);
      c.stream.once('error', reject);
      c.stream.end();
    });
  }

  private async writeChunk(sink: StreamSink, chunk: Buffer): Promise<void> {
    await this.begin();
    if (this.copy?.sink !== sink) {
      await this.endCopy();
      this.copy = { sink, stream: await this.startCopy(sink) };
    }
    const stream = this.copy.stream;
    if (!stream.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => {
          stream.off('drain', onDrain);
          reject(err);
        };
        const onDrain = () => {
          stream.off('error', onError);
          resolve();
        };
        stream.once('drain', onDrain);
        stream.once('error', onError);
      });
    }
  }

  private async commitNow(states: AirbyteMessage[]): Promise<void> {
    const ids = this.sequencer ? states.map((m) => m.state?.id).filter((id) => typeof id === 'number') : [];
    if (this.inTransaction) await this.endCopy();
    if (this.sequencer && (ids.length > 0 || this.inTransaction)) {
      // The COPY is done (in parallel with the other connections); merging waits for its turn.
      // Records after the last state (end of input) go after every state.
      this.waitingForTurn = true;
      this.wakeWaiters();
      try {
        await this.sequencer.turn(ids.length > 0 ? Math.min(...ids) : this.sequencer.maxSeen + 1);
      } finally {
        this.waitingForTurn = false;
      }
    }
    if (this.inTransaction) {
      // Merges in one order on every connection, each under its target's lock.
      const merges = [...this.merged].sort((a, b) => (a.plan.id < b.plan.id ? -1 : 1));
      for (const sink of merges) await this.merge(sink);
      this.merged.clear();
      await this.client.query('COMMIT');
      this.inTransaction = false;
      this.commits++;
    }
    this.ackAll(states);
    if (ids.length > 0) this.sequencer!.done(Math.max(...ids));
  }

  /**
   * Folds the temporary table into the target: per primary key the newest row (by cursor, then
   * extraction time, then arrival) replaces an older one; rows whose newest version is a CDC
   * delete are removed. Rows missing a key value cannot be matched and are inserted as they are.
   */
  private async merge(sink: StreamSink): Promise<void> {
    const plan = sink.plan;
    const temp = this.tempTables.get(sink)!;
    const target = sink.targetSql;
    const cols = sink.copyColumns;
    const pk = plan.pk.map(quoteIdent);
    const keyed = pk.map((c) => `${c} IS NOT NULL`).join(' AND ');
    const unkeyed = pk.map((c) => `${c} IS NULL`).join(' OR ');
    const pkSet = new Set(plan.pk);
    const updates = sink.allColumns
      .filter((c) => !pkSet.has(c))
      .map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
    const extracted = quoteIdent('_airbyte_extracted_at');
    let wins = `EXCLUDED.${extracted} >= t.${extracted}`;
    if (plan.cursor) {
      const c = quoteIdent(plan.cursor);
      wins = `(EXCLUDED.${c} IS NOT NULL AND t.${c} IS NULL) OR EXCLUDED.${c} > t.${c} OR (EXCLUDED.${c} IS NOT DISTINCT FROM t.${c} AND ${wins})`;
    }
    await this.client.query(`SELECT pg_advisory_xact_lock(${sink.lockKey})`);
    await this.client.query(
      `INSERT INTO ${target} AS t (${cols})
       SELECT DISTINCT ON (${pk.join(', ')}) ${cols} FROM ${temp} WHERE ${keyed}
        ORDER BY ${pk.join(', ')}, ${newestFirst(plan)}, "_sluice_seq" DESC
       ON CONFLICT (${pk.join(', ')}) DO ${updates.length > 0 ? `UPDATE SET ${updates.join(', ')} WHERE ${wins}` : 'NOTHING'}`,
    );
    await this.client.query(`INSERT INTO ${target} (${cols}) SELECT ${cols} FROM ${temp} WHERE ${unkeyed}`);
    if (plan.cdcDeletedAt) {
      const match = pk.map((c) => `t.${c} = s.${c}`).join(' AND ');
      await this.client.query(
        `DELETE FROM ${target} t USING ${temp} s WHERE ${match} AND t.${quoteIdent(plan.cdcDeletedAt)} IS NOT NULL`,
      );
    }
  }

  /** Records and states still waiting for a commit. */
  get uncommitted(): { records: number; states: number } {
    return { records: this.recordsSinceCommit, states: this.pendingStates.length };
  }
}
