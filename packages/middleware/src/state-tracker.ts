/**
 * Checkpoint bookkeeping (DESIGN §3 Checkpoint, invariant 4): a source's STATE is only a promise;
 * the destination's echo of it means every record before it is committed, and only echoed
 * states are persisted.
 */
import { type AirbyteStateMessage, stateTypeOf } from '@sluice/protocol';
import type { CounterSnapshot } from './stats';

type Descriptor = { name: string; namespace?: string };
export type DescriptorMap = <D extends Descriptor>(d: D) => D;

/** Applies `map` to every stream descriptor of a state (STREAM and GLOBAL); LEGACY has none. */
export function mapStateDescriptors(state: AirbyteStateMessage, map: DescriptorMap): AirbyteStateMessage {
  if (state.stream) {
    const d = state.stream.stream_descriptor;
    const mapped = map(d);
    if (mapped === d) return state;
    return { ...state, stream: { ...state.stream, stream_descriptor: mapped } };
  }
  if (state.global) {
    let changed = false;
    const streamStates = state.global.stream_states.map((s) => {
      const mapped = map(s.stream_descriptor);
      if (mapped === s.stream_descriptor) return s;
      changed = true;
      return { ...s, stream_descriptor: mapped };
    });
    return changed ? { ...state, global: { ...state.global, stream_states: streamStates } } : state;
  }
  return state;
}

/** The state as persisted: without the transport's `id` and `partition_id`. */
export function persistableState(state: AirbyteStateMessage): AirbyteStateMessage {
  const {
    id: _id,
    partition_id: _partition,
    ...rest
  } = state as AirbyteStateMessage & {
    id?: unknown;
    partition_id?: unknown;
  };
  return rest;
}

interface PendingState {
  id: number;
  snapshot: CounterSnapshot;
  records: number;
}

export type EchoOutcome =
  /** The echo committed `count` pending states (its own and every earlier one). */
  | { kind: 'committed'; state: AirbyteStateMessage; id: number; count: number; records: number }
  /** Its id was committed already (a duplicate echo): nothing changes. */
  | { kind: 'stale'; id: number }
  /** No state with this id was forwarded: a destination inventing states is ignored. */
  | { kind: 'unknown'; id: number | undefined };

/**
 * stdio mode. Each source state gets an increasing `id` before it is forwarded (Airbyte does the
 * same), so an echo names exactly the state it acknowledges. An echo of id N commits every pending
 * state up to N: the destination has committed every record before it. Echoes without an id (a
 * destination that rebuilds the message) commit the oldest pending state.
 */
export class StdioStateTracker {
  private nextId = 1;
  private queue: PendingState[] = [];
  private head = 0;
  private lastCommittedId = 0;
  statesEmitted = 0;
  statesCommitted = 0;
  recordsCommitted = 0;

  constructor(
    private readonly toDestination: DescriptorMap = (d) => d,
    private readonly toSource: DescriptorMap = (d) => d,
  ) {}

  get pending(): number {
    return this.queue.length - this.head;
  }

  /**
   * Registers a source state and returns the message to forward: an `id`, the stream descriptors
   * under the destination's names, `sourceStats.recordCount` = records forwarded since the last
   * state (what the destination will have received).
   */
  onSourceState(state: AirbyteStateMessage, snapshot: CounterSnapshot, records: number): AirbyteStateMessage {
    const id = this.nextId++;
    this.queue.push({ id, snapshot, records });
    this.statesEmitted++;
    const mapped = mapStateDescriptors(state, this.toDestination);
    return {
      ...mapped,
      id,
      sourceStats: { ...state.sourceStats, recordCount: records },
    } as AirbyteStateMessage;
  }

  onEcho(echo: AirbyteStateMessage, commit: (snapshot: CounterSnapshot) => void): EchoOutcome {
    const raw = (echo as { id?: unknown }).id;
    let id: number | undefined = typeof raw === 'number' && Number.isInteger(raw) ? raw : undefined;
    if (id === undefined) {
      if (this.pending === 0) return { kind: 'unknown', id: undefined };
      id = this.queue[this.head]!.id;
    }
    if (id <= this.lastCommittedId) return { kind: 'stale', id };
    if (id >= this.nextId) return { kind: 'unknown', id };
    let count = 0;
    let records = 0;
    while (this.head < this.queue.length && this.queue[this.head]!.id <= id) {
      const p = this.queue[this.head]!;
      this.queue[this.head] = undefined as never;
      this.head++;
      commit(p.snapshot);
      count++;
      records += p.records;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.lastCommittedId = id;
    this.statesCommitted += count;
    this.recordsCommitted += records;
    return {
      kind: 'committed',
      state: persistableState(mapStateDescriptors(echo, this.toSource)),
      id,
      count,
      records,
    };
  }
}

/**
 * socket mode. The middleware sees no source state (they travel with the records); the
 * destination echoes each state with the source's `id`, which increases across all sockets. An
 * echo is released for persistence only once every lower id has been echoed too, so a state is
 * never persisted ahead of one on another socket that is not committed yet. At a clean end of the
 * destination whatever is held is released in id order (the destination acknowledged it all).
 */
export class SocketStateTracker {
  private readonly held = new Map<number, AirbyteStateMessage>();
  private nextId: number | undefined;
  statesCommitted = 0;
  recordsCommitted = 0;

  constructor(private readonly firstId = 1) {}

  get heldCount(): number {
    return this.held.size;
  }

  /** The states this echo releases, in id order (possibly none). */
  onEcho(echo: AirbyteStateMessage): AirbyteStateMessage[] {
    const raw = (echo as { id?: unknown }).id;
    if (typeof raw !== 'number' || !Number.isInteger(raw)) return [this.released(echo)];
    const next = this.nextId ?? Math.min(this.firstId, raw);
    if (raw < next || this.held.has(raw)) return [];
    this.nextId = next;
    this.held.set(raw, echo);
    const out: AirbyteStateMessage[] = [];
    for (let s = this.held.get(this.nextId); s; s = this.held.get(this.nextId)) {
      this.held.delete(this.nextId);
      this.nextId++;
      out.push(this.released(s));
    }
    return out;
  }

  releaseAll(): AirbyteStateMessage[] {
    const ids = [...this.held.keys()].sort((a, b) => a - b);
    const out = ids.map((id) => this.released(this.held.get(id)!));
    this.held.clear();
    if (ids.length) this.nextId = ids[ids.length - 1]! + 1;
    return out;
  }

  private released(s: AirbyteStateMessage): AirbyteStateMessage {
    this.statesCommitted++;
    this.recordsCommitted += recordCountOf(s);
    return s;
  }
}

/** Records a state covers: what the destination counted, else what the source claimed. */
export function recordCountOf(s: AirbyteStateMessage): number {
  const n = s.destinationStats?.recordCount ?? s.sourceStats?.recordCount ?? 0;
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

export { stateTypeOf };
