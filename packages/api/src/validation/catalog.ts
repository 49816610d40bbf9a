import {
  type AirbyteCatalog,
  type AirbyteStream,
  type ConfiguredAirbyteCatalog,
  type ConfiguredAirbyteStream,
  DestinationSyncMode,
  SyncMode,
} from '@sluice/protocol';
import { z } from 'zod';
import { ApiError } from '../errors';

export const StreamDescriptor = z.object({
  name: z.string().min(1),
  /** Absent when the source puts the stream in no namespace. */
  namespace: z.string().min(1).optional(),
});
export type StreamDescriptor = z.infer<typeof StreamDescriptor>;

const FieldPath = z.array(z.string().min(1)).min(1);

/**
 * One stream as a connection configures it. Stored as is in `connections.catalog`; the
 * worker turns it into the protocol's ConfiguredAirbyteCatalog with `buildConfiguredCatalog`.
 */
export const ConnectionStream = z.object({
  stream: StreamDescriptor,
  selected: z.boolean().default(true),
  syncMode: SyncMode,
  destinationSyncMode: DestinationSyncMode,
  /** Path into the record; required for incremental unless the source defines the cursor. */
  cursorField: FieldPath.optional(),
  /** Each key is a path; required for append_dedup, update and soft_delete unless source-defined. */
  primaryKey: z.array(FieldPath).min(1).optional(),
  /** Top-level fields to sync; absent means every field (new ones included). */
  selectedFields: z.array(z.string().min(1)).min(1).optional(),
});
export type ConnectionStream = z.infer<typeof ConnectionStream>;

export const ConnectionCatalog = z.object({ streams: z.array(ConnectionStream) });
export type ConnectionCatalog = z.infer<typeof ConnectionCatalog>;

export const streamKey = (s: { name: string; namespace?: string | null | undefined }) =>
  `${s.namespace ?? ''}\u0000${s.name}`;
export const streamLabel = (s: { name: string; namespace?: string | null | undefined }) =>
  s.namespace ? `${s.namespace}.${s.name}` : s.name;

type JsonSchema = Record<string, unknown>;
const isObject = (v: unknown): v is JsonSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A schema and its anyOf/oneOf/allOf branches (nullable objects are often written that way). */
function branches(schema: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [schema];
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = schema[key];
    if (Array.isArray(list)) for (const b of list) if (isObject(b)) out.push(...branches(b));
  }
  return out;
}

function propertiesOf(schema: JsonSchema): Map<string, JsonSchema> | null {
  let declared = false;
  const props = new Map<string, JsonSchema>();
  for (const b of branches(schema)) {
    if (!isObject(b.properties)) continue;
    declared = true;
    for (const [k, v] of Object.entries(b.properties)) if (isObject(v)) props.set(k, v);
  }
  return declared ? props : null;
}

/**
 * Whether a field path exists in a stream's JSON schema. A level that declares no
 * `properties` at all is schemaless and accepts any name: there is nothing to check against.
 */
export function fieldExists(schema: JsonSchema, path: readonly string[]): boolean {
  let current: JsonSchema = schema;
  for (const key of path) {
    const props = propertiesOf(current);
    if (props === null) return true;
    const next = props.get(key);
    if (!next) return false;
    current = next;
  }
  return true;
}

export function topLevelFields(schema: JsonSchema): string[] | null {
  const props = propertiesOf(schema);
  return props ? [...props.keys()] : null;
}

const samePath = (a: readonly string[] | undefined, b: readonly string[] | undefined) =>
  JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
const samePaths = (
  a: readonly (readonly string[])[] | undefined,
  b: readonly (readonly string[])[] | undefined,
) => JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

const NEEDS_PRIMARY_KEY = new Set<DestinationSyncMode>(['append_dedup', 'update', 'soft_delete']);

export interface CatalogValidationOptions {
  /** From the destination's spec; absent means the destination did not say (anything goes). */
  supportedDestinationSyncModes?: readonly DestinationSyncMode[] | undefined;
  /** Prefix for error paths, e.g. `catalog`. */
  path?: string;
}

function bad(message: string, path: string): ApiError {
  return new ApiError('BAD_REQUEST', message, { path });
}

