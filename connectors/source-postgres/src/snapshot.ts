import { ConfigError, type ConnectorLogger } from '@sluice/protocol';
import type pg from 'pg';
import type { ColumnInfo, TableInfo } from './catalog';
import { hasCtid } from './catalog';
import type { Endpoint } from './connect';
import { copyBlocks } from './copy';
import { ident, literal, qualified, row, typedLiteral } from './sql';

/** Where a snapshot of one table stands: saved in state after each chunk. */
export interface SnapshotPosition {
  /** Text values of the primary key of the last chunk's upper bound (the chunk included it). */
  pk?: string[];
  /** Primary key columns the values belong to; a changed key restarts the snapshot. */
  pk_columns?: string[];
  /** First heap page not read yet (tables without a primary key). */
  ctid_page?: number;
  /** The heap file the pages belong to; a rewrite (VACUUM FULL, CLUSTER) restarts the snapshot. */
  relation_filenode?: number;
}

/** One chunk: a condition on the table, and the position once the chunk is emitted. */
export interface ChunkSpec {
  index: number;
  where: string;
  after: SnapshotPosition | 'done';
}

/**
 * Sessions that all see one snapshot of the database: a coordinator (which exports the
 * snapshot, or imports the replication slot's) and readers that import it, so chunks read in
 * parallel agree with each other and with the CDC starting point.
 */
export class SnapshotSession {
  private constructor(
    readonly main: pg.Client,
    readonly readers: pg.Client[],
    readonly snapshotId: string | undefined,
  ) {}

