import type { AirbyteStream } from '@sluice/protocol';
import type pg from 'pg';
import { jsonSchemaOf, loadTypes, type PgTypeRow, resolveType, type ValueType } from './types';

export interface ColumnInfo {
  name: string;
  attnum: number;
  typeOid: number;
  /** The column's type as SQL (format_type), for casts of literals compared with it. */
  sqlType: string;
  notNull: boolean;
  type: ValueType;
}

export interface TableInfo {
  relid: number;
  schema: string;
  name: string;
  /** r table, p partitioned table, v view, m materialized view, f foreign table */
  relkind: string;
  columns: ColumnInfo[];
  /** Primary key columns in key order; [] when there is none. */
  primaryKey: string[];
  /** REPLICA IDENTITY: d default (primary key), n nothing, f full, i index. */
  replicaIdentity: string;
  /** Estimated rows (pg_class.reltuples; -1 when never analysed). */
  estimatedRows: number;
}

/** Metadata columns CDC adds to every stream it reads, as Airbyte names them. */
export const CDC_COLUMNS = {
  _ab_cdc_lsn: { type: 'number', airbyte_type: 'integer' },
  _ab_cdc_updated_at: { type: 'string', format: 'date-time', airbyte_type: 'timestamp_with_timezone' },
  _ab_cdc_deleted_at: { type: 'string', format: 'date-time', airbyte_type: 'timestamp_with_timezone' },
} as const;

const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'pg_toast'];

export interface TableFilter {
  /** Schemas to list ([] = every non-system schema). */
  schemas?: readonly string[];
  /** Exactly these tables (schema, name); overrides `schemas`. */
  tables?: ReadonlyArray<{ schema: string; name: string }>;
}

/** Tables, views, materialized views and foreign tables the user can select from, with columns. */
export async function introspect(client: pg.Client, filter: TableFilter): Promise<TableInfo[]> {
  const params: unknown[] = [];
  let where: string;
  if (filter.tables) {
    params.push(
      filter.tables.map((t) => t.schema),
      filter.tables.map((t) => t.name),
    );
    where = '(n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))';
  } else if (filter.schemas && filter.schemas.length > 0) {
    params.push(filter.schemas);
    where = 'n.nspname = ANY($1::text[])';
  } else {
    params.push(SYSTEM_SCHEMAS);
    where =
      "NOT (n.nspname = ANY($1::text[])) AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";
  }
  const rels = await client.query<{
    relid: number;
    schema: string;
    name: string;
    relkind: string;
    relreplident: string;
    reltuples: number;
  }>(
    `SELECT c.oid::int AS relid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
            c.relreplident::text AS relreplident, c.reltuples::float8 AS reltuples
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
        AND has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
        AND ${where}
      ORDER BY n.nspname, c.relname`,
    params,
  );
  if (rels.rows.length === 0) return [];
  const relids = rels.rows.map((r) => r.relid);
  const cols = await client.query<{
    relid: number;
    name: string;
    attnum: number;
    typid: number;
    sqltype: string;
    notnull: boolean;
  }>(
    `SELECT a.attrelid::int AS relid, a.attname AS name, a.attnum::int AS attnum, a.atttypid::int AS typid,
            format_type(a.atttypid, NULL) AS sqltype, a.attnotnull AS notnull
       FROM pg_catalog.pg_attribute a
      WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attrelid, a.attnum`,
    [relids],
  );
  const pks = await client.query<{ relid: number; cols: string[] }>(
    `SELECT i.indrelid::int AS relid, array_agg(a.attname::text ORDER BY k.ord) AS cols
       FROM pg_catalog.pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indisprimary AND i.indrelid = ANY($1::oid[])
      GROUP BY i.indrelid`,
    [relids],
  );
  const types = await loadTypes(
    async (sql, p) => (await client.query<PgTypeRow>(sql, p)).rows,
    new Set(cols.rows.map((c) => c.typid)),
  );
  const byRel = new Map<number, TableInfo>();
  for (const r of rels.rows) {
    byRel.set(r.relid, {
      relid: r.relid,
      schema: r.schema,
      name: r.name,
      relkind: r.relkind,
      columns: [],
      primaryKey: [],
      replicaIdentity: r.relreplident,
      estimatedRows: r.reltuples,
    });
  }
  for (const c of cols.rows) {
    byRel.get(c.relid)?.columns.push({
      name: c.name,
      attnum: c.attnum,
      typeOid: c.typid,
      sqlType: c.sqltype,
      notNull: c.notnull,
      type: resolveType(c.typid, types),
    });
  }
  for (const p of pks.rows) {
    const t = byRel.get(p.relid);
    if (t) t.primaryKey = p.cols;
  }
  return [...byRel.values()];
}

/** Whether rows can be read in ctid page ranges (heap relations only). */
export const hasCtid = (t: TableInfo): boolean => t.relkind === 'r' || t.relkind === 'm';

/** Whether a snapshot of the table can resume from a checkpoint. */
export const isResumable = (t: TableInfo): boolean => t.primaryKey.length > 0 || hasCtid(t);

/** Whether CDC can follow the table: a base table whose deletes and updates carry a key. */
export const isCdcCapable = (t: TableInfo): boolean =>
  (t.relkind === 'r' || t.relkind === 'p') && t.primaryKey.length > 0;

/** Column names that usually hold a row's last change, in order of preference. */
const CURSOR_NAMES = [
  'updated_at',
  'modified_at',
  'last_modified',
  'last_modified_at',
  'updated',
  'modified',
];
const CURSOR_KINDS = new Set(['timestamp', 'timestamptz', 'date', 'int']);

/** A default cursor for the user-cursor method: a well-named timestamp (or counter) column. */
export function defaultCursor(t: TableInfo): string | undefined {
  for (const name of CURSOR_NAMES) {
    const c = t.columns.find((col) => col.name.toLowerCase() === name);
    if (c && CURSOR_KINDS.has(c.type.kind)) return c.name;
  }
  return undefined;
}

export function streamOf(t: TableInfo, cdc: boolean): AirbyteStream {
  const properties: Record<string, unknown> = {};
  for (const c of t.columns) properties[c.name] = jsonSchemaOf(c.type);
  const cdcStream = cdc && isCdcCapable(t);
  if (cdcStream) Object.assign(properties, structuredClone(CDC_COLUMNS));
  const stream: AirbyteStream = {
    name: t.name,
    namespace: t.schema,
    json_schema: { type: 'object', properties },
    // Under CDC, incremental means the WAL, which needs a primary key; otherwise any table
    // or view can be read incrementally by a cursor column the user picks.
    supported_sync_modes: !cdc || cdcStream ? ['full_refresh', 'incremental'] : ['full_refresh'],
    source_defined_cursor: cdcStream,
    default_cursor_field: cdcStream
      ? ['_ab_cdc_lsn']
      : cdc
        ? []
        : [defaultCursor(t)].filter((c) => c !== undefined),
    is_resumable: isResumable(t),
  };
  if (t.primaryKey.length > 0) stream.source_defined_primary_key = t.primaryKey.map((k) => [k]);
  return stream;
}
