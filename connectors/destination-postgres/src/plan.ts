import {
  ConfigError,
  type ConfiguredAirbyteCatalog,
  type ConfiguredAirbyteStream,
  streamKey,
  streamLabel,
} from '@sluice/protocol';
import { columnNames, hashOf, pgName } from './names';
import { type ColumnKind, fieldsOf } from './types';

export interface Column {
  /** The record field. */
  field: string;
  /** The Postgres column name. */
  name: string;
  /** What the schema asks for. */
  wanted: ColumnKind;
  /** What the table's column is (after evolution); decides the encoding. */
  kind: ColumnKind;
  /** The column holds the whole record (schemaless streams). */
  whole?: boolean;
}

/** How one configured stream is written. */
export interface StreamPlan {
  key: string;
  label: string;
  configured: ConfiguredAirbyteStream;
  schema: string;
  table: string;
  columns: Column[];
  /** Primary key columns (top-level fields only). */
  pk: string[];
  cursor: string | undefined;
  /** append_dedup (and overwrite_dedup): merge by primary key. */
  dedup: boolean;
  /** Replace the table's content at the end (overwrite, or minimum generation = generation). */
  truncate: boolean;
  generationId: number;
  minimumGenerationId: number;
  syncId: number | undefined;
  /** Stable short id of the final table, for staging and index names. */
  id: string;
  /** The `_ab_cdc_deleted_at` column, when the stream has one (dedup honours CDC deletes). */
  cdcDeletedAt: string | undefined;
}

/** The column of schemaless streams: the whole record as jsonb, so nothing is dropped. */
export const DATA_COLUMN = '_airbyte_data';

function topLevelField(path: string[], what: string, label: string): string {
  if (path.length !== 1) {
    throw new ConfigError(
      `stream "${label}": ${what} ${JSON.stringify(path)} is a nested field; this destination needs top-level fields`,
    );
  }
  return path[0]!;
}

/**
 * Whether a stream's rows are replaced at the end of the sync. overwrite always; append modes
 * when the platform asks for it with minimum_generation_id = generation_id (> 0), which is how
 * Airbyte sends overwrite_dedup and resets.
 */
export function truncates(s: ConfiguredAirbyteStream): boolean {
  if (s.destination_sync_mode === 'overwrite') return true;
  const gen = s.generation_id ?? 0;
  const min = s.minimum_generation_id ?? 0;
  return min > 0 && min === gen;
}

export function planStreams(catalog: ConfiguredAirbyteCatalog, defaultSchema: string): StreamPlan[] {
  const byTable = new Map<string, string>();
  return catalog.streams.map((s) => {
    const { name, namespace } = s.stream;
    const label = streamLabel(name, namespace);
    const mode = s.destination_sync_mode;
    if (mode !== 'overwrite' && mode !== 'append' && mode !== 'append_dedup') {
      throw new ConfigError(
        `stream "${label}" asks for destination sync mode "${mode}"; this destination supports overwrite, append and append_dedup`,
      );
    }
    // An empty namespace is no namespace (the destination default), as on Airbyte.
    const schema = pgName(namespace || defaultSchema);
    const table = pgName(name);
    const tableKey = `${schema}\u0000${table}`;
    const other = byTable.get(tableKey);
    if (other)
      throw new ConfigError(
        `streams "${other}" and "${label}" would both write table "${schema}"."${table}"`,
      );
    byTable.set(tableKey, label);

    const hasProperties =
      typeof s.stream.json_schema.properties === 'object' && s.stream.json_schema.properties !== null;
    const fields = hasProperties ? fieldsOf(s.stream.json_schema) : [];
    const names = columnNames(fields.map((f) => f.field));
    const columns: Column[] = fields.map((f, i) => ({
      field: f.field,
      name: names[i]!,
      wanted: f.kind,
      kind: f.kind,
    }));
    const nameOf = new Map(columns.map((c) => [c.field, c.name]));
    if (!hasProperties)
      columns.push({ field: DATA_COLUMN, name: DATA_COLUMN, wanted: 'jsonb', kind: 'jsonb', whole: true });

    const dedup = mode === 'append_dedup';
    const pk: string[] = [];
    for (const path of s.primary_key ?? []) {
      const field = topLevelField(path, 'primary key', label);
      const col = nameOf.get(field);
      if (col === undefined) {
        if (dedup)
          throw new ConfigError(
            `stream "${label}": primary key field "${field}" is not in the stream's schema`,
          );
        continue;
      }
      pk.push(col);
    }
    if (dedup && pk.length === 0) {
      throw new ConfigError(`stream "${label}" uses append_dedup but has no primary key`);
    }
    const cursorPath = s.cursor_field ?? [];
    const cursor = cursorPath.length === 1 ? nameOf.get(cursorPath[0]!) : undefined;
    return {
      key: streamKey(name, namespace),
      label,
      configured: s,
      schema,
      table,
      columns,
      pk,
      cursor,
      dedup,
      truncate: truncates(s),
      generationId: s.generation_id ?? 0,
      minimumGenerationId: s.minimum_generation_id ?? 0,
      syncId: s.sync_id,
      id: hashOf(tableKey, 12),
      cdcDeletedAt: nameOf.get('_ab_cdc_deleted_at'),
    };
  });
}
