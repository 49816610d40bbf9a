import { ConnectorError } from '@sluice/protocol';
import type { Client } from './connect';
import { qualified, quoteIdent, quoteLiteral } from './names';
import type { StreamPlan } from './plan';
import { conversion, evolveColumn, SQL_TYPE } from './types';

/** Where a stream's rows go during this sync. */
export interface Target {
  schema: string;
  table: string;
  /** The final table itself (append modes, or a truncate already swapped in by an earlier attempt). */
  isFinal: boolean;
}

const MARKER = 'sluice:';

/** What the COMMENT of a staging table (and of the final table it becomes) records. */
interface Marker {
  schema: string;
  table: string;
  generation: number;
}

const markerComment = (m: Marker): string => `${MARKER}${JSON.stringify(m)}`;

function parseMarker(comment: string | null): Marker | undefined {
  if (!comment?.startsWith(MARKER)) return undefined;
  try {
    return JSON.parse(comment.slice(MARKER.length)) as Marker;
  } catch {
    return undefined;
  }
}

const META_DDL = [
  `${quoteIdent('_airbyte_raw_id')} uuid NOT NULL`,
  `${quoteIdent('_airbyte_extracted_at')} timestamp with time zone NOT NULL`,
  `${quoteIdent('_airbyte_meta')} jsonb NOT NULL`,
  `${quoteIdent('_airbyte_generation_id')} bigint`,
];

export async function ensureSchema(client: Client, schema: string): Promise<void> {
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
  } catch (err) {
    // Two syncs creating the same schema at once: the loser's IF NOT EXISTS still races.
    const code = (err as { code?: string }).code;
    if (code !== '23505' && code !== '42P06') throw err;
  }
}

interface TableInfo {
  oid: number;
  comment: string | null;
  columns: Map<string, string>;
}

async function tableInfo(client: Client, schema: string, table: string): Promise<TableInfo | undefined> {
  const t = await client.query<{ oid: number; comment: string | null }>(
    `SELECT c.oid::int AS oid, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [schema, table],
  );
  const row = t.rows[0];
  if (!row) return undefined;
  const cols = await client.query<{ name: string; type: string }>(
    `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    [row.oid],
  );
  return { oid: row.oid, comment: row.comment, columns: new Map(cols.rows.map((r) => [r.name, r.type])) };
}

function createTableSql(plan: StreamPlan, schema: string, table: string): string {
  const cols = [...META_DDL, ...plan.columns.map((c) => `${quoteIdent(c.name)} ${SQL_TYPE[c.kind]}`)];
  return `CREATE TABLE ${qualified(schema, table)} (\n  ${cols.join(',\n  ')}\n)`;
}

/**
 * Brings an existing table to the stream's schema: missing columns are added, columns whose
 * type cannot hold the schema's values are widened (never narrowed, never dropped). Sets each
 * column's effective kind on the plan.
 */
async function evolve(
  client: Client,
  plan: StreamPlan,
  schema: string,
  table: string,
  info: TableInfo,
  log: (m: string) => void,
): Promise<void> {
  const actions: string[] = [];
  const metaTypes: Record<string, string> = {
    _airbyte_raw_id: 'uuid',
    _airbyte_extracted_at: 'timestamp with time zone',
    _airbyte_meta: 'jsonb',
    _airbyte_generation_id: 'bigint',
  };
  for (const [name, type] of Object.entries(metaTypes)) {
    if (!info.columns.has(name)) actions.push(`ADD COLUMN ${quoteIdent(name)} ${type}`);
  }
  for (const c of plan.columns) {
    const existing = info.columns.get(c.name);
    if (existing === undefined) {
      actions.push(`ADD COLUMN ${quoteIdent(c.name)} ${SQL_TYPE[c.wanted]}`);
      c.kind = c.wanted;
      continue;
    }
    const { kind, alter } = evolveColumn(existing, c.wanted);
    c.kind = kind;
    if (alter) {
      const col = quoteIdent(c.name);
      actions.push(`ALTER COLUMN ${col} TYPE ${SQL_TYPE[kind]} USING ${conversion(col, kind)}`);
      log(`stream "${plan.label}": column "${c.name}" widened from ${existing} to ${SQL_TYPE[kind]}`);
    }
  }
  if (actions.length > 0) await client.query(`ALTER TABLE ${qualified(schema, table)} ${actions.join(', ')}`);
}

