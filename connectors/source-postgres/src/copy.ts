import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { LineAssembler } from './rows';

/**
 * Streams `COPY (query) TO STDOUT` as text holding whole lines. The server produces rows as a
 * portal would for a cursor, and the socket's flow control bounds what is buffered: when the
 * consumer stops pulling, the stream pauses and Postgres blocks on its send.
 */
export async function* copyLines(
  client: pg.Client,
  query: string,
  highWaterMark = 1 << 20,
): AsyncGenerator<string> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT`, { highWaterMark }));
  const lines = new LineAssembler();
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const text = lines.push(chunk);
      if (text.length > 0) yield text;
    }
  } finally {
    if (!stream.readableEnded) stream.destroy();
  }
  if (lines.pending > 0) throw new Error('COPY output ended in the middle of a row');
}
