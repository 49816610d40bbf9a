import { ConfigError, type ReadContext } from '@sluice/protocol';
import type pg from 'pg';
import type { ColumnInfo, TableInfo } from './catalog';
import type { PostgresSourceConfig } from './config';
import type { Endpoint } from './connect';
import { copyLines } from './copy';
import { emitBatch, emitWithChanges } from './emit';
import { columnPlans, type StreamPlan } from './plan';
import { CopyRowEncoder, ROWS_PER_BATCH, type RowBatch } from './rows';
import {
  type ChunkSpec,
  checkPosition,
  planChunks,
  readChunks,
  type SnapshotPosition,
  SnapshotSession,
  selectList,
} from './snapshot';
import { ident, qualified, typedLiteral } from './sql';
import { isCursorCandidate } from './types';

type Ctx = ReadContext<PostgresSourceConfig>;

/** The SELECT of one chunk. */
export function chunkQuery(table: TableInfo, columns: readonly ColumnInfo[], where: string): string {
  const from = qualified(table.schema, table.name);
  return `SELECT ${selectList(columns)} FROM ${from}${where ? ` WHERE ${where}` : ''}`;
}

/**
 * Reads a table's snapshot chunk by chunk (in parallel where the session has several readers)
 * and calls `checkpoint` after each chunk with the position reached.
 */
export async function readSnapshot(
  ctx: Ctx,
  session: SnapshotSession,
  plan: StreamPlan,
  start: SnapshotPosition | undefined,
  checkpoint: (after: SnapshotPosition | 'done') => void,
  suffix = '',
): Promise<void> {
  const { out } = ctx;
  const encoder = new CopyRowEncoder(columnPlans(plan.columns), suffix);
  const chunks = planChunks(session.main, plan.table, ctx.config.chunk_size_rows, start, ctx.logger);
  await readChunks(session, chunks, (where) => chunkQuery(plan.table, plan.columns, where), {
    text: async (text) => {
      encoder.encodeEach(text, ROWS_PER_BATCH, (batch) => emitBatch(out, plan.name, plan.namespace, batch));
      if (out.needsDrain) await out.drain();
    },
    done: (chunk: ChunkSpec) => checkpoint(chunk.after),
  });
}

/** How many sessions read chunks: one per socket in socket mode, else two (one prefetches). */
export function readerCount(ctx: Ctx, sockets: number): number {
  if (ctx.config.parallel_readers > 0) return ctx.config.parallel_readers;
  return ctx.medium === 'SOCKET' ? Math.max(1, sockets) : 2;
}

const generationOf = (plan: StreamPlan) => plan.configured.generation_id;
const syncIdOf = (plan: StreamPlan) => plan.configured.sync_id;

/**
 * A saved snapshot position is resumed only within the same generation: a new generation of
 * an overwrite stream starts from an empty table, so resuming mid-way would lose the chunks
 * read before.
 */
function sameGeneration(plan: StreamPlan, saved: Record<string, unknown>): boolean {
  const current = generationOf(plan);
  return current === undefined || saved.generation_id === current;
}

function stamp(plan: StreamPlan): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (generationOf(plan) !== undefined) out.generation_id = generationOf(plan);
  if (syncIdOf(plan) !== undefined) out.sync_id = syncIdOf(plan);
  return out;
}

function estimate(ctx: Ctx, plan: StreamPlan): void {
  if (plan.table.estimatedRows >= 0) {
    ctx.out.estimate(plan.name, { rows: plan.table.estimatedRows, namespace: plan.namespace });
  }
}

/**
 * Full refresh. State: `{state_type: "full_refresh", snapshot: position}` after each chunk and
 * `{state_type: "full_refresh", complete: true}` at the end, both stamped with the stream's
 * generation_id and sync_id. A retry of the same sync resumes at the last chunk (or skips a
 * stream it finished); any other sync reads the table again from the start.
 */
