import {
  ConfigError,
  type ConfiguredAirbyteCatalog,
  type ConfiguredAirbyteStream,
  type ConnectorLogger,
  streamLabel,
} from '@sluice/protocol';
import type pg from 'pg';
import { CDC_COLUMNS, type ColumnInfo, introspect, type TableInfo } from './catalog';
import type { ColumnPlan } from './rows';

/** A configured stream matched to its table, with the columns to read. */
export interface StreamPlan {
  configured: ConfiguredAirbyteStream;
  name: string;
  /** The namespace as the catalog gives it (records carry exactly this). */
  namespace: string | undefined;
  label: string;
  table: TableInfo;
  /** Selected columns in table order. */
  columns: ColumnInfo[];
}

export const columnPlans = (columns: readonly ColumnInfo[]): ColumnPlan[] =>
  columns.map((c) => ({ name: c.name, type: c.type }));

/**
 * Matches every configured stream to a table (by namespace = schema, or by name within the
 * configured schemas) and picks the columns the catalog selects. Unknown streams fail the read
 * with every missing name listed.
 */
export async function planStreams(
  client: pg.Client,
  catalog: ConfiguredAirbyteCatalog,
  schemas: readonly string[],
  logger: ConnectorLogger,
): Promise<StreamPlan[]> {
  const wanted: Array<{ schema: string; name: string }> = [];
  for (const s of catalog.streams) {
    if (s.stream.namespace !== undefined) wanted.push({ schema: s.stream.namespace, name: s.stream.name });
    else for (const schema of schemas) wanted.push({ schema, name: s.stream.name });
  }
  const tables = await introspect(client, { tables: wanted });
  const missing: string[] = [];
  const plans: StreamPlan[] = [];
  for (const configured of catalog.streams) {
    const { name, namespace } = configured.stream;
    const label = streamLabel(name, namespace);
    const candidates = tables.filter(
      (t) =>
        t.name === name && (namespace === undefined ? schemas.includes(t.schema) : t.schema === namespace),
    );
    if (candidates.length === 0) {
      missing.push(`"${label}"`);
      continue;
    }
    if (candidates.length > 1) {
      throw new ConfigError(
        `stream "${name}" has no namespace and exists in several schemas (${candidates.map((t) => t.schema).join(', ')}); give the stream its namespace`,
      );
    }
    const table = candidates[0]!;
    plans.push({
      configured,
      name,
      namespace,
      label,
      table,
      columns: selectedColumns(configured, table, logger),
    });
  }
  if (missing.length > 0) {
    throw new ConfigError(
      `the catalog names ${missing.length === 1 ? 'a table that does' : 'tables that do'} not exist or that this user cannot read: ${missing.join(', ')}`,
    );
  }
  return plans;
}

function selectedColumns(
  configured: ConfiguredAirbyteStream,
  table: TableInfo,
  logger: ConnectorLogger,
): ColumnInfo[] {
  const props = (configured.stream.json_schema as { properties?: Record<string, unknown> }).properties;
  if (!props || Object.keys(props).length === 0) return table.columns;
  const names = new Set(Object.keys(props));
  const gone = [...names].filter((n) => !(n in CDC_COLUMNS) && !table.columns.some((c) => c.name === n));
  if (gone.length > 0) {
    logger.warn(
      `${table.schema}.${table.name}: column${gone.length > 1 ? 's' : ''} ${gone.map((g) => `"${g}"`).join(', ')} of the catalog no longer exist${gone.length > 1 ? '' : 's'}; refresh the schema`,
    );
  }
  return table.columns.filter((c) => names.has(c.name));
}