/**
 * Checks a connection's stream choices against the source's discovered catalog, as Airbyte
 * does: streams must exist; sync modes must be supported by the stream (and the destination);
 * incremental needs a cursor, dedup needs a primary key; a source-defined cursor or key wins
 * (sending a different one is refused); cursor, key and selected fields must exist in the
 * stream's schema, and field selection must keep the cursor and key. Returns the catalog with
 * source-defined and default cursors and keys filled in.
 */
export function validateConnectionCatalog(
  catalog: ConnectionCatalog,
  discovered: AirbyteCatalog,
  options: CatalogValidationOptions = {},
): ConnectionCatalog {
  const prefix = options.path ?? 'catalog';
  const byKey = new Map(discovered.streams.map((s) => [streamKey(s), s]));
  const seen = new Set<string>();
  const streams = catalog.streams.map((configured, i): ConnectionStream => {
    const at = `${prefix}.streams[${i}]`;
    const key = streamKey(configured.stream);
    const label = streamLabel(configured.stream);
    if (seen.has(key)) throw bad(`stream ${label} is listed twice`, `${at}.stream`);
    seen.add(key);
    const stream = byKey.get(key);
    if (!stream) {
      throw bad(
        `stream ${label} is not in the source's discovered catalog (known: ${
          [...byKey.values()].map(streamLabel).slice(0, 20).join(', ') || 'none'
        })`,
        `${at}.stream.name`,
      );
    }
    if (!configured.selected) return configured;
    return validateStream(configured, stream, at, options);
  });
  return { streams };
}

function validateStream(
  configured: ConnectionStream,
  stream: AirbyteStream,
  at: string,
  options: CatalogValidationOptions,
): ConnectionStream {
  const label = streamLabel(stream);
  const schema = stream.json_schema as JsonSchema;
  const out: ConnectionStream = { ...configured };

  if (!stream.supported_sync_modes.includes(configured.syncMode)) {
    throw bad(
      `stream ${label} does not support ${configured.syncMode} (it supports ${stream.supported_sync_modes.join(', ')})`,
      `${at}.syncMode`,
    );
  }
  const destModes = options.supportedDestinationSyncModes;
  if (destModes && destModes.length > 0 && !destModes.includes(configured.destinationSyncMode)) {
    throw bad(
      `the destination does not support ${configured.destinationSyncMode} (it supports ${destModes.join(', ')})`,
      `${at}.destinationSyncMode`,
    );
  }

  if (configured.syncMode === 'incremental') {
    if (stream.source_defined_cursor) {
      const defined = stream.default_cursor_field ?? [];
      if (configured.cursorField && defined.length > 0 && !samePath(configured.cursorField, defined)) {
        throw bad(
          `the source defines the cursor of stream ${label} (${defined.join('.')}); leave cursorField out`,
          `${at}.cursorField`,
        );
      }
      if (defined.length > 0) out.cursorField = defined;
      else delete out.cursorField;
    } else {
      const cursor = configured.cursorField ?? stream.default_cursor_field;
      if (!cursor || cursor.length === 0) {
        throw bad(
          `incremental sync of stream ${label} needs a cursor field (cursorField)`,
          `${at}.cursorField`,
        );
      }
      if (!fieldExists(schema, cursor)) {
        throw bad(
          `cursor field ${cursor.join('.')} is not in the schema of stream ${label}`,
          `${at}.cursorField`,
        );
      }
      out.cursorField = cursor;
    }
  } else {
    delete out.cursorField;
  }

  const sourceKey = stream.source_defined_primary_key?.filter((p) => p.length > 0) ?? [];
  if (sourceKey.length > 0) {
    if (configured.primaryKey && !samePaths(configured.primaryKey, sourceKey)) {
      throw bad(
        `the source defines the primary key of stream ${label} (${sourceKey.map((p) => p.join('.')).join(', ')}); leave primaryKey out`,
        `${at}.primaryKey`,
      );
    }
    out.primaryKey = sourceKey;
  } else if (configured.primaryKey) {
    configured.primaryKey.forEach((path, k) => {
      if (!fieldExists(schema, path)) {
        throw bad(
          `primary key field ${path.join('.')} is not in the schema of stream ${label}`,
          `${at}.primaryKey[${k}]`,
        );
      }
    });
  }
  if (NEEDS_PRIMARY_KEY.has(configured.destinationSyncMode) && !out.primaryKey?.length) {
    throw bad(
      `${configured.destinationSyncMode} of stream ${label} needs a primary key (primaryKey)`,
      `${at}.primaryKey`,
    );
  }

  if (configured.selectedFields) {
    const known = topLevelFields(schema);
    const unique = new Set<string>();
    configured.selectedFields.forEach((field, k) => {
      if (unique.has(field)) throw bad(`field ${field} is selected twice`, `${at}.selectedFields[${k}]`);
      unique.add(field);
      if (known && !known.includes(field)) {
        throw bad(`field ${field} is not in the schema of stream ${label}`, `${at}.selectedFields[${k}]`);
      }
    });
    const required = [out.cursorField?.[0], ...(out.primaryKey ?? []).map((p) => p[0])].filter(
      (f): f is string => typeof f === 'string',
    );
    for (const field of required) {
      if (!unique.has(field)) {
        throw bad(
          `field ${field} is the cursor or part of the primary key of stream ${label}, so it must be selected`,
          `${at}.selectedFields`,
        );
      }
    }
  }
  return out;
}