  /**
   * Opens the coordinator and `readers` reader sessions (at least one). With `snapshotId`, every
   * session imports that snapshot (a replication slot's); otherwise the coordinator exports one.
   * Where snapshots cannot be exported (e.g. some poolers), reads fall back to one session.
   */
  static async open(
    endpoint: Endpoint,
    readers: number,
    logger: ConnectorLogger,
    snapshotId?: string,
  ): Promise<SnapshotSession> {
    const main = await endpoint.connect({ role: 'snapshot' });
    const opened: pg.Client[] = [];
    try {
      await main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      let id = snapshotId;
      if (id) await main.query(`SET TRANSACTION SNAPSHOT ${literal(id)}`);
      else {
        try {
          id = (await main.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
        } catch (err) {
          // (A savepoint cannot help: snapshots are never exported from subtransactions.)
          await main.query('ROLLBACK');
          await main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
          logger.warn(
            `could not export a snapshot (${(err as Error).message}): chunks are read by one session`,
          );
          return new SnapshotSession(main, [main], undefined);
        }
      }
      for (let i = 0; i < Math.max(1, readers); i++) {
        const c = await endpoint.connect({ role: `reader ${i + 1}` });
        opened.push(c);
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        await c.query(`SET TRANSACTION SNAPSHOT ${literal(id)}`);
      }
      return new SnapshotSession(main, opened, id);
    } catch (err) {
      for (const c of opened) await c.end().catch(() => {});
      await main.end().catch(() => {});
      throw err;
    }
  }

  /**
   * Ends the sessions. After a failure a reader may be stuck mid-COPY (its stream paused), so
   * nothing is queued behind it: the sessions are just closed (their transactions roll back).
   */
  async close(ok = true): Promise<void> {
    const all = new Set([this.main, ...this.readers]);
    await Promise.all(
      [...all].map(async (c) => {
        if (ok) {
          await Promise.race([
            c.query('COMMIT').catch(() => {}),
            new Promise((r) => setTimeout(r, 10_000).unref()),
          ]);
        }
        await c.end().catch(() => {});
      }),
    );
  }
}

/** Column list of the SELECT: the catalog's selected columns, quoted. */
export function selectList(columns: readonly ColumnInfo[]): string {
  return columns.length === 0 ? '' : columns.map((c) => ident(c.name)).join(', ');
}

function pkColumns(table: TableInfo): ColumnInfo[] {
  return table.primaryKey.map((k) => {
    const c = table.columns.find((col) => col.name === k);
    if (!c) throw new Error(`primary key column "${k}" of ${table.schema}.${table.name} not found`);
    return c;
  });
}

/** `(pk) > (values)` with literals cast to the key's types, so the key's own ordering applies. */
function pkCompare(cols: ColumnInfo[], op: '>' | '<=', values: string[]): string {
  const left = row(cols.map((c) => ident(c.name)));
  const right = row(cols.map((c, i) => typedLiteral(values[i]!, c.sqlType)));
  return `${left} ${op} ${right}`;
}

/**
 * The chunks of a table's snapshot, from `start` on: primary-key ranges (boundaries found
 * with an index scan on the coordinator, one chunk ahead), heap page ranges for tables
 * without a key, or the whole relation for views.
 */
export async function* planChunks(
  main: pg.Client,
  table: TableInfo,
  chunkRows: number,
  start: SnapshotPosition | undefined,
  logger: ConnectorLogger,
): AsyncGenerator<ChunkSpec> {
  const from = qualified(table.schema, table.name);
  let index = 0;
  if (table.primaryKey.length > 0) {
    const cols = pkColumns(table);
    let lower = start?.pk;
    if (lower && JSON.stringify(start?.pk_columns ?? table.primaryKey) !== JSON.stringify(table.primaryKey)) {
      logger.warn(
        `${table.schema}.${table.name}: the primary key changed since the saved state; the snapshot starts over`,
      );
      lower = undefined;
    }
    if (lower && lower.length !== cols.length) lower = undefined;
    const order = cols.map((c) => ident(c.name)).join(', ');
    const keyText = cols.map((c, i) => `${ident(c.name)}::text AS k${i}`).join(', ');
    for (;;) {
      const where = lower ? ` WHERE ${pkCompare(cols, '>', lower)}` : '';
      // Two rows: the chunk's last key, and whether anything follows it (if not, this chunk
      // is the last one and no empty chunk trails it).
      const res = await main.query({
        text: `SELECT ${keyText} FROM ${from}${where} ORDER BY ${order} OFFSET ${chunkRows - 1} LIMIT 2`,
        rowMode: 'array',
      });
      const rows = res.rows as string[][];
      const upper = rows.length === 2 ? rows[0]!.map((v) => String(v)) : undefined;
      const conds: string[] = [];
      if (lower) conds.push(pkCompare(cols, '>', lower));
      if (upper) conds.push(pkCompare(cols, '<=', upper));
      yield {
        index: index++,
        where: conds.join(' AND '),
        after: upper ? { pk: upper, pk_columns: table.primaryKey } : 'done',
      };
      if (!upper) return;
      lower = upper;
    }
  }
  if (hasCtid(table)) {
    const info = await main.query<{ pages: string; filenode: number | null; per_page: number }>(
      `SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::text AS pages,
              pg_relation_filenode(c.oid)::int AS filenode,
              CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 0 END::float8 AS per_page
         FROM pg_catalog.pg_class c WHERE c.oid = $1`,
      [table.relid],
    );
    const pages = Number(info.rows[0]?.pages ?? 0);
    const filenode = info.rows[0]?.filenode ?? 0;
    // Unanalysed tables: assume short rows, ~100 a page; the chunk only gets larger or smaller.
    const perPage = info.rows[0]?.per_page || 100;
    const step = Math.max(1, Math.floor(chunkRows / perPage));
    let page = 0;
    if (start?.ctid_page !== undefined) {
      if (start.relation_filenode === filenode) page = start.ctid_page;
      else {
        logger.warn(
          `${table.schema}.${table.name} was rewritten since the saved state (VACUUM FULL, CLUSTER or TRUNCATE): its rows moved, so the snapshot starts over`,
        );
      }
    }
    while (page + step < pages) {
      yield {
        index: index++,
        where: `ctid >= '(${page},0)'::tid AND ctid < '(${page + step},0)'::tid`,
        after: { ctid_page: page + step, relation_filenode: filenode },
      };
      page += step;
    }
    // The last range is open: a table read in its snapshot has no rows past its size, but the
    // size was measured outside the snapshot's view of it.
    yield { index: index++, where: page > 0 ? `ctid >= '(${page},0)'::tid` : '', after: 'done' };
    return;
  }
  yield { index: index++, where: '', after: 'done' };
}

/** Whether a saved position is usable for the table (a stale or foreign one is ignored). */
export function checkPosition(raw: unknown, label: string): SnapshotPosition | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`the saved snapshot position of stream "${label}" is not an object`);
  }
  const p = raw as Record<string, unknown>;
  const out: SnapshotPosition = {};
  if (p.pk !== undefined) {
    if (!Array.isArray(p.pk) || !p.pk.every((v) => typeof v === 'string')) {
      throw new ConfigError(
        `the saved snapshot position of stream "${label}": "pk" must be a list of strings`,
      );
    }
    out.pk = p.pk as string[];
    if (Array.isArray(p.pk_columns)) out.pk_columns = p.pk_columns as string[];
  }
  if (p.ctid_page !== undefined) {
    if (!Number.isInteger(p.ctid_page) || (p.ctid_page as number) < 0) {
      throw new ConfigError(
        `the saved snapshot position of stream "${label}": "ctid_page" must be an integer`,
      );
    }
    out.ctid_page = p.ctid_page as number;
    out.relation_filenode = typeof p.relation_filenode === 'number' ? p.relation_filenode : -1;
  }
  return out;
}