export async function readFullRefresh(
  ctx: Ctx,
  endpoint: Endpoint,
  plan: StreamPlan,
  sockets: number,
  /** Emits the stream's state; by default a STREAM state (CDC syncs put it in their GLOBAL one). */
  emitState: (streamState: Record<string, unknown>) => void = (s) =>
    ctx.out.streamState(plan.name, s, plan.namespace),
): Promise<void> {
  const { out, logger } = ctx;
  const saved = ctx.streamState(plan.name, plan.namespace) ?? {};
  const emit = (s: Record<string, unknown>) =>
    emitState({ state_type: 'full_refresh', ...s, ...stamp(plan) });
  out.streamStatus(plan.name, 'STARTED', plan.namespace);
  if (saved.complete === true && syncIdOf(plan) !== undefined && saved.sync_id === syncIdOf(plan)) {
    logger.info(`${plan.label}: already read completely by this sync (sync_id ${syncIdOf(plan)}); skipped`);
    emit({ complete: true });
    out.streamStatus(plan.name, 'COMPLETE', plan.namespace);
    return;
  }
  let start: SnapshotPosition | undefined;
  if (saved.snapshot !== undefined && saved.complete !== true) {
    if (sameGeneration(plan, saved)) {
      start = checkPosition(saved.snapshot, plan.label);
      logger.info(`${plan.label}: resuming the snapshot at ${JSON.stringify(start)}`);
    } else
      logger.info(`${plan.label}: the saved position belongs to another generation; reading from the start`);
  }
  estimate(ctx, plan);
  out.streamStatus(plan.name, 'RUNNING', plan.namespace);
  const session = await SnapshotSession.open(endpoint, readerCount(ctx, sockets), logger);
  let ok = false;
  try {
    await readSnapshot(ctx, session, plan, start, (after) => {
      emit(after === 'done' ? { complete: true } : { snapshot: after });
    });
    ok = true;
  } finally {
    await session.close(ok);
  }
  out.streamStatus(plan.name, 'COMPLETE', plan.namespace);
}

/** The cursor column of an incremental stream, checked. */
function cursorColumn(plan: StreamPlan): ColumnInfo {
  const field = plan.configured.cursor_field?.length
    ? plan.configured.cursor_field
    : plan.configured.stream.default_cursor_field;
  if (!field || field.length === 0) {
    throw new ConfigError(
      `stream "${plan.label}" is incremental but has no cursor field: choose one in the catalog`,
    );
  }
  if (field.length > 1) {
    throw new ConfigError(
      `stream "${plan.label}": the cursor must be a top-level column, not ${JSON.stringify(field)}`,
    );
  }
  const column = plan.table.columns.find((c) => c.name === field[0]);
  if (!column) throw new ConfigError(`stream "${plan.label}": cursor column "${field[0]}" does not exist`);
  if (!isCursorCandidate(column.type)) {
    throw new ConfigError(
      `stream "${plan.label}": column "${column.name}" (${column.sqlType}) cannot be a cursor: it has no useful ordering`,
    );
  }
  return column;
}

interface CursorState {
  cursor: string | null;
  cursor_record_count: number;
}

/** The largest cursor value and how many rows have it, in the session's snapshot. */
async function maxCursor(client: pg.Client, table: TableInfo, column: ColumnInfo): Promise<CursorState> {
  const c = ident(column.name);
  const res = await client.query<{ v: string | null; n: string }>(
    `SELECT ${c}::text AS v, count(*)::text AS n FROM ${qualified(table.schema, table.name)}
      WHERE ${c} = (SELECT max(${c}) FROM ${qualified(table.schema, table.name)}) GROUP BY ${c}`,
  );
  const r = res.rows[0];
  return r ? { cursor: r.v, cursor_record_count: Number(r.n) } : { cursor: null, cursor_record_count: 0 };
}

/**
 * Incremental by a cursor column ("Standard"). The first sync reads a chunked, resumable
 * snapshot and remembers the largest cursor value it saw and how many rows had it; later syncs
 * read `cursor > last` in cursor order, checkpointing every chunk_size_rows rows at a change of
 * cursor value.
 *
 * Ties: rows that share the saved cursor value may have been added since. The read counts the
 * rows at that value: when the count equals the saved `cursor_record_count` it reads `> last`,
 * otherwise `>= last`, emitting the tie group again (deduplicated by primary key downstream).
 * No row is lost at a chunk boundary; the cost is a few repeated rows when ties changed.
 *
 * State: `{state_type: "cursor", cursor_field, cursor, cursor_record_count}` (the cursor as
 * Postgres prints it), plus `snapshot` while the first snapshot is in progress.
 */
