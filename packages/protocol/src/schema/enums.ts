import * as z from 'zod';

// Enumerations of the Airbyte Protocol. Definitions named in the YAML keep their name; enums that
// the YAML declares inline on a property get the name Airbyte's generated models use, prefixed.

/** `AirbyteMessage.type`. */
export const AirbyteMessageType = z.enum([
  'RECORD',
  'STATE',
  'LOG',
  'SPEC',
  'CONNECTION_STATUS',
  'CATALOG',
  'TRACE',
  'CONTROL',
  'DESTINATION_CATALOG',
]);
export type AirbyteMessageType = z.infer<typeof AirbyteMessageType>;

export const SyncMode = z.enum(['full_refresh', 'incremental']);
export type SyncMode = z.infer<typeof SyncMode>;

export const DestinationSyncMode = z.enum(['append', 'overwrite', 'append_dedup', 'update', 'soft_delete']);
export type DestinationSyncMode = z.infer<typeof DestinationSyncMode>;

/** A state message without `type` is LEGACY (see `stateTypeOf`). */
export const AirbyteStateType = z.enum(['GLOBAL', 'STREAM', 'LEGACY']);
export type AirbyteStateType = z.infer<typeof AirbyteStateType>;

/** `AirbyteLogMessage.level`. */
export const AirbyteLogLevel = z.enum(['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG', 'TRACE']);
export type AirbyteLogLevel = z.infer<typeof AirbyteLogLevel>;

/** `AirbyteTraceMessage.type`. */
export const AirbyteTraceType = z.enum(['ERROR', 'ESTIMATE', 'STREAM_STATUS', 'ANALYTICS']);
export type AirbyteTraceType = z.infer<typeof AirbyteTraceType>;

/** `AirbyteErrorTraceMessage.failure_type`. */
export const AirbyteFailureType = z.enum(['system_error', 'config_error', 'transient_error']);
export type AirbyteFailureType = z.infer<typeof AirbyteFailureType>;

/** `AirbyteEstimateTraceMessage.type`: per stream (preferred) or for the whole sync. */
export const AirbyteEstimateType = z.enum(['STREAM', 'SYNC']);
export type AirbyteEstimateType = z.infer<typeof AirbyteEstimateType>;

export const AirbyteStreamStatus = z.enum(['STARTED', 'RUNNING', 'COMPLETE', 'INCOMPLETE']);
export type AirbyteStreamStatus = z.infer<typeof AirbyteStreamStatus>;

export const AirbyteStreamStatusReasonType = z.enum(['RATE_LIMITED']);
export type AirbyteStreamStatusReasonType = z.infer<typeof AirbyteStreamStatusReasonType>;

/** `AirbyteControlMessage.type`. */
export const AirbyteControlMessageType = z.enum(['CONNECTOR_CONFIG']);
export type AirbyteControlMessageType = z.infer<typeof AirbyteControlMessageType>;

/** `AirbyteConnectionStatus.status`: the outcome of `check`. */
export const AirbyteConnectionStatusValue = z.enum(['SUCCEEDED', 'FAILED']);
export type AirbyteConnectionStatusValue = z.infer<typeof AirbyteConnectionStatusValue>;

/** `AirbyteRecordMessageMetaChange.change`. */
export const AirbyteRecordChangeType = z.enum(['NULLED', 'TRUNCATED']);
export type AirbyteRecordChangeType = z.infer<typeof AirbyteRecordChangeType>;

/** `AirbyteRecordMessageMetaChange.reason`. */
export const AirbyteRecordChangeReason = z.enum([
  'SOURCE_RECORD_SIZE_LIMITATION',
  'DESTINATION_RECORD_SIZE_LIMITATION',
  'PLATFORM_RECORD_SIZE_LIMITATION',
  'SOURCE_FIELD_SIZE_LIMITATION',
  'DESTINATION_FIELD_SIZE_LIMITATION',
  'PLATFORM_FIELD_SIZE_LIMITATION',
  'SOURCE_SERIALIZATION_ERROR',
  'DESTINATION_SERIALIZATION_ERROR',
  'PLATFORM_SERIALIZATION_ERROR',
  'SOURCE_RETRIEVAL_ERROR',
  'DESTINATION_TYPECAST_ERROR',
]);
export type AirbyteRecordChangeReason = z.infer<typeof AirbyteRecordChangeReason>;

/** `ConnectorSpecification.authSpecification.auth_type` (deprecated with authSpecification). */
export const AuthSpecificationAuthType = z.enum(['oauth2.0']);
export type AuthSpecificationAuthType = z.infer<typeof AuthSpecificationAuthType>;

/** `ConnectorSpecification.advanced_auth.auth_flow_type`. */
export const AdvancedAuthFlowType = z.enum(['oauth2.0', 'oauth1.0']);
export type AdvancedAuthFlowType = z.infer<typeof AdvancedAuthFlowType>;