/** Whether the table has an index on exactly these columns (unique if asked). */
async function hasIndexOn(client: Client, oid: number, columns: string[], unique: boolean): Promise<boolean> {
  const r = await client.query<{ cols: string[] }>(
    `SELECT array_agg(a.attname ORDER BY k.ord) AS cols
       FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indpred IS NULL AND ($2::boolean = false OR i.indisunique)
      GROUP BY i.indexrelid`,
    [oid, unique],
  );
  return r.rows.some(
    (row) => row.cols.length === columns.length && row.cols.every((c, i) => c === columns[i]),
  );
}

const pkList = (plan: StreamPlan) => plan.pk.map(quoteIdent).join(', ');

/** The ORDER BY that puts the newest version of a row first (Airbyte's dedup order). */
export function newestFirst(plan: StreamPlan, prefix = ''): string {
  const parts = [];
  if (plan.cursor) parts.push(`${prefix}${quoteIdent(plan.cursor)} DESC NULLS LAST`);
  parts.push(`${prefix}${quoteIdent('_airbyte_extracted_at')} DESC`);
  return parts.join(', ');
}

/**
 * A unique index on the primary key, which the merge's ON CONFLICT needs. Rows an earlier
 * append left duplicated are first reduced to their newest version.
 */
async function ensureUniqueKey(
  client: Client,
  plan: StreamPlan,
  schema: string,
  table: string,
  oid: number,
  log: (m: string) => void,
): Promise<void> {
  if (await hasIndexOn(client, oid, plan.pk, true)) return;
  const t = qualified(schema, table);
  const create = `CREATE UNIQUE INDEX ON ${t} (${pkList(plan)})`;
  try {
    await client.query(create);
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    const notNull = plan.pk.map((c) => `${quoteIdent(c)} IS NOT NULL`).join(' AND ');
    const r = await client.query(
      `DELETE FROM ${t} WHERE ctid IN (
         SELECT ctid FROM (
           SELECT ctid, row_number() OVER (PARTITION BY ${pkList(plan)} ORDER BY ${newestFirst(plan)}) AS n
             FROM ${t} WHERE ${notNull}) ranked
          WHERE n > 1)`,
    );
    log(
      `stream "${plan.label}": removed ${r.rowCount} older duplicate rows before deduplicating by primary key`,
    );
    await client.query(create);
  }
}

export const stagingName = (plan: StreamPlan): string => `sluice_stg_${plan.id}_g${plan.generationId}`;

/**
 * Prepares a stream's tables and returns where its rows go. Truncating streams write to a
 * staging table named after their generation, which survives a failed attempt so the next
 * attempt of the same generation keeps what was committed; other generations' staging tables
 * are abandoned and dropped. When the final table already carries this generation (an earlier
 * attempt swapped it in), rows go straight to it.
 */
export async function prepareStream(
  client: Client,
  plan: StreamPlan,
  internalSchema: string,
  log: (m: string) => void,
): Promise<Target> {
  await ensureSchema(client, plan.schema);
  let final = await tableInfo(client, plan.schema, plan.table);
  const marker = parseMarker(final?.comment ?? null);
  const finalIsThisGeneration =
    final !== undefined && marker?.generation === plan.generationId && plan.truncate;

  if (!plan.truncate || finalIsThisGeneration) {
    if (!final) {
      await client.query(createTableSql(plan, plan.schema, plan.table));
      final = (await tableInfo(client, plan.schema, plan.table))!;
      if (plan.pk.length > 0 && !plan.dedup)
        await client.query(`CREATE INDEX ON ${qualified(plan.schema, plan.table)} (${pkList(plan)})`);
    } else await evolve(client, plan, plan.schema, plan.table, final, log);
    if (plan.dedup) await ensureUniqueKey(client, plan, plan.schema, plan.table, final.oid, log);
    return { schema: plan.schema, table: plan.table, isFinal: true };
  }

  await ensureSchema(client, internalSchema);
  const name = stagingName(plan);
  await dropOtherGenerations(client, plan, internalSchema, name, log);
  let staging = await tableInfo(client, internalSchema, name);
  if (staging) {
    await evolve(client, plan, internalSchema, name, staging, log);
    log(`stream "${plan.label}": resuming generation ${plan.generationId} in its staging table`);
  } else {
    await client.query(createTableSql(plan, internalSchema, name));
    await client.query(
      `COMMENT ON TABLE ${qualified(internalSchema, name)} IS ${quoteLiteral(
        markerComment({ schema: plan.schema, table: plan.table, generation: plan.generationId }),
      )}`,
    );
    staging = (await tableInfo(client, internalSchema, name))!;
  }
  if (plan.dedup) await ensureUniqueKey(client, plan, internalSchema, name, staging.oid, log);
  return { schema: internalSchema, table: name, isFinal: false };
}

