import type { WorkloadOutcome } from './signals';

export type FailureOrigin = 'source' | 'destination' | 'platform' | 'replication';

/** Airbyte's failure types, plus the platform's own. */
export type FailureType =
  | 'config_error'
  | 'system_error'
  | 'transient_error'
  | 'manual_cancellation'
  | 'refresh_schema'
  | 'heartbeat_timeout'
  | 'destination_timeout';

/** One entry of `attempts.failure_summary.failures`, as Airbyte's FailureReason. */
export interface FailureReason {
  failureOrigin: FailureOrigin;
  failureType: FailureType;
  externalMessage: string;
  internalMessage?: string;
  stacktrace?: string;
  timestamp: number;
  streamDescriptor?: { name: string; namespace?: string };
  /** Set on failures that another attempt cannot fix (bad configuration, breaking schema change). */
  retryable?: boolean;
}

const ORIGINS = new Set(['source', 'destination', 'platform', 'replication']);
const TYPES = new Set([
  'config_error',
  'system_error',
  'transient_error',
  'manual_cancellation',
  'refresh_schema',
  'heartbeat_timeout',
  'destination_timeout',
]);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const text = (v: unknown, max: number) =>
  typeof v === 'string' && v.length > 0 ? v.slice(0, max) : undefined;

/** A failure the middleware reported in its output, kept only if it looks like one. */
function parseFailure(v: unknown, now: number): FailureReason | null {
  if (!isObject(v)) return null;
  const message = text(v.externalMessage, 2000) ?? text(v.message, 2000);
  if (!message) return null;
  const origin = typeof v.failureOrigin === 'string' ? v.failureOrigin : v.origin;
  const type = typeof v.failureType === 'string' ? v.failureType : v.type;
  const stream =
    isObject(v.streamDescriptor) && typeof v.streamDescriptor.name === 'string' ? v.streamDescriptor : null;
  return {
    failureOrigin: (ORIGINS.has(origin as string) ? origin : 'platform') as FailureOrigin,
    failureType: (TYPES.has(type as string) ? type : 'system_error') as FailureType,
    externalMessage: message,
    ...(text(v.internalMessage, 4000) ? { internalMessage: text(v.internalMessage, 4000) } : {}),
    ...(text(v.stacktrace, 8000) ? { stacktrace: text(v.stacktrace, 8000) } : {}),
    timestamp: typeof v.timestamp === 'number' ? v.timestamp : now,
    ...(stream
      ? {
          streamDescriptor: {
            name: stream.name as string,
            ...(typeof stream.namespace === 'string' ? { namespace: stream.namespace } : {}),
          },
        }
      : {}),
  };
}

/**
 * The failures of an ended workload: what its middleware reported (`output.failures`, or
 * `output.failure`), else one platform failure from the termination reason and source.
 */
export function failuresOf(outcome: WorkloadOutcome, output: unknown, now = Date.now()): FailureReason[] {
  const reported: FailureReason[] = [];
  if (isObject(output)) {
    const list = Array.isArray(output.failures) ? output.failures : output.failure ? [output.failure] : [];
    for (const f of list.slice(0, 50)) {
      const parsed = parseFailure(f, now);
      if (parsed) reported.push(parsed);
    }
  }
  if (reported.length > 0) return reported;
  const reason = outcome.terminationReason ?? `the workload ended with status ${outcome.status}`;
  const heartbeat = outcome.terminationSource === 'sweeper' && /heartbeat/i.test(reason);
  return [
    {
      failureOrigin: 'platform',
      failureType: heartbeat ? 'heartbeat_timeout' : 'system_error',
      externalMessage: reason.slice(0, 2000),
      ...(outcome.terminationSource ? { internalMessage: `ended by ${outcome.terminationSource}` } : {}),
      timestamp: now,
    },
  ];
}

export function platformFailure(
  message: string,
  type: FailureType = 'system_error',
  retryable = true,
): FailureReason {
  return {
    failureOrigin: 'platform',
    failureType: type,
    externalMessage: message.slice(0, 2000),
    timestamp: Date.now(),
    ...(retryable ? {} : { retryable: false }),
  };
}

/** Another attempt cannot fix a configuration error or a breaking schema change. */
export function isRetryable(failures: FailureReason[]): boolean {
  return !failures.some(
    (f) => f.retryable === false || f.failureType === 'config_error' || f.failureType === 'refresh_schema',
  );
}

export function summaryOf(failures: FailureReason[], partialSuccess: boolean) {
  return { failures, partialSuccess };
}
