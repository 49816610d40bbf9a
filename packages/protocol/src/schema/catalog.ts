import * as z from 'zod';
import { DestinationSyncMode, SyncMode } from './enums';
import { JsonInteger, JsonObject } from './primitives';

/** A path into a record: each element is one level of nesting. */
const FieldPath = z.array(z.string());

export const AirbyteStream = z.looseObject({
  name: z.string(),
  /** JSON Schema of the stream's records. */
  json_schema: JsonObject,
  supported_sync_modes: z.array(SyncMode).min(1),
  source_defined_cursor: z.boolean().optional(),
  default_cursor_field: FieldPath.optional(),
  source_defined_primary_key: z.array(FieldPath).optional(),
  namespace: z.string().optional(),
  is_resumable: z.boolean().optional(),
  is_file_based: z.boolean().optional(),
});
export type AirbyteStream = z.infer<typeof AirbyteStream>;

/** A source's `discover` output. */
export const AirbyteCatalog = z.looseObject({
  streams: z.array(AirbyteStream),
});
export type AirbyteCatalog = z.infer<typeof AirbyteCatalog>;

/**
 * A stream as the user configured it. The YAML gives `sync_mode` and `destination_sync_mode`
 * defaults, but they are also required, so no default is ever applied.
 */
export const ConfiguredAirbyteStream = z.looseObject({
  stream: AirbyteStream,
  sync_mode: SyncMode,
  /** Required by the protocol's prose when `sync_mode` is incremental; the schema does not enforce it. */
  cursor_field: FieldPath.optional(),
  destination_sync_mode: DestinationSyncMode,
  destination_object_name: z.string().optional(),
  /** Required by the protocol's prose for `*_dedup` modes; the schema does not enforce it. */
  primary_key: z.array(FieldPath).optional(),
  generation_id: JsonInteger.optional(),
  minimum_generation_id: JsonInteger.optional(),
  sync_id: JsonInteger.optional(),
  include_files: z.boolean().optional(),
});
export type ConfiguredAirbyteStream = z.infer<typeof ConfiguredAirbyteStream>;

export const ConfiguredAirbyteCatalog = z.looseObject({
  streams: z.array(ConfiguredAirbyteStream),
});
export type ConfiguredAirbyteCatalog = z.infer<typeof ConfiguredAirbyteCatalog>;

/** An operation a destination can perform on one of its objects. */
export const DestinationOperation = z.looseObject({
  object_name: z.string(),
  sync_mode: DestinationSyncMode,
  json_schema: JsonObject,
  matching_keys: z.array(FieldPath).optional(),
});
export type DestinationOperation = z.infer<typeof DestinationOperation>;

export const DestinationCatalog = z.looseObject({
  operations: z.array(DestinationOperation),
});
export type DestinationCatalog = z.infer<typeof DestinationCatalog>;