async function dropOtherGenerations(
  client: Client,
  plan: StreamPlan,
  internalSchema: string,
  keep: string,
  log: (m: string) => void,
): Promise<void> {
  const r = await client.query<{ name: string; comment: string | null }>(
    `SELECT c.relname AS name, obj_description(c.oid, 'pg_class') AS comment
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE $2`,
    [internalSchema, `sluice\\_stg\\_${plan.id}\\_g%`],
  );
  for (const row of r.rows) {
    if (row.name === keep || !parseMarker(row.comment)) continue;
    await client.query(`DROP TABLE IF EXISTS ${qualified(internalSchema, row.name)}`);
    log(`stream "${plan.label}": dropped the staging table of an abandoned generation (${row.name})`);
  }
}

/**
 * Replaces the final table by the staging table in one transaction: a failure anywhere leaves
 * the old table as it was. Indexes the staging table first (outside the transaction: building
 * an index takes longer than renaming).
 */
export async function swapIntoPlace(
  client: Client,
  plan: StreamPlan,
  target: Target,
  dropCascade: boolean,
): Promise<void> {
  const staging = qualified(target.schema, target.table);
  if (plan.pk.length > 0 && !plan.dedup) {
    const info = await tableInfo(client, target.schema, target.table);
    if (info && !(await hasIndexOn(client, info.oid, plan.pk, false)))
      await client.query(`CREATE INDEX ON ${staging} (${pkList(plan)})`);
  }
  const final = qualified(plan.schema, plan.table);
  const old = `sluice_old_${plan.id}`;
  await client.query('BEGIN');
  try {
    const exists = await tableInfo(client, plan.schema, plan.table);
    if (exists) await client.query(`ALTER TABLE ${final} RENAME TO ${quoteIdent(old)}`);
    if (target.schema !== plan.schema)
      await client.query(`ALTER TABLE ${staging} SET SCHEMA ${quoteIdent(plan.schema)}`);
    await client.query(
      `ALTER TABLE ${qualified(plan.schema, target.table)} RENAME TO ${quoteIdent(plan.table)}`,
    );
    if (exists) {
      try {
        await client.query(`DROP TABLE ${qualified(plan.schema, old)}${dropCascade ? ' CASCADE' : ''}`);
      } catch (err) {
        if ((err as { code?: string }).code === '2BP01') {
          throw new ConnectorError(
            `stream "${plan.label}": the table "${plan.schema}"."${plan.table}" cannot be replaced because other objects (views) depend on it; the old table is kept. Drop them, or set drop_cascade to drop them with the table.`,
            { failureType: 'config_error', cause: err },
          );
        }
        throw err;
      }
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Drops rows of generations older than the minimum (a partial refresh), once the stream completed. */
export async function dropOldGenerations(client: Client, plan: StreamPlan): Promise<number> {
  const r = await client.query(
    `DELETE FROM ${qualified(plan.schema, plan.table)}
      WHERE ${quoteIdent('_airbyte_generation_id')} IS NULL OR ${quoteIdent('_airbyte_generation_id')} < $1`,
    [plan.minimumGenerationId],
  );
  return r.rowCount ?? 0;
}
