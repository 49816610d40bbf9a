import * as z from 'zod';
import { AirbyteCatalog, ConfiguredAirbyteCatalog, DestinationCatalog } from './catalog';
import { AirbyteConnectionStatus } from './connection-status';
import { AirbyteControlMessage } from './control';
import { AirbyteMessageType, type AirbyteStateType } from './enums';
import { AirbyteLogMessage } from './log';
import { AirbyteRecordMessage } from './record';
import { ConnectorSpecification } from './spec';
import { AirbyteStateMessage } from './state';
import {
  type AirbyteAnalyticsTraceMessage,
  type AirbyteErrorTraceMessage,
  type AirbyteEstimateTraceMessage,
  type AirbyteStreamStatusTraceMessage,
  AirbyteTraceMessage,
} from './trace';

/**
 * One line of connector output (or input). As in the protocol, only `type` is required and the
 * payload properties are independent optionals: `{"type":"RECORD"}` is valid, so code that needs
 * the payload narrows with the guards below rather than trusting `type`.
 */
export const AirbyteMessage = z.looseObject({
  type: AirbyteMessageType,
  log: AirbyteLogMessage.optional(),
  spec: ConnectorSpecification.optional(),
  connectionStatus: AirbyteConnectionStatus.optional(),
  catalog: AirbyteCatalog.optional(),
  record: AirbyteRecordMessage.optional(),
  state: AirbyteStateMessage.optional(),
  trace: AirbyteTraceMessage.optional(),
  control: AirbyteControlMessage.optional(),
  destination_catalog: DestinationCatalog.optional(),
});
export type AirbyteMessage = z.infer<typeof AirbyteMessage>;

/** The property that carries each message type's payload. */
export const AIRBYTE_MESSAGE_PAYLOAD_FIELD = {
  RECORD: 'record',
  STATE: 'state',
  LOG: 'log',
  SPEC: 'spec',
  CONNECTION_STATUS: 'connectionStatus',
  CATALOG: 'catalog',
  TRACE: 'trace',
  CONTROL: 'control',
  DESTINATION_CATALOG: 'destination_catalog',
} as const satisfies Record<AirbyteMessageType, keyof AirbyteMessage>;

export type RecordMessage = AirbyteMessage & { type: 'RECORD'; record: AirbyteRecordMessage };
export type StateMessage = AirbyteMessage & { type: 'STATE'; state: AirbyteStateMessage };
export type LogMessage = AirbyteMessage & { type: 'LOG'; log: AirbyteLogMessage };
export type SpecMessage = AirbyteMessage & { type: 'SPEC'; spec: ConnectorSpecification };
export type ConnectionStatusMessage = AirbyteMessage & {
  type: 'CONNECTION_STATUS';
  connectionStatus: AirbyteConnectionStatus;
};
export type CatalogMessage = AirbyteMessage & { type: 'CATALOG'; catalog: AirbyteCatalog };
export type TraceMessage = AirbyteMessage & { type: 'TRACE'; trace: AirbyteTraceMessage };
export type ControlMessage = AirbyteMessage & { type: 'CONTROL'; control: AirbyteControlMessage };
export type DestinationCatalogMessage = AirbyteMessage & {
  type: 'DESTINATION_CATALOG';
  destination_catalog: DestinationCatalog;
};

/** A message whose payload property matches its type, by type. */
export interface AirbyteMessageByType {
  RECORD: RecordMessage;
  STATE: StateMessage;
  LOG: LogMessage;
  SPEC: SpecMessage;
  CONNECTION_STATUS: ConnectionStatusMessage;
  CATALOG: CatalogMessage;
  TRACE: TraceMessage;
  CONTROL: ControlMessage;
  DESTINATION_CATALOG: DestinationCatalogMessage;
}
export type TypedAirbyteMessage = AirbyteMessageByType[AirbyteMessageType];

/** True when the message carries the payload its `type` names (e.g. RECORD with `record`). */
export function hasPayload<T extends AirbyteMessageType>(
  message: AirbyteMessage,
  type: T,
): message is AirbyteMessageByType[T] {
  return message.type === type && message[AIRBYTE_MESSAGE_PAYLOAD_FIELD[type]] !== undefined;
}

