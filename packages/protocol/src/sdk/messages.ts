import type {
  AirbyteCatalog,
  AirbyteConnectionStatus,
  AirbyteLogLevel,
  AirbyteMessage,
  AirbyteStateMessage,
  AirbyteStreamStatus,
  ConnectorSpecification,
  StreamDescriptor,
} from '../schema';
import { ConnectorError } from './errors';

// Builders for the messages connectors print. Each returns a plain AirbyteMessage.

export function logMessage(level: AirbyteLogLevel, message: string, stackTrace?: string): AirbyteMessage {
  return { type: 'LOG', log: stackTrace ? { level, message, stack_trace: stackTrace } : { level, message } };
}

export function specMessage(spec: ConnectorSpecification): AirbyteMessage {
  return { type: 'SPEC', spec };
}

export function catalogMessage(catalog: AirbyteCatalog): AirbyteMessage {
  return { type: 'CATALOG', catalog };
}

export function connectionStatusMessage(
  status: AirbyteConnectionStatus['status'],
  message?: string,
): AirbyteMessage {
  return {
    type: 'CONNECTION_STATUS',
    connectionStatus: message === undefined ? { status } : { status, message },
  };
}

export function stateMessage(state: AirbyteStateMessage): AirbyteMessage {
  return { type: 'STATE', state };
}

function descriptor(name: string, namespace?: string): StreamDescriptor {
  return namespace === undefined ? { name } : { name, namespace };
}

export function streamStatusMessage(
  stream: string,
  status: AirbyteStreamStatus,
  namespace?: string,
): AirbyteMessage {
  return {
    type: 'TRACE',
    trace: {
      type: 'STREAM_STATUS',
      emitted_at: Date.now(),
      stream_status: { stream_descriptor: descriptor(stream, namespace), status },
    },
  };
}

export interface EstimateInput {
  rows?: number;
  bytes?: number;
  namespace?: string;
}

export function estimateMessage(stream: string, estimate: EstimateInput): AirbyteMessage {
  return {
    type: 'TRACE',
    trace: {
      type: 'ESTIMATE',
      emitted_at: Date.now(),
      estimate: {
        name: stream,
        type: 'STREAM',
        ...(estimate.namespace === undefined ? {} : { namespace: estimate.namespace }),
        ...(estimate.rows === undefined ? {} : { row_estimate: Math.round(estimate.rows) }),
        ...(estimate.bytes === undefined ? {} : { byte_estimate: Math.round(estimate.bytes) }),
      },
    },
  };
}

export function controlConfigMessage(config: Record<string, unknown>): AirbyteMessage {
  return {
    type: 'CONTROL',
    control: { type: 'CONNECTOR_CONFIG', emitted_at: Date.now(), connectorConfig: { config } },
  };
}

/** A TRACE ERROR for any thrown value; ConnectorError chooses the failure type. */
export function errorTraceMessage(error: unknown): AirbyteMessage {
  const err = error instanceof Error ? error : new Error(String(error));
  const ce = err instanceof ConnectorError ? err : undefined;
  return {
    type: 'TRACE',
    trace: {
      type: 'ERROR',
      emitted_at: Date.now(),
      error: {
        message: err.message || err.name,
        internal_message: ce?.internalMessage ?? `${err.name}: ${err.message}`,
        ...(err.stack ? { stack_trace: err.stack } : {}),
        failure_type: ce?.failureType ?? 'system_error',
        ...(ce?.stream ? { stream_descriptor: ce.stream } : {}),
      },
    },
  };
}