export async function readIncremental(
  ctx: Ctx,
  endpoint: Endpoint,
  plan: StreamPlan,
  sockets: number,
): Promise<void> {
  const { out, logger } = ctx;
  const column = cursorColumn(plan);
  const saved = ctx.streamState(plan.name, plan.namespace) ?? {};
  const base = { state_type: 'cursor', cursor_field: [column.name] };
  const emit = (s: CursorState & { snapshot?: SnapshotPosition }) =>
    out.streamState(plan.name, { ...base, ...s, ...stamp(plan) }, plan.namespace);
  out.streamStatus(plan.name, 'STARTED', plan.namespace);

  let state: (CursorState & { snapshot?: SnapshotPosition }) | undefined;
  if (Object.keys(saved).length > 0) {
    const savedField = saved.cursor_field;
    if (JSON.stringify(savedField) !== JSON.stringify([column.name])) {
      logger.warn(
        `${plan.label}: the cursor changed from ${JSON.stringify(savedField)} to ["${column.name}"]; reading the whole table again`,
      );
    } else if (saved.cursor !== null && typeof saved.cursor !== 'string') {
      throw new ConfigError(`the saved state of stream "${plan.label}" has a cursor that is not a string`);
    } else {
      state = {
        cursor: (saved.cursor as string | null) ?? null,
        cursor_record_count: Number(saved.cursor_record_count ?? 0),
      };
      if (saved.snapshot !== undefined) {
        if (sameGeneration(plan, saved)) state.snapshot = checkPosition(saved.snapshot, plan.label) ?? {};
        else state = undefined;
      }
    }
  }
  estimate(ctx, plan);
  out.streamStatus(plan.name, 'RUNNING', plan.namespace);

  if (!state || state.snapshot) {
    const session = await SnapshotSession.open(endpoint, readerCount(ctx, sockets), logger);
    let ok = false;
    try {
      const cursor = state ?? (await maxCursor(session.main, plan.table, column));
      const start = state?.snapshot;
      if (start) logger.info(`${plan.label}: resuming the initial snapshot at ${JSON.stringify(start)}`);
      await readSnapshot(ctx, session, plan, start, (after) => {
        emit(
          after === 'done'
            ? { cursor: cursor.cursor, cursor_record_count: cursor.cursor_record_count }
            : { cursor: cursor.cursor, cursor_record_count: cursor.cursor_record_count, snapshot: after },
        );
      });
      ok = true;
    } finally {
      await session.close(ok);
    }
  } else {
    await readByCursor(ctx, endpoint, plan, column, state, emit);
  }
  out.streamStatus(plan.name, 'COMPLETE', plan.namespace);
}

async function readByCursor(
  ctx: Ctx,
  endpoint: Endpoint,
  plan: StreamPlan,
  column: ColumnInfo,
  saved: CursorState,
  emit: (s: CursorState) => void,
): Promise<void> {
  const { out, logger } = ctx;
  const client = await endpoint.connect({ role: 'incremental' });
  try {
    const from = qualified(plan.table.schema, plan.table.name);
    const c = ident(column.name);
    let where = `${c} IS NOT NULL`;
    if (saved.cursor !== null) {
      const last = typedLiteral(saved.cursor, column.sqlType);
      const now = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM ${from} WHERE ${c} = ${last}`,
      );
      const ties = Number(now.rows[0]?.n ?? 0);
      const op = ties === saved.cursor_record_count ? '>' : '>=';
      if (op === '>=') {
        logger.info(
          `${plan.label}: ${ties} row(s) now have the saved cursor value (${saved.cursor_record_count} when saved); reading them again`,
        );
      }
      where = `${c} ${op} ${last}`;
    }
    // The cursor column is read even when not selected, to know where each row stands.
    const selected = plan.columns.some((col) => col.name === column.name);
    const columns = selected ? plan.columns : [...plan.columns, column];
    const captureIndex = columns.findIndex((col) => col.name === column.name);
    const encoder = new CopyRowEncoder(
      columnPlans(columns).map((p, i) => (i === captureIndex && !selected ? { ...p, hidden: true } : p)),
      '',
      captureIndex,
    );
    const query = `SELECT ${selectList(columns)} FROM ${from} WHERE ${where} ORDER BY ${c}`;
    const every = ctx.config.chunk_size_rows;
    let value: string | null = saved.cursor;
    let count = saved.cursor_record_count;
    let sinceState = 0;
    let emitted = 0;
    const emitRows = (batch: RowBatch) => {
      let nulledAt = 0;
      for (let i = 0; i < batch.rows.length; i++) {
        const v = batch.captured[i]!;
        if (v === value) count++;
        else {
          // A checkpoint only between two cursor values: a resumed read starts after it.
          if (sinceState >= every) {
            emit({ cursor: value, cursor_record_count: count });
            sinceState = 0;
          }
          value = v;
          count = 1;
        }
        const json = batch.rows[i]!;
        const nulled = batch.nulled[nulledAt];
        if (nulled && nulled.row === i) {
          nulledAt++;
          emitWithChanges(out, plan.name, plan.namespace, json, nulled.fields);
        } else out.recordJson(plan.name, json, plan.namespace);
        sinceState++;
        emitted++;
      }
    };
    for await (const text of copyLines(client, query)) {
      encoder.encodeEach(text, ROWS_PER_BATCH, emitRows);
      if (out.needsDrain) await out.drain();
    }
    emit({ cursor: value, cursor_record_count: count });
    logger.info(`${plan.label}: ${emitted} row(s) at or after the saved cursor`);
  } finally {
    await client.end().catch(() => {});
  }
}
