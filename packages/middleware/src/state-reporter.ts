import { type AirbyteStateMessage, streamKey } from '@sluice/protocol';
import { stateTypeOf } from './state-tracker';

interface Batch {
  type: string;
  /** STREAM: latest state per stream; GLOBAL/LEGACY: the latest state under one key. */
  states: Map<string, AirbyteStateMessage>;
}

export interface StateReporterOptions {
  /** Persists one batch (one state type); throws on failure. */
  send(states: AirbyteStateMessage[]): Promise<void>;
  /** Whether a failure is worth retrying (API down) or final (connection reset: CONFLICT). */
  isTransient(err: unknown): boolean;
  onPermanentFailure?(err: unknown): void;
  /** Called when a transient failure leaves the states queued (for a log line). */
  onRetry?(err: unknown): void;
}

/**
 * Queues destination-committed states and persists them in order, compacted: of STREAM states
 * only each stream's latest is sent, of GLOBAL and LEGACY only the latest (each is the whole
 * state). A failed send keeps its batch at the head of the queue, so a later flush sends it
 * first and state never moves backwards. One send at a time.
 */
export class StateReporter {
  private queue: Batch[] = [];
  private inFlight: Promise<void> | undefined;
  private failure: unknown;
  persisted = 0;
  sends = 0;
  lastPersisted: AirbyteStateMessage | undefined;

  constructor(private readonly opts: StateReporterOptions) {}

  /** The error that stopped persistence for good (e.g. the connection was reset), if any. */
  get error(): unknown {
    return this.failure;
  }

  get queued(): number {
    return this.queue.reduce((n, b) => n + b.states.size, 0);
  }

  add(state: AirbyteStateMessage): void {
    if (this.failure !== undefined) return;
    const type = stateTypeOf(state);
    let batch = this.queue[this.queue.length - 1];
    if (!batch || batch.type !== type) {
      batch = { type, states: new Map() };
      this.queue.push(batch);
    }
    const key =
      type === 'STREAM' && state.stream
        ? streamKey(state.stream.stream_descriptor.name, state.stream.stream_descriptor.namespace)
        : '';
    // Re-inserting moves the stream to the end: the batch keeps commit order.
    batch.states.delete(key);
    batch.states.set(key, state);
  }

  /** Sends what is queued; resolves when done or when a send failed (the states stay queued). */
  flush(): Promise<void> {
    if (this.inFlight) return this.inFlight.then(() => (this.queue.length ? this.flush() : undefined));
    if (this.queue.length === 0 || this.failure !== undefined) return Promise.resolve();
    this.inFlight = this.run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0 && this.failure === undefined) {
      const batch = this.queue[0]!;
      // States added to this batch while it is sent go into a new batch.
      this.queue[0] = { type: batch.type, states: new Map() };
      const states = [...batch.states.values()];
      try {
        this.sends++;
        await this.opts.send(states);
        this.persisted += states.length;
        this.lastPersisted = states[states.length - 1];
        const rest = this.queue[0]!;
        if (rest.states.size === 0) this.queue.shift();
      } catch (err) {
        // Put the batch back in front of what arrived meanwhile (newer states of a stream win).
        const rest = this.queue[0]!;
        for (const [k, s] of rest.states) {
          batch.states.delete(k);
          batch.states.set(k, s);
        }
        this.queue[0] = batch;
        if (this.opts.isTransient(err)) {
          this.opts.onRetry?.(err);
          return;
        }
        this.failure = err;
        this.queue = [];
        this.opts.onPermanentFailure?.(err);
        return;
      }
    }
  }
}
