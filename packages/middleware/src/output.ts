import type { FailureReason } from './messages';
import type { StreamStatsReport } from './stats';

/**
 * What a workload reports as its `output` (the worker reads it). Every variant carries `type`;
 * a failed workload also reports its failures (the first is the primary reason).
 */
export interface SyncOutput {
  type: 'sync';
  status: 'succeeded' | 'failed' | 'cancelled';
  mode: 'stdio' | 'socket';
  socketCount?: number;
  startedAt: string;
  endedAt: string;
  durationMs: number;
  recordsEmitted: number;
  bytesEmitted: number;
  recordsCommitted: number;
  bytesCommitted: number;
  /** Records not forwarded: unknown streams, invalid lines. */
  recordsDropped: number;
  statesEmitted: number;
  statesCommitted: number;
  statesPersisted: number;
  /** Committed state was persisted although the attempt failed: the retry resumes from there. */
  partialSuccess: boolean;
  source: { exitCode: number | null };
  destination: { exitCode: number | null };
  streams: StreamStatsReport[];
  streamStatuses: Record<string, string>;
  failures: FailureReason[];
}

export type ConnectorJobOutput =
  | { type: 'spec'; spec: unknown }
  | {
      type: 'check';
      connectionStatus: { status: 'SUCCEEDED' | 'FAILED'; message?: string };
      failureType?: string;
    }
  | { type: 'discover'; catalog: unknown }
  | { type: 'spec' | 'check' | 'discover'; failures: FailureReason[] };

/** How a job ended, before it is reported. */
export type JobOutcome =
  | { kind: 'success'; output: unknown }
  | { kind: 'failure'; reason: string; output: unknown }
  | { kind: 'cancelled'; reason: string; output: unknown };

/** The failure reason a user reads: the primary failure, with its origin. */
export function reasonOf(failures: readonly FailureReason[]): string {
  const f = failures[0];
  if (!f) return 'the workload failed for an unknown reason';
  const origin =
    f.failureOrigin === 'replication' || f.failureOrigin === 'platform'
      ? 'the platform'
      : `the ${f.failureOrigin}`;
  return `Failure in ${origin} (${f.failureType}): ${f.externalMessage}`;
}
