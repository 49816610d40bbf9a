import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { LineAssembler } from './rows';

/**
 * Streams `COPY (query) TO STDOUT` as blocks of whole lines, as bytes. The server produces rows
 * as a portal would for a cursor, and the socket's flow control bounds what is buffered: when
 * the consumer stops pulling, the stream pauses and Postgres blocks on its send.
 *
 * Bytes rather than strings, so that blocks waiting in a prefetch buffer live outside V8's
 * heap: a string that survives a scavenge is copied, and megabytes of them made the scavenges
 * of a backed-up source cost more than its encoding.
 */
export async function* copyBlocks(
  client: pg.Client,
  query: string,
  highWaterMark = 1 << 20,
): AsyncGenerator<Buffer> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`, { highWaterMark }));
  const lines = new LineAssembler();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const block = lines.push(chunk);
      if (block !== undefined) yield block;
    }
  } finally {
    if (!stream.readableEnded) stream.destroy();
  }
  if (lines.pending > 0) throw new Error('COPY output ended in the middle of a row');
}

/** {@link copyBlocks} as text, for readers that encode each block as it arrives. */
export async function* copyLines(client: pg.Client, query: string): AsyncGenerator<string> {
  for await (const block of copyBlocks(client, query)) yield block.toString('utf8');
}