/** Narrows a stream's schema to the selected top-level fields. */
function narrowSchema(schema: JsonSchema, fields: readonly string[] | undefined): JsonSchema {
  if (!fields || !isObject(schema.properties)) return schema;
  const properties = Object.fromEntries(
    Object.entries(schema.properties).filter(([k]) => fields.includes(k)),
  );
  const required = Array.isArray(schema.required)
    ? schema.required.filter((r) => typeof r === 'string' && fields.includes(r))
    : undefined;
  return { ...schema, properties, ...(required ? { required } : {}) };
}

/**
 * The ConfiguredAirbyteCatalog a sync runs with: the selected streams, their discovered
 * definitions (schemas narrowed to the selected fields) and the chosen modes, cursor and key.
 * Streams missing from `discovered` are left out (the connection's schema change covers them).
 */
export function buildConfiguredCatalog(
  catalog: ConnectionCatalog,
  discovered: AirbyteCatalog,
): ConfiguredAirbyteCatalog {
  const byKey = new Map(discovered.streams.map((s) => [streamKey(s), s]));
  const streams: ConfiguredAirbyteStream[] = [];
  for (const c of catalog.streams) {
    if (!c.selected) continue;
    const stream = byKey.get(streamKey(c.stream));
    if (!stream) continue;
    streams.push({
      stream: { ...stream, json_schema: narrowSchema(stream.json_schema as JsonSchema, c.selectedFields) },
      sync_mode: c.syncMode,
      destination_sync_mode: c.destinationSyncMode,
      ...(c.cursorField ? { cursor_field: c.cursorField } : {}),
      ...(c.primaryKey ? { primary_key: c.primaryKey } : {}),
    });
  }
  return { streams };
}

/**
 * A sensible configuration for a newly seen stream (Airbyte's default): incremental + dedup
 * when the stream has a cursor and a key and the destination supports it; otherwise full
 * refresh + overwrite, or append when the destination cannot overwrite.
 */
