import * as z from 'zod';
import { AirbyteRecordChangeReason, AirbyteRecordChangeType } from './enums';
import { JsonInteger, JsonObject } from './primitives';

/** One change made to a record's content during the sync (a field nulled or truncated). */
export const AirbyteRecordMessageMetaChange = z.looseObject({
  field: z.string(),
  change: AirbyteRecordChangeType,
  reason: AirbyteRecordChangeReason,
});
export type AirbyteRecordMessageMetaChange = z.infer<typeof AirbyteRecordMessageMetaChange>;

export const AirbyteRecordMessageMeta = z.looseObject({
  changes: z.array(AirbyteRecordMessageMetaChange).optional(),
});
export type AirbyteRecordMessageMeta = z.infer<typeof AirbyteRecordMessageMeta>;

/** Where the file a record describes was staged (file-based streams). */
export const AirbyteRecordMessageFileReference = z.looseObject({
  staging_file_url: z.string().optional(),
  source_file_relative_path: z.string().optional(),
  file_size_bytes: JsonInteger.optional(),
});
export type AirbyteRecordMessageFileReference = z.infer<typeof AirbyteRecordMessageFileReference>;

export const AirbyteRecordMessage = z.looseObject({
  namespace: z.string().optional(),
  stream: z.string(),
  data: JsonObject,
  /** Epoch milliseconds. */
  emitted_at: JsonInteger,
  meta: AirbyteRecordMessageMeta.optional(),
  file_reference: AirbyteRecordMessageFileReference.optional(),
});
export type AirbyteRecordMessage = z.infer<typeof AirbyteRecordMessage>;