export interface ChunkSink {
  /** Encodes and emits one block of COPY text (whole lines) of the chunk being emitted. */
  text(text: string): void | Promise<void>;
  /** The chunk was emitted completely: checkpoint. */
  done(chunk: ChunkSpec): void | Promise<void>;
}

/** Blocks of COPY output (whole lines) of one chunk, buffered between its reader and the emitter. */
class ChunkBuffer {
  private readonly blocks: Buffer[] = [];
  private bytes = 0;
  private ended = false;
  private failure: unknown;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(
    readonly spec: ChunkSpec,
    private readonly limitBytes: number,
  ) {}

  async push(block: Buffer): Promise<void> {
    this.blocks.push(block);
    this.bytes += block.length;
    this.wakeConsumer?.();
    while (this.bytes > this.limitBytes && this.failure === undefined) {
      await new Promise<void>((r) => {
        this.wakeProducer = r;
      });
    }
  }

  end(err?: unknown): void {
    this.ended = true;
    if (err !== undefined) this.failure = err;
    this.wakeConsumer?.();
  }

  /** Stops the producer (the consumer is gone). */
  abort(err: unknown): void {
    this.failure ??= err;
    this.wakeProducer?.();
  }

  /** The next block, or undefined at the end; throws the reader's error. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      if (this.failure !== undefined && this.blocks.length === 0) throw this.failure;
      const block = this.blocks.shift();
      if (block !== undefined) {
        this.bytes -= block.length;
        if (this.bytes <= this.limitBytes) this.wakeProducer?.();
        return block;
      }
      if (this.ended) {
        if (this.failure !== undefined) throw this.failure;
        return undefined;
      }
      await new Promise<void>((r) => {
        this.wakeConsumer = r;
      });
      this.wakeConsumer = undefined;
    }
  }
}

/**
 * Reads the chunks of `plan` with every reader of the session at once and emits them in plan
 * order: the first chunk streams straight through while the next ones fill bounded buffers,
 * so checkpoints stay in key order and a resumed read never skips a chunk.
 */
export async function readChunks(
  session: SnapshotSession,
  plan: AsyncIterator<ChunkSpec>,
  buildQuery: (where: string) => string,
  sink: ChunkSink,
  bufferBytes = 8 << 20,
): Promise<number> {
  const window = session.readers.length;
  const buffers = new Map<number, ChunkBuffer>();
  let planDone = false;
  let planned = 0;
  let planning: Promise<IteratorResult<ChunkSpec>> | undefined;
  let headIndex = 0;
  let failed: unknown;
  const waiters: Array<() => void> = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  const wait = () => new Promise<void>((r) => waiters.push(r));

  // The coordinator plans one chunk at a time; readers take chunks in plan order.
  const takeChunk = async (): Promise<ChunkSpec | undefined> => {
    for (;;) {
      if (planDone || failed !== undefined) return undefined;
      if (planning) {
        await planning.catch(() => {});
        continue;
      }
      planning = plan.next();
      try {
        const r = await planning;
        if (r.done) {
          planDone = true;
          notify();
          return undefined;
        }
        planned++;
        return r.value;
      } finally {
        planning = undefined;
      }
    }
  };

  const reader = async (client: pg.Client) => {
    for (;;) {
      const spec = await takeChunk();
      if (!spec) return;
      while (spec.index - headIndex >= window && failed === undefined) await wait();
      if (failed !== undefined) return;
      const buffer = new ChunkBuffer(spec, bufferBytes);
      buffers.set(spec.index, buffer);
      notify();
      try {
        for await (const block of copyBlocks(client, buildQuery(spec.where))) await buffer.push(block);
        buffer.end();
      } catch (err) {
        buffer.end(err);
        throw err;
      }
    }
  };

  const readers = session.readers.map((c) =>
    reader(c).catch((err) => {
      failed ??= err;
      for (const b of buffers.values()) b.abort(err);
      notify();
    }),
  );

  let chunks = 0;
  try {
    for (;;) {
      let buffer = buffers.get(headIndex);
      while (!buffer) {
        if (failed !== undefined) throw failed;
        // Done only when the plan is exhausted and every chunk it gave was emitted.
        if (planDone && headIndex >= planned) break;
        await wait();
        buffer = buffers.get(headIndex);
      }
      if (!buffer) break;
      for (;;) {
        const block = await buffer.next();
        if (block === undefined) break;
        await sink.text(block.toString('utf8'));
      }
      await sink.done(buffer.spec);
      buffers.delete(headIndex);
      headIndex++;
      chunks++;
      notify();
    }
  } catch (err) {
    failed ??= err;
    for (const b of buffers.values()) b.abort(err);
    notify();
    await Promise.allSettled(readers);
    throw err;
  }
  await Promise.all(readers);
  if (failed !== undefined) throw failed;
  return chunks;
}
