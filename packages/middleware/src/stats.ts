import { streamKey } from '@sluice/protocol';

/** Cumulative counters of one stream in this attempt (the source's stream names). */
export interface StreamCounter {
  key: string;
  name: string;
  namespace: string | undefined;
  recordsEmitted: number;
  bytesEmitted: number;
  recordsCommitted: number;
  bytesCommitted: number;
  /** Records of this stream the middleware did not forward (invalid, or unknown stream). */
  recordsDropped: number;
  estimatedRecords: number | undefined;
  estimatedBytes: number | undefined;
  /** Socket mode: records and bytes the destination said it read (its stats messages). */
  readRecords: number;
  readBytes: number;
  /** Changed since the last state snapshot. */
  dirty: boolean;
}

/** Emitted counters of the streams that changed before a state, as of that state. */
export type CounterSnapshot = Array<[StreamCounter, number, number]>;

/** What the Workload API stores per stream (StreamStatsReport of @sluice/workload). */
export interface StreamStatsReport {
  stream: { name: string; namespace?: string | null };
  recordsEmitted?: number;
  bytesEmitted?: number;
  recordsCommitted?: number;
  bytesCommitted?: number;
  recordsRejected?: number;
  estimatedRecords?: number | null;
  estimatedBytes?: number | null;
}

/**
 * Per-stream counters. The router bumps `recordsEmitted`/`bytesEmitted` on the hot path (plain
 * field increments on an object it keeps), marks the stream dirty, and snapshots the dirty
 * streams at each state; committing that state later sets the committed counters to the
 * snapshot, so committed never exceeds emitted and never moves backwards.
 */
export class SyncStats {
  private readonly byKey = new Map<string, StreamCounter>();
  private dirtyList: StreamCounter[] = [];
  /** Records with no stream the catalog knows, by label. */
  readonly unknownStreams = new Map<string, number>();
  /** RECORD lines that could not be read (invalid JSON or envelope): dropped. */
  invalidRecords = 0;

  counter(name: string, namespace?: string | null): StreamCounter {
    const key = streamKey(name, namespace ?? undefined);
    let c = this.byKey.get(key);
    if (!c) {
      c = {
        key,
        name,
        namespace: namespace ?? undefined,
        recordsEmitted: 0,
        bytesEmitted: 0,
        recordsCommitted: 0,
        bytesCommitted: 0,
        recordsDropped: 0,
        estimatedRecords: undefined,
        estimatedBytes: undefined,
        readRecords: 0,
        readBytes: 0,
        dirty: false,
      };
      this.byKey.set(key, c);
    }
    return c;
  }

  markDirty(c: StreamCounter): void {
    if (!c.dirty) {
      c.dirty = true;
      this.dirtyList.push(c);
    }
  }

  /** The dirty streams' emitted counters now; clears the dirty marks. */
  snapshot(): CounterSnapshot {
    const snap: CounterSnapshot = this.dirtyList.map((c) => [c, c.recordsEmitted, c.bytesEmitted]);
    for (const c of this.dirtyList) c.dirty = false;
    this.dirtyList = [];
    return snap;
  }

  commit(snap: CounterSnapshot): void {
    for (const [c, records, bytes] of snap) {
      if (records > c.recordsCommitted) c.recordsCommitted = records;
      if (bytes > c.bytesCommitted) c.bytesCommitted = bytes;
    }
  }

  /**
   * Socket mode: records of a committed state (the count it carries). The middleware sees no
   * records; what was emitted is at least what was committed.
   */
  addCommitted(name: string, namespace: string | undefined, records: number): void {
    const c = this.counter(name, namespace);
    c.recordsCommitted += records;
    if (c.recordsEmitted < c.recordsCommitted) c.recordsEmitted = c.recordsCommitted;
    this.socketBytes(c);
  }

  /** Socket mode: the destination's cumulative count of what it read of a stream. */
  readByDestination(name: string, namespace: string | undefined, records: number, bytes: number): void {
    const c = this.counter(name, namespace);
    if (records > c.readRecords) c.readRecords = records;
    if (bytes > c.readBytes) c.readBytes = bytes;
    if (c.readRecords > c.recordsEmitted) c.recordsEmitted = c.readRecords;
    this.socketBytes(c);
  }

  /**
   * Socket mode, after the destination exited cleanly: it committed everything it read (also
   * records after its last state, and streams of states that name several streams).
   */
  commitAllRead(): void {
    for (const c of this.byKey.values()) {
      if (c.readRecords > c.recordsCommitted) c.recordsCommitted = c.readRecords;
      if (c.recordsEmitted < c.recordsCommitted) c.recordsEmitted = c.recordsCommitted;
      this.socketBytes(c);
    }
  }

  /** Bytes follow records: what was read, and the committed share of it at the read average. */
  private socketBytes(c: StreamCounter): void {
    if (c.readBytes > c.bytesEmitted) c.bytesEmitted = c.readBytes;
    if (c.readRecords === 0) return;
    const committed = Math.min(
      c.bytesEmitted,
      Math.round((c.readBytes / c.readRecords) * c.recordsCommitted),
    );
    if (committed > c.bytesCommitted) c.bytesCommitted = committed;
  }

  estimate(
    name: string,
    namespace: string | undefined,
    rows: number | undefined,
    bytes: number | undefined,
  ): void {
    const c = this.counter(name, namespace);
    if (rows !== undefined) c.estimatedRecords = rows;
    if (bytes !== undefined) c.estimatedBytes = bytes;
  }

  unknown(label: string): number {
    const n = (this.unknownStreams.get(label) ?? 0) + 1;
    this.unknownStreams.set(label, n);
    return n;
  }

  get streams(): StreamCounter[] {
    return [...this.byKey.values()];
  }

  totals(): {
    recordsEmitted: number;
    bytesEmitted: number;
    recordsCommitted: number;
    bytesCommitted: number;
    recordsDropped: number;
  } {
    const t = {
      recordsEmitted: 0,
      bytesEmitted: 0,
      recordsCommitted: 0,
      bytesCommitted: 0,
      recordsDropped: 0,
    };
    for (const c of this.byKey.values()) {
      t.recordsEmitted += c.recordsEmitted;
      t.bytesEmitted += c.bytesEmitted;
      t.recordsCommitted += c.recordsCommitted;
      t.bytesCommitted += c.bytesCommitted;
      t.recordsDropped += c.recordsDropped;
    }
    for (const n of this.unknownStreams.values()) t.recordsDropped += n;
    t.recordsDropped += this.invalidRecords;
    return t;
  }

  reports(): StreamStatsReport[] {
    return this.streams.map((c) => ({
      stream: { name: c.name, namespace: c.namespace ?? null },
      recordsEmitted: c.recordsEmitted,
      bytesEmitted: c.bytesEmitted,
      recordsCommitted: c.recordsCommitted,
      bytesCommitted: c.bytesCommitted,
      recordsRejected: c.recordsDropped,
      ...(c.estimatedRecords !== undefined
        ? { estimatedRecords: Math.max(0, Math.round(c.estimatedRecords)) }
        : {}),
      ...(c.estimatedBytes !== undefined
        ? { estimatedBytes: Math.max(0, Math.round(c.estimatedBytes)) }
        : {}),
    }));
  }
}
