import type { Duplex, DuplexOptions } from 'node:stream';
import { TransientError } from '@sluice/protocol';
import type pg from 'pg';
import * as copyStreams from 'pg-copy-streams';
import type { Endpoint } from '../connect';
import { literal } from '../sql';
import {
  decodeReplicationMessage,
  formatLsn,
  parseLsn,
  type ReplicationMessage,
  standbyStatus,
} from './pgoutput';

type CopyBothQuery = Duplex & pg.Submittable;

// pg-copy-streams has a CopyBoth query (used for replication); its type declarations omit it.
const copyBoth = (
  copyStreams as unknown as {
    both(text: string, options?: DuplexOptions & { alignOnCopyDataFrame?: boolean }): CopyBothQuery;
  }
).both;

/** Slot names are limited by Postgres to lower-case letters, digits and underscores. */
export function checkSlotName(name: string): string | undefined {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) {
    return `replication slot name "${name}" is invalid: Postgres allows only lower-case letters, digits and underscores (at most 63)`;
  }
  return undefined;
}

export interface CreatedSlot {
  /** The snapshot that matches the slot's starting point; valid while `connection` stays idle. */
  snapshotName: string;
  consistentPoint: bigint;
  /** The walsender session that exported the snapshot: close it once the snapshot is imported. */
  connection: pg.Client;
}

/**
 * Creates a logical slot with pgoutput on a replication connection and exports its snapshot,
 * so the initial load sees exactly the data before the slot's first change.
 */
export async function createSlot(endpoint: Endpoint, slot: string): Promise<CreatedSlot> {
  const connection = await endpoint.connect({ replication: true, role: 'slot' });
  try {
    // The pre-15 syntax: still accepted by 15+, and understood by 10–14.
    const res = await connection.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${slot} LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = res.rows[0];
    if (!row?.snapshot_name) throw new Error('CREATE_REPLICATION_SLOT returned no snapshot');
    return { snapshotName: row.snapshot_name, consistentPoint: parseLsn(row.consistent_point), connection };
  } catch (err) {
    await connection.end().catch(() => {});
    throw err;
  }
}

/**
 * One START_REPLICATION stream: decoded server messages in order, and standby status updates
 * back. `flushed` is the position the server may discard WAL up to; it only moves when the
 * caller says so.
 */
export class ReplicationStream {
  private written: bigint;
  private flushed: bigint;
  private statusTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly connection: pg.Client,
    private readonly stream: CopyBothQuery,
    private readonly reader: AsyncIterator<Buffer>,
    private first: Promise<IteratorResult<Buffer>> | undefined,
    flushed: bigint,
  ) {
    this.written = flushed;
    this.flushed = flushed;
    // wal_sender_timeout (60 s by default) ends a silent client: report every 10 s.
    this.statusTimer = setInterval(() => this.sendStatus(), 10_000);
    this.statusTimer.unref();
  }

  static async start(
    endpoint: Endpoint,
    slot: string,
    publication: string,
    from: bigint,
    flushed: bigint,
  ): Promise<ReplicationStream> {
    const deadline = Date.now() + 30_000;
    for (let attempt = 1; ; attempt++) {
      const connection = await endpoint.connect({ replication: true, role: 'cdc' });
      const names = literal(`"${publication.replace(/"/g, '""')}"`);
      const stream = connection.query(
        copyBoth(
          `START_REPLICATION SLOT ${slot} LOGICAL ${formatLsn(from)} (proto_version '1', publication_names ${names})`,
          // One CopyData message per chunk: in byte mode, reads would merge consecutive ones.
          { alignOnCopyDataFrame: true, readableObjectMode: true, readableHighWaterMark: 256 },
        ),
      );
      // Reading is what makes the stream parse the server's CopyBothResponse, so the first
      // read starts now; its result is the first message later.
      const reader = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const first = reader.next();
      first.catch(() => {});
      try {
        // The first status update is held until the server answers CopyBothResponse, so its
        // callback says the stream started; an error (slot missing or in use) comes instead.
        await new Promise<void>((resolve, reject) => {
          const onError = (err: Error) => reject(err);
          stream.once('error', onError);
          first.catch(onError);
          stream.write(standbyStatus(flushed, flushed, flushed), (err?: Error | null) => {
            stream.off('error', onError);
            if (err) reject(err);
            else resolve();
          });
        });
        return new ReplicationStream(connection, stream, reader, first, flushed);
      } catch (err) {
        await connection.end().catch(() => {});
        const message = (err as Error).message;
        // A previous run's walsender may not have noticed its client is gone yet.
        if (/is active for PID/i.test(message) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, Math.min(2_000, 200 * attempt)));
          continue;
        }
        if (/is active for PID/i.test(message)) {
          throw new TransientError(`replication slot "${slot}" is in use by another session: ${message}`, {
            cause: err,
          });
        }
        throw err;
      }
    }
  }

  /** Server messages; ends when the server ends the stream. */
  async *messages(): AsyncGenerator<ReplicationMessage> {
    for (;;) {
      const next = this.first ?? this.reader.next();
      this.first = undefined;
      const r = await next;
      if (r.done) return;
      const message = decodeReplicationMessage(r.value);
      if (message.type === 'xlog' && message.walStart > this.written) this.written = message.walStart;
      yield message;
    }
  }

  /** Lets the server discard WAL before `lsn` (never moves backwards). */
  acknowledge(lsn: bigint): void {
    if (lsn > this.flushed) this.flushed = lsn;
    this.sendStatus();
  }

  sendStatus(): void {
    if (this.stream.destroyed || this.stream.writableEnded) return;
    // Written never trails flushed; applied reports what the destination committed.
    let written = this.written;
    if (written < this.flushed) written = this.flushed;
    this.stream.write(standbyStatus(written, this.flushed, this.flushed));
  }

  /**
   * Ends streaming politely: CopyDone, then the server finishes its side, which guarantees it
   * processed every status update sent before (a closed socket may make it exit before
   * reading them). Falls back to closing the connection after a few seconds.
   */
  async close(): Promise<void> {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = undefined;
    if (!this.stream.destroyed && !this.stream.writableEnded) {
      // Whatever the server still sends before its CopyDone is not needed.
      this.stream.on('data', () => {});
      this.stream.on('error', () => {});
      this.stream.resume();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        timer.unref();
        this.stream.end(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.stream.destroy();
    // Ending the session ends the walsender; the slot keeps its confirmed position.
    await this.connection.end().catch(() => {});
  }
}
