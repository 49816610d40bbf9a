import type { AirbyteFailureType, StreamDescriptor } from '../schema';

export interface ConnectorErrorOptions {
  failureType?: AirbyteFailureType;
  /** Technical detail for operators; the message stays user-facing. */
  internalMessage?: string;
  stream?: StreamDescriptor;
  cause?: unknown;
}

/**
 * An error a connector reports on purpose. The SDK turns any thrown error into a TRACE ERROR
 * message; this class chooses its `failure_type`, internal message and stream.
 */
export class ConnectorError extends Error {
  override name = 'ConnectorError';
  readonly failureType: AirbyteFailureType;
  readonly internalMessage: string | undefined;
  readonly stream: StreamDescriptor | undefined;

  constructor(message: string, options: ConnectorErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.failureType = options.failureType ?? 'system_error';
    this.internalMessage = options.internalMessage;
    this.stream = options.stream;
  }
}

/** The user's configuration (config, catalog or state they supplied) is wrong. */
export class ConfigError extends ConnectorError {
  override name = 'ConfigError';
  constructor(message: string, options: Omit<ConnectorErrorOptions, 'failureType'> = {}) {
    super(message, { ...options, failureType: 'config_error' });
  }
}

/** A failure worth retrying (network blip, rate limit, lock timeout). */
export class TransientError extends ConnectorError {
  override name = 'TransientError';
  constructor(message: string, options: Omit<ConnectorErrorOptions, 'failureType'> = {}) {
    super(message, { ...options, failureType: 'transient_error' });
  }
}

/** The command line itself is wrong (unknown command, missing --config, …). */
export class UsageError extends ConnectorError {
  override name = 'UsageError';
  constructor(message: string) {
    super(message, { failureType: 'config_error' });
  }
}
