import type { SourceOutput } from '@sluice/protocol';
import type { RowBatch } from './rows';

/**
 * Emits a batch of encoded rows. Rows that lost a value (NaN, infinite dates) go out as full
 * messages whose `meta.changes` names the nulled fields; the rest take the SDK's fast path.
 */
export function emitBatch(
  out: SourceOutput,
  stream: string,
  namespace: string | undefined,
  batch: RowBatch,
): void {
  const rows = batch.rows;
  if (batch.nulled.length === 0) {
    for (let i = 0; i < rows.length; i++) out.recordJson(stream, rows[i]!, namespace);
    return;
  }
  let next = 0;
  for (const { row, fields } of batch.nulled) {
    for (; next < row; next++) out.recordJson(stream, rows[next]!, namespace);
    emitWithChanges(out, stream, namespace, rows[row]!, fields);
    next = row + 1;
  }
  for (; next < rows.length; next++) out.recordJson(stream, rows[next]!, namespace);
}

export function emitWithChanges(
  out: SourceOutput,
  stream: string,
  namespace: string | undefined,
  json: string,
  fields: string[],
): void {
  out.message({
    type: 'RECORD',
    record: {
      stream,
      ...(namespace === undefined ? {} : { namespace }),
      data: JSON.parse(json) as Record<string, unknown>,
      emitted_at: Date.now(),
      meta: {
        changes: fields.map((field) => ({ field, change: 'NULLED', reason: 'SOURCE_SERIALIZATION_ERROR' })),
      },
    },
  });
}
