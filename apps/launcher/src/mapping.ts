/**
 * How a connection's source streams become destination streams (Airbyte's namespace mapping).
 * The rules themselves live in @sluice/middleware's plan-support (one implementation for the
 * launcher, which writes the catalogs and the stream mapping file, and the middleware, which
 * reads them); this module adds what only the launcher does with a workload's catalog: leave out
 * unselected streams, strip Sluice's extensions, narrow the destination's schemas to the selected
 * fields, and refuse two streams landing in one destination stream. Pure functions.
 */
import {
  buildStreamMapping,
  destinationDescriptor,
  MappingOptions,
  mapConfiguredCatalog,
  NamespaceDefinition,
} from '@sluice/middleware';
import type { ConfiguredAirbyteCatalog, ConfiguredAirbyteStream, StreamMappingFile } from '@sluice/protocol';

export { MappingOptions, NamespaceDefinition };

export interface StreamDescriptor {
  name: string;
  namespace?: string;
}

/** Sluice's extensions of a configured stream, removed before a catalog reaches a connector. */
const EXTENSION_KEYS = ['selected', 'selectedFields'] as const;

/** The destination namespace of a source namespace; undefined means the destination's default. */
export function mapNamespace(
  sourceNamespace: string | undefined,
  options: MappingOptions,
): string | undefined {
  return destinationDescriptor({ name: '_', namespace: sourceNamespace }, options).namespace;
}

export function mapStream(source: StreamDescriptor, options: MappingOptions): StreamDescriptor {
  return destinationDescriptor(source, options);
}

const label = (d: { name: string; namespace?: string | undefined }) =>
  d.namespace === undefined ? d.name : `${d.namespace}.${d.name}`;
const key = (d: { name: string; namespace?: string | undefined }) =>
  d.namespace === undefined ? `\u0000${d.name}` : `${d.namespace}\u0001${d.name}`;
/** The key plan-support's `buildStreamMapping` looks selected fields up by. */
const fieldsKey = (d: { name: string; namespace?: string | undefined }) =>
  `${d.namespace ?? ''}\u0000${d.name}`;

export interface SyncCatalogs {
  /** What the source reads: the source's names. */
  source: ConfiguredAirbyteCatalog;
  /** What the destination writes: mapped names and namespaces, only selected fields in schemas. */
  destination: ConfiguredAirbyteCatalog;
  /** The same mapping for records (`SLUICE_STREAM_MAPPING`, and the middleware in stdio mode). */
  mapping: StreamMappingFile;
}

function withoutExtensions(s: ConfiguredAirbyteStream): ConfiguredAirbyteStream {
  const out: Record<string, unknown> = { ...s };
  for (const k of EXTENSION_KEYS) delete out[k];
  return out as ConfiguredAirbyteStream;
}

function selectedFieldsOf(s: ConfiguredAirbyteStream): string[] | undefined {
  const fields = (s as Record<string, unknown>).selectedFields;
  if (fields === undefined || fields === null) return undefined;
  if (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string' || f === '')) {
    throw new Error(`stream ${label(s.stream)}: selectedFields must be a list of field names`);
  }
  return [...new Set(fields as string[])];
}

function narrowSchema(schema: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const props = schema.properties;
  if (!props || typeof props !== 'object' || Array.isArray(props)) return schema;
  const kept = Object.fromEntries(Object.entries(props).filter(([k]) => fields.includes(k)));
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r) => typeof r === 'string' && fields.includes(r))
    : undefined;
  return { ...schema, properties: kept, ...(required ? { required } : {}) };
}

/**
 * The source and destination catalogs of a sync, and the record mapping between them. Streams
 * marked `selected: false` are left out; `selectedFields` (top-level field names) narrows the
 * destination's schema and the records. Two source streams that would land in the same
 * destination stream are refused, since their records would mix.
 */
export function buildSyncCatalogs(catalog: ConfiguredAirbyteCatalog, options: MappingOptions): SyncCatalogs {
  const streams: ConfiguredAirbyteStream[] = [];
  const selected = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const configured of catalog.streams) {
    if ((configured as Record<string, unknown>).selected === false) continue;
    if (seen.has(key(configured.stream)))
      throw new Error(`the catalog lists stream ${label(configured.stream)} twice`);
    seen.add(key(configured.stream));
    const fields = selectedFieldsOf(configured);
    if (fields) selected.set(fieldsKey(configured.stream), fields);
    streams.push(withoutExtensions(configured));
  }
  const source: ConfiguredAirbyteCatalog = { ...catalog, streams };
  const mapping = buildStreamMapping(source, options, selected);

  const targets = new Map<string, string>();
  for (const e of mapping.streams) {
    const clash = targets.get(key(e.destination));
    if (clash) {
      throw new Error(
        `streams ${clash} and ${label(e.source)} would both be written to destination stream ${label(e.destination)}; ` +
          'choose another namespace definition or a prefix',
      );
    }
    targets.set(key(e.destination), label(e.source));
  }

  const mapped = mapConfiguredCatalog(source, mapping);
  const destination: ConfiguredAirbyteCatalog = {
    ...mapped,
    streams: mapped.streams.map((s, i) => {
      const fields = mapping.streams[i]?.selectedFields;
      return fields
        ? { ...s, stream: { ...s.stream, json_schema: narrowSchema(s.stream.json_schema, fields) } }
        : s;
    }),
  };
  return { source, destination, mapping };
}
