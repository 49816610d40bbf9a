import { type AirbyteMessage, type AirbyteStreamStatus, streamKey } from '@sluice/protocol';

type Descriptor = { name: string; namespace?: string | undefined };

export interface StatusForwarderOptions {
  /** Writes one line to the destination's stdin (in order with the records in stdio mode). */
  write(line: string): void;
  /** A source descriptor under the destination's names; undefined for a stream not configured. */
  toDestination(d: Descriptor): Descriptor | undefined;
  /** Every configured stream, under the destination's names. */
  streams: Descriptor[];
}

/**
 * The source's TRACE STREAM_STATUS messages for the destination, as Airbyte's platform forwards
 * them: a destination swaps an overwrite into place (or deletes older generations) only for a
 * stream it was told is COMPLETE. So a COMPLETE is held until the source has ended successfully,
 * then sent; when the source fails, every stream is sent INCOMPLETE instead, and never COMPLETE,
 * whatever the source said before it failed. Other statuses are forwarded as they come.
 */
export class StatusForwarder {
  private readonly held = new Map<string, AirbyteMessage>();
  private readonly incomplete = new Set<string>();
  private finished = false;
  forwarded = 0;

  constructor(private readonly opts: StatusForwarderOptions) {}

  /** A STREAM_STATUS trace of the source (other messages are ignored). */
  onStatus(m: AirbyteMessage): void {
    const s = m.type === 'TRACE' ? m.trace?.stream_status : undefined;
    if (!s || this.finished) return;
    const d = this.opts.toDestination(s.stream_descriptor);
    if (!d) return;
    const key = streamKey(d.name, d.namespace);
    const mapped: AirbyteMessage = {
      ...m,
      trace: { ...m.trace!, stream_status: { ...s, stream_descriptor: descriptor(d) } },
    };
    if (s.status === 'COMPLETE') {
      this.held.set(key, mapped);
      return;
    }
    // A stream that was told COMPLETE would not go back; one started again is not complete.
    this.held.delete(key);
    if (s.status === 'INCOMPLETE') this.incomplete.add(key);
    this.send(mapped);
  }

  /**
   * The source ended (its output read to the end and its exit code known): COMPLETE statuses go
   * out only when it succeeded; otherwise every stream is INCOMPLETE. Idempotent.
   */
  finish(sourceSucceeded: boolean): void {
    if (this.finished) return;
    this.finished = true;
    if (sourceSucceeded) {
      for (const m of this.held.values()) this.send(m);
    } else {
      for (const d of this.opts.streams) {
        const key = streamKey(d.name, d.namespace);
        if (!this.incomplete.has(key)) this.send(statusMessage(d, 'INCOMPLETE'));
      }
    }
    this.held.clear();
  }

  private send(m: AirbyteMessage): void {
    this.opts.write(JSON.stringify(m));
    this.forwarded++;
  }
}

function descriptor(d: Descriptor): { name: string; namespace?: string } {
  return d.namespace === undefined ? { name: d.name } : { name: d.name, namespace: d.namespace };
}

function statusMessage(d: Descriptor, status: AirbyteStreamStatus): AirbyteMessage {
  return {
    type: 'TRACE',
    trace: {
      type: 'STREAM_STATUS',
      emitted_at: Date.now(),
      stream_status: { stream_descriptor: descriptor(d), status },
    },
  };
}