/** True when the message's payload property matches its `type`. */
export function isTypedMessage(message: AirbyteMessage): message is TypedAirbyteMessage {
  return message[AIRBYTE_MESSAGE_PAYLOAD_FIELD[message.type]] !== undefined;
}

export const isRecord = (message: AirbyteMessage): message is RecordMessage =>
  message.type === 'RECORD' && message.record !== undefined;
export const isState = (message: AirbyteMessage): message is StateMessage =>
  message.type === 'STATE' && message.state !== undefined;
export const isLog = (message: AirbyteMessage): message is LogMessage =>
  message.type === 'LOG' && message.log !== undefined;
export const isSpec = (message: AirbyteMessage): message is SpecMessage =>
  message.type === 'SPEC' && message.spec !== undefined;
export const isConnectionStatus = (message: AirbyteMessage): message is ConnectionStatusMessage =>
  message.type === 'CONNECTION_STATUS' && message.connectionStatus !== undefined;
export const isCatalog = (message: AirbyteMessage): message is CatalogMessage =>
  message.type === 'CATALOG' && message.catalog !== undefined;
export const isTrace = (message: AirbyteMessage): message is TraceMessage =>
  message.type === 'TRACE' && message.trace !== undefined;
export const isControl = (message: AirbyteMessage): message is ControlMessage =>
  message.type === 'CONTROL' && message.control !== undefined;
export const isDestinationCatalog = (message: AirbyteMessage): message is DestinationCatalogMessage =>
  message.type === 'DESTINATION_CATALOG' && message.destination_catalog !== undefined;

export type ErrorTrace = AirbyteTraceMessage & { type: 'ERROR'; error: AirbyteErrorTraceMessage };
export type EstimateTrace = AirbyteTraceMessage & { type: 'ESTIMATE'; estimate: AirbyteEstimateTraceMessage };
export type StreamStatusTrace = AirbyteTraceMessage & {
  type: 'STREAM_STATUS';
  stream_status: AirbyteStreamStatusTraceMessage;
};
export type AnalyticsTrace = AirbyteTraceMessage & {
  type: 'ANALYTICS';
  analytics: AirbyteAnalyticsTraceMessage;
};

export const isErrorTrace = (trace: AirbyteTraceMessage): trace is ErrorTrace =>
  trace.type === 'ERROR' && trace.error !== undefined;
export const isEstimateTrace = (trace: AirbyteTraceMessage): trace is EstimateTrace =>
  trace.type === 'ESTIMATE' && trace.estimate !== undefined;
export const isStreamStatusTrace = (trace: AirbyteTraceMessage): trace is StreamStatusTrace =>
  trace.type === 'STREAM_STATUS' && trace.stream_status !== undefined;
export const isAnalyticsTrace = (trace: AirbyteTraceMessage): trace is AnalyticsTrace =>
  trace.type === 'ANALYTICS' && trace.analytics !== undefined;

/** The state's type; the protocol reads an absent `type` as LEGACY. */
export function stateTypeOf(state: AirbyteStateMessage): AirbyteStateType {
  return state.type ?? 'LEGACY';
}

// zod's compiled parser is about twice as fast as its interpreter on records and falls back to
// the interpreter on failure, so results and error messages are the same. Built on first use.
let compiledMessage: typeof AirbyteMessage | undefined;

/** Validates one decoded message (the value of a parsed JSON line); never throws. */
export function parseAirbyteMessage(value: unknown): z.ZodSafeParseResult<AirbyteMessage> {
  compiledMessage ??= z.compile(AirbyteMessage);
  return compiledMessage.safeParse(value);
}

/** Validates a configured catalog (the `--catalog` file of `read` and `write`); never throws. */
export function parseConfiguredAirbyteCatalog(
  value: unknown,
): z.ZodSafeParseResult<ConfiguredAirbyteCatalog> {
  return ConfiguredAirbyteCatalog.safeParse(value);
}
