import * as z from 'zod';
import { AirbyteStateType } from './enums';
import { JsonObject } from './primitives';

export const StreamDescriptor = z.looseObject({
  name: z.string(),
  namespace: z.string().optional(),
});
export type StreamDescriptor = z.infer<typeof StreamDescriptor>;

/** Opaque state owned by the connector. */
export const AirbyteStateBlob = JsonObject;
export type AirbyteStateBlob = z.infer<typeof AirbyteStateBlob>;

export const AirbyteStreamState = z.looseObject({
  stream_descriptor: StreamDescriptor,
  stream_state: AirbyteStateBlob.optional(),
});
export type AirbyteStreamState = z.infer<typeof AirbyteStreamState>;

export const AirbyteGlobalState = z.looseObject({
  shared_state: AirbyteStateBlob.optional(),
  stream_states: z.array(AirbyteStreamState),
});
export type AirbyteGlobalState = z.infer<typeof AirbyteGlobalState>;

/**
 * Record counts attached to a state. Declared `number`, not `integer`: the protocol writes them as
 * doubles (`10.0`) to survive overflow in other languages.
 */
export const AirbyteStateStats = z.looseObject({
  recordCount: z.number().optional(),
  rejectedRecordCount: z.number().optional(),
});
export type AirbyteStateStats = z.infer<typeof AirbyteStateStats>;

/**
 * A checkpoint. Every property is optional in the protocol: `type` absent means LEGACY, whose
 * state lives in the deprecated `data`.
 */
export const AirbyteStateMessage = z.looseObject({
  type: AirbyteStateType.optional(),
  stream: AirbyteStreamState.optional(),
  global: AirbyteGlobalState.optional(),
  /** Deprecated: LEGACY state. */
  data: JsonObject.optional(),
  sourceStats: AirbyteStateStats.optional(),
  destinationStats: AirbyteStateStats.optional(),
});
export type AirbyteStateMessage = z.infer<typeof AirbyteStateMessage>;
