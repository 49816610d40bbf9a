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

  /** Socket mode: the middleware sees no records, only the counts states carry. */
  addEmittedAndCommitted(name: string, namespace: string | undefined, records: number): void {
    const c = this.counter(name, namespace);
    c.recordsEmitted += records;
    c.recordsCommitted += records;
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