export function defaultStreamConfig(
  stream: AirbyteStream,
  supportedDestinationSyncModes: readonly DestinationSyncMode[] | undefined,
  selected: boolean,
): ConnectionStream {
  const dest = supportedDestinationSyncModes?.length
    ? supportedDestinationSyncModes
    : (['append', 'overwrite', 'append_dedup'] as const);
  const descriptor = { name: stream.name, ...(stream.namespace ? { namespace: stream.namespace } : {}) };
  const hasCursor = stream.source_defined_cursor || (stream.default_cursor_field?.length ?? 0) > 0;
  const hasKey = (stream.source_defined_primary_key?.length ?? 0) > 0;
  if (
    stream.supported_sync_modes.includes('incremental') &&
    hasCursor &&
    hasKey &&
    dest.includes('append_dedup')
  ) {
    return {
      stream: descriptor,
      selected,
      syncMode: 'incremental',
      destinationSyncMode: 'append_dedup',
      ...(stream.default_cursor_field?.length ? { cursorField: stream.default_cursor_field } : {}),
      primaryKey: stream.source_defined_primary_key!,
    };
  }
  const syncMode = stream.supported_sync_modes.includes('full_refresh') ? 'full_refresh' : 'incremental';
  const destinationSyncMode =
    syncMode === 'full_refresh' && dest.includes('overwrite') ? 'overwrite' : 'append';
  return {
    stream: descriptor,
    selected,
    syncMode,
    destinationSyncMode,
    ...(syncMode === 'incremental' && stream.default_cursor_field?.length
      ? { cursorField: stream.default_cursor_field }
      : {}),
    ...(hasKey ? { primaryKey: stream.source_defined_primary_key! } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Schema changes

export const FieldChange = z.object({
  path: z.array(z.string()),
  change: z.enum(['added', 'removed', 'changed']),
  /** True when the field is the cursor or part of the primary key of a selected stream. */
  breaking: z.boolean(),
});
export type FieldChange = z.infer<typeof FieldChange>;

export const StreamChange = z.object({
  stream: StreamDescriptor,
  change: z.enum(['added', 'removed', 'changed']),
  fields: z.array(FieldChange),
  /** Why the change is breaking, when it is. */
  breakingReason: z.string().optional(),
});
export type StreamChange = z.infer<typeof StreamChange>;

/** The review data stored in `connections.schema_change`. */
export const SchemaChange = z.object({
  /** The newly discovered catalog (`ActorCatalog` id) the change leads to. */
  catalogId: z.string(),
  /** The catalog the connection was configured from. */
  previousCatalogId: z.string().nullable(),
  breaking: z.boolean(),
  streams: z.array(StreamChange),
  detectedAt: z.string(),
});
export type SchemaChange = z.infer<typeof SchemaChange>;

/** Flattens a schema into field paths with a type signature, to compare two versions. */
function flattenFields(
  schema: JsonSchema,
  prefix: string[] = [],
  out = new Map<string, string>(),
  depth = 0,
) {
  const props = propertiesOf(schema);
  if (!props || depth > 8) return out;
  for (const [key, child] of props) {
    const path = [...prefix, key];
    const sig = JSON.stringify({
      type: branches(child).map((b) => b.type ?? null),
      format: child.format ?? null,
      airbyte_type: child.airbyte_type ?? null,
    });
    out.set(JSON.stringify(path), sig);
    flattenFields(child, path, out, depth + 1);
  }
  return out;
}

/** Destination modes that deduplicate on the primary key. */
const DEDUPING = new Set<string>(['append_dedup', 'update', 'soft_delete', 'overwrite_dedup']);

const pathLabel = (p: readonly string[]) => p.join('.');

/**
 * Compares the catalog a connection was configured from with a newly discovered one, as
 * Airbyte classifies schema changes. Breaking (syncs stop until the change is reviewed), for a
 * selected stream only: the stream was removed; its cursor field (incremental) or a field of its
 * primary key was removed; the sync mode it uses is no longer supported; the source now defines
 * another primary key while the stream deduplicates on the old one. Everything else is
 * non-breaking: new streams, removed unselected streams, new or removed non-key fields, type
 * changes (of any field).
 */
export function diffCatalogs(
  previous: AirbyteCatalog,
  next: AirbyteCatalog,
  configured: ConnectionCatalog,
): { streams: StreamChange[]; breaking: boolean } {
  const prev = new Map(previous.streams.map((s) => [streamKey(s), s]));
  const nxt = new Map(next.streams.map((s) => [streamKey(s), s]));
  const selected = new Map(configured.streams.filter((s) => s.selected).map((s) => [streamKey(s.stream), s]));
  const changes: StreamChange[] = [];
  const descriptor = (s: { name: string; namespace?: string | null | undefined }) => ({
    name: s.name,
    ...(s.namespace ? { namespace: s.namespace } : {}),
  });

  for (const [key, s] of nxt)
    if (!prev.has(key)) changes.push({ stream: descriptor(s), change: 'added', fields: [] });

  // A selected stream the previous catalog did not list either (a connection configured
  // against another catalog) is just as gone.
  const gone = new Map(
    [...prev].filter(([key]) => !nxt.has(key)).map(([key, s]) => [key, descriptor(s)] as const),
  );
  for (const [key, c] of selected) if (!nxt.has(key) && !gone.has(key)) gone.set(key, descriptor(c.stream));
  for (const [key, stream] of gone) {
    changes.push({
      stream,
      change: 'removed',
      fields: [],
      ...(selected.has(key) ? { breakingReason: 'the selected stream was removed from the source' } : {}),
    });
  }

  for (const [key, before] of prev) {
    const after = nxt.get(key);
    if (!after) continue;
    const c = selected.get(key);
    const cursor = c?.syncMode === 'incremental' && c.cursorField?.length ? c.cursorField : null;
    const keyFields = new Map<string, string>();
    if (cursor) keyFields.set(JSON.stringify(cursor), `the cursor field ${pathLabel(cursor)} was removed`);
    for (const p of c?.primaryKey ?? []) {
      const id = JSON.stringify(p);
      if (!keyFields.has(id)) keyFields.set(id, `the primary-key field ${pathLabel(p)} was removed`);
    }
    const then = flattenFields(before.json_schema as JsonSchema);
    const now = flattenFields(after.json_schema as JsonSchema);
    const fields: FieldChange[] = [];
    const reasons: string[] = [];
    for (const [p, sig] of now) {
      if (!then.has(p)) fields.push({ path: JSON.parse(p), change: 'added', breaking: false });
      else if (then.get(p) !== sig) fields.push({ path: JSON.parse(p), change: 'changed', breaking: false });
    }
    for (const p of then.keys()) {
      if (now.has(p)) continue;
      const reason = keyFields.get(p);
      fields.push({ path: JSON.parse(p), change: 'removed', breaking: reason !== undefined });
      if (reason) reasons.push(reason);
    }
    if (c) {
      if (!after.supported_sync_modes.includes(c.syncMode))
        reasons.unshift(`the stream no longer supports ${c.syncMode}`);
      const sourceKey = after.source_defined_primary_key?.filter((p) => p.length > 0) ?? [];
      if (
        DEDUPING.has(c.destinationSyncMode) &&
        sourceKey.length > 0 &&
        c.primaryKey &&
        !samePaths(c.primaryKey, sourceKey) &&
        !samePaths(before.source_defined_primary_key, after.source_defined_primary_key)
      ) {
        reasons.push(
          `the source's primary key changed to ${sourceKey.map(pathLabel).join(', ')} (the stream deduplicates on ${c.primaryKey.map(pathLabel).join(', ')})`,
        );
      }
    }
    if (fields.length > 0 || reasons.length > 0) {
      changes.push({
        stream: descriptor(after),
        change: 'changed',
        fields,
        ...(reasons.length > 0 ? { breakingReason: reasons.join('; ') } : {}),
      });
    }
  }
  return { streams: changes, breaking: changes.some((c) => c.breakingReason !== undefined) };
}

/**
 * Carries a connection's choices over to a newly discovered catalog: removed streams go,
 * removed fields leave the field selection, new streams are added (selected only when
 * `selectNewStreams`, as Airbyte's "propagate fully"). The result still has to pass
 * `validateConnectionCatalog`: a breaking change needs the caller's decision.
 */
export function carryOverCatalog(
  configured: ConnectionCatalog,
  next: AirbyteCatalog,
  supportedDestinationSyncModes: readonly DestinationSyncMode[] | undefined,
  selectNewStreams: boolean,
): ConnectionCatalog {
  const chosen = new Map(configured.streams.map((c) => [streamKey(c.stream), c]));
  // In the discovered catalog's order, so a listing reads like the source's schema.
  const streams = next.streams.map((stream): ConnectionStream => {
    const c = chosen.get(streamKey(stream));
    if (!c) return defaultStreamConfig(stream, supportedDestinationSyncModes, selectNewStreams);
    if (!c.selectedFields) return c;
    const fields = topLevelFields(stream.json_schema as JsonSchema);
    const kept = fields ? c.selectedFields.filter((f) => fields.includes(f)) : c.selectedFields;
    return kept.length > 0 ? { ...c, selectedFields: kept } : { ...c, selected: false };
  });
  return { streams };
}
