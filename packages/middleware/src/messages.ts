import type { AirbyteMessage, AirbyteTraceMessage, StreamDescriptor } from '@sluice/protocol';
import type { LogBatcher } from './log-batcher';
import type { Scrubber } from './secrets';
import type { SyncStats } from './stats';

export type ConnectorRoleName = 'source' | 'destination' | 'connector';
export type FailureOrigin = 'source' | 'destination' | 'replication' | 'platform';
export type FailureType = 'config_error' | 'system_error' | 'transient_error' | 'manual_cancellation';

/** Why an attempt failed, as Airbyte reports it (FailureReason). */
export interface FailureReason {
  failureOrigin: FailureOrigin;
  failureType: FailureType;
  externalMessage: string;
  internalMessage?: string;
  stacktrace?: string;
  streamDescriptor?: { name: string; namespace?: string };
  /** Whether retrying may help: everything but a config error or a cancellation. */
  retryable: boolean;
  timestamp: number;
}

export function failure(
  origin: FailureOrigin,
  type: FailureType,
  externalMessage: string,
  extra: Partial<Pick<FailureReason, 'internalMessage' | 'stacktrace' | 'streamDescriptor'>> = {},
): FailureReason {
  return {
    failureOrigin: origin,
    failureType: type,
    externalMessage,
    ...extra,
    retryable: type !== 'config_error' && type !== 'manual_cancellation',
    timestamp: Date.now(),
  };
}

export type LogLevel = 'FATAL' | 'ERROR' | 'WARN' | 'INFO' | 'DEBUG' | 'TRACE';

/** Formats attempt-log lines: `<ISO time> <who> > <LEVEL> <message>`, as Airbyte's log reads. */
export class AttemptLog {
  constructor(
    readonly batcher: LogBatcher,
    private readonly scrubber?: Scrubber,
  ) {}

  write(who: string, level: LogLevel, message: string): void {
    this.line(`${new Date().toISOString()} ${who} > ${level} ${message}`);
  }

  private line(text: string): void {
    this.batcher.line(this.scrubber && !this.scrubber.empty ? this.scrubber.scrub(text) : text);
  }

  platform(level: LogLevel, message: string): void {
    this.write('platform', level, message);
  }

  /** A connector's stderr or non-protocol line, as printed. */
  raw(who: string, text: string): void {
    this.line(`${new Date().toISOString()} ${who} > ${text}`);
  }
}

const MAX_TRACE_ERRORS = 50;
const PREVIEW_CHARS = 200;

export interface MessageHandlerDeps {
  log: AttemptLog;
  /** Estimates and stream statuses (sources). */
  stats?: SyncStats;
  /** Origin of this connector's failures; by default its role (a spec/check/discover connector: source). */
  origin?: 'source' | 'destination';
  /** A validated CONTROL connector-config update. */
  onControl?(config: Record<string, unknown>): void;
}

/**
 * Everything a connector prints besides records and states: LOG and TRACE go to the attempt log,
 * TRACE ERROR also becomes a failure reason, ESTIMATE and STREAM_STATUS progress, CONTROL a config
 * update. Lines that are not protocol messages are logged as they are, as the protocol allows.
 */
export class MessageHandler {
  readonly errors: FailureReason[] = [];
  readonly streamStatuses = new Map<string, string>();
  invalidLines = 0;
  private readonly who: string;

  constructor(
    readonly role: ConnectorRoleName,
    private readonly deps: MessageHandlerDeps,
  ) {
    this.who = role;
  }

  handle(m: AirbyteMessage): void {
    switch (m.type) {
      case 'LOG': {
        const log = m.log!;
        const text = log.stack_trace ? `${log.message}\n${log.stack_trace}` : log.message;
        this.deps.log.write(this.who, log.level, text);
        return;
      }
      case 'TRACE':
        this.trace(m.trace!);
        return;
      case 'CONTROL': {
        const c = m.control!;
        if (c.type === 'CONNECTOR_CONFIG' && c.connectorConfig) {
          this.deps.log.write(this.who, 'INFO', 'asked the platform to persist an updated connector config');
          this.deps.onControl?.(c.connectorConfig.config as Record<string, unknown>);
        } else {
          this.deps.log.write(
            this.who,
            'WARN',
            `ignored a CONTROL message of type ${c.type} without a config`,
          );
        }
        return;
      }
      default:
        this.deps.log.write(
          'platform',
          'WARN',
          `${this.who} printed an unexpected ${m.type} message here; ignored`,
        );
    }
  }

  private trace(t: AirbyteTraceMessage): void {
    switch (t.type) {
      case 'ERROR': {
        const e = t.error!;
        const origin: FailureOrigin =
          this.deps.origin ?? (this.role === 'destination' ? 'destination' : 'source');
        if (this.errors.length < MAX_TRACE_ERRORS) {
          this.errors.push(
            failure(origin, e.failure_type ?? 'system_error', e.message, {
              ...(e.internal_message ? { internalMessage: e.internal_message } : {}),
              ...(e.stack_trace ? { stacktrace: e.stack_trace } : {}),
              ...(e.stream_descriptor ? { streamDescriptor: descriptor(e.stream_descriptor) } : {}),
            }),
          );
        }
        const detail = e.internal_message ? ` (${e.internal_message})` : '';
        this.deps.log.write(this.who, 'ERROR', `${e.failure_type ?? 'system_error'}: ${e.message}${detail}`);
        if (e.stack_trace) this.deps.log.write(this.who, 'ERROR', e.stack_trace);
        return;
      }
      case 'ESTIMATE': {
        const e = t.estimate!;
        if (e.type === 'STREAM')
          this.deps.stats?.estimate(e.name, e.namespace, e.row_estimate, e.byte_estimate);
        this.deps.log.write(
          this.who,
          'DEBUG',
          `estimate for ${e.namespace ? `${e.namespace}.` : ''}${e.name}: ${e.row_estimate ?? '?'} records, ${e.byte_estimate ?? '?'} bytes`,
        );
        return;
      }
      case 'STREAM_STATUS': {
        const s = t.stream_status!;
        const d = s.stream_descriptor;
        const label = d.namespace ? `${d.namespace}.${d.name}` : d.name;
        this.streamStatuses.set(label, s.status);
        this.deps.log.write(this.who, 'INFO', `stream ${label}: ${s.status}`);
        return;
      }
      default:
        this.deps.log.write(this.who, 'DEBUG', `${t.type} trace`);
    }
  }

  /** A line that is not JSON (or not UTF-8): logged as the connector printed it. */
  notJson(text: string): void {
    this.deps.log.raw(this.who, text);
  }

  /** A JSON line that is not a valid Airbyte message: logged with the reason, not forwarded. */
  invalid(line: number, text: string, error: string): void {
    this.invalidLines++;
    const preview = text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
    this.deps.log.write(
      'platform',
      'WARN',
      `${this.who} line ${line} is not a valid Airbyte message (${error}); skipped: ${preview}`,
    );
  }

  stderr(text: string): void {
    this.deps.log.raw(this.who, text);
  }
}

function descriptor(d: StreamDescriptor): { name: string; namespace?: string } {
  return d.namespace !== undefined ? { name: d.name, namespace: d.namespace } : { name: d.name };
}
