import * as z from 'zod';
import { AirbyteControlMessageType } from './enums';
import { JsonObject } from './primitives';

export const AirbyteControlConnectorConfigMessage = z.looseObject({
  /** The connector's whole updated config, to be persisted by the platform. */
  config: JsonObject,
});
export type AirbyteControlConnectorConfigMessage = z.infer<typeof AirbyteControlConnectorConfigMessage>;

export const AirbyteControlMessage = z.looseObject({
  type: AirbyteControlMessageType,
  /** Milliseconds; declared `number`, so fractional values are valid. */
  emitted_at: z.number(),
  connectorConfig: AirbyteControlConnectorConfigMessage.optional(),
});
export type AirbyteControlMessage = z.infer<typeof AirbyteControlMessage>;
