import { z } from 'zod';

/**
 * Schemas shared by the service, the Workload API router, the launcher and the middleware.
 * This file (and `queue.ts`) imports nothing from the database so launchers can use it.
 */

export const WORKLOAD_STATUSES = [
  'pending',
  'claimed',
  'launched',
  'running',
  'success',
  'failure',
  'cancelled',
] as const;
export const WorkloadStatusName = z.enum(WORKLOAD_STATUSES);
export type WorkloadStatusName = z.infer<typeof WorkloadStatusName>;

export const ACTIVE_STATUSES = ['pending', 'claimed', 'launched', 'running'] as const;
export const TERMINAL_STATUSES = ['success', 'failure', 'cancelled'] as const;
export type ActiveStatus = (typeof ACTIVE_STATUSES)[number];
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminalStatus(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export const WorkloadTypeName = z.enum(['spec', 'check', 'discover', 'sync']);
export type WorkloadTypeName = z.infer<typeof WorkloadTypeName>;

/**
 * Also a BullMQ job id, a directory name, a container-name part and a label value: so no ":"
 * (BullMQ refuses it) and not all digits (BullMQ refuses integer-like custom ids).
 */
export const WorkloadId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'a workload id is 1-100 letters, digits, "_", "." or "-"')
  .refine((id) => !/^\d+$/.test(id), 'a workload id must not be only digits');
export type WorkloadId = z.infer<typeof WorkloadId>;

/** Part of a queue name: BullMQ refuses ":" in queue names. */
export const DataplaneGroup = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    'a dataplane group is 1-63 letters, digits, "_", "." or "-", starting with a letter or digit',
  );
export type DataplaneGroup = z.infer<typeof DataplaneGroup>;

/** Dataplane tokens start with this, so one is never mistaken for a user token. */
export const DATAPLANE_TOKEN_PREFIX = 'sluice_dp_';

/** Identifies one launcher process (host name + pid, a pod name, …). */
export const LauncherId = z.string().min(1).max(200);
export type LauncherId = z.infer<typeof LauncherId>;

/** Who ended a workload (stored in `termination_source`). */
export const TerminationSource = z.enum(['launcher', 'middleware', 'sweeper', 'api', 'user', 'platform']);
export type TerminationSource = z.infer<typeof TerminationSource>;

export const MIN_PRIORITY = -1000;
export const MAX_PRIORITY = 1000;

const uuid = z.uuid();

/**
 * One connector of a workload. `config` is stored with its `airbyte_secret` fields sealed;
 * `workload.input` hands it to dataplane callers opened.
 */
export const ConnectorInput = z.looseObject({
  /** The saved source or destination: CONTROL config updates are persisted on it. Absent for
   * a check of a config that is not saved yet. */
  actorId: uuid.optional(),
  actorType: z.enum(['source', 'destination']),
  definitionId: uuid.optional(),
  /** For container runtimes. */
  image: z.string().min(1).optional(),
  /** For the process runtime. */
  command: z.array(z.string().min(1)).optional(),
  version: z.string().optional(),
  supportsSocket: z.boolean().optional(),
  network: z.enum(['none', 'host']).optional(),
  resources: z.record(z.string(), z.unknown()).nullish(),
  config: z.record(z.string(), z.unknown()).optional(),
});
export type ConnectorInput = z.infer<typeof ConnectorInput>;

/**
 * What a workload runs with; written by the worker, read by launchers and the middleware
 * through `workload.input`. Loose: the worker may add fields (mapping options, limits) that
 * the service passes through untouched.
 * - sync: `connectionId`, `source`, `destination`, `catalog`; `workload.input` adds the
 *   connection's committed `state` and its `stateGeneration` as of the read.
 * - check / discover: `connector` with its config. spec: `connector` without config.
 */
export const WorkloadInput = z
  .looseObject({
    jobId: uuid.optional(),
    attemptNumber: z.number().int().nonnegative().optional(),
    workspaceId: uuid.optional(),
    connectionId: uuid.optional(),
    source: ConnectorInput.optional(),
    destination: ConnectorInput.optional(),
    connector: ConnectorInput.optional(),
    /** ConfiguredAirbyteCatalog (sync) */
    catalog: z.unknown().optional(),
  })
  .refine((i) => !i.source || i.source.actorType === 'source', {
    message: 'source.actorType must be "source"',
    path: ['source', 'actorType'],
  })
  .refine((i) => !i.destination || i.destination.actorType === 'destination', {
    message: 'destination.actorType must be "destination"',
    path: ['destination', 'actorType'],
  });
export type WorkloadInput = z.infer<typeof WorkloadInput>;

/** How completion reaches the waiting workflow; opaque to this package. */
export const SignalInput = z.looseObject({
  workflowId: z.string().min(1),
  signalName: z.string().min(1),
});
export type SignalInput = z.infer<typeof SignalInput>;

export const CreateWorkload = z
  .object({
    /** Caller-chosen, deterministic per job attempt (e.g. `<jobId>_<attempt>_sync`): creating
     * twice returns the existing workload. */
    id: WorkloadId,
    type: WorkloadTypeName,
    input: WorkloadInput,
    dataplaneGroup: DataplaneGroup.default('default'),
    /** Higher is claimed first. */
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).default(0),
    /** At most one workload per key runs: a newer one cancels the older (e.g. `connection:<id>`). */
    mutexKey: z.string().min(1).max(200).nullish(),
    attemptId: uuid.nullish(),
    signalInput: SignalInput.nullish(),
  })
  .superRefine((w, ctx) => {
    const need = (ok: unknown, path: string, message: string) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: ['input', path], message });
    };
    if (w.type === 'sync') {
      need(w.input.connectionId, 'connectionId', 'a sync workload needs input.connectionId');
      need(w.input.source, 'source', 'a sync workload needs input.source');
      need(w.input.destination, 'destination', 'a sync workload needs input.destination');
    } else {
      need(w.input.connector, 'connector', `a ${w.type} workload needs input.connector`);
      if (w.type !== 'spec')
        need(w.input.connector?.config, 'connector', `a ${w.type} workload needs input.connector.config`);
    }
  });
export type CreateWorkload = z.input<typeof CreateWorkload>;

/** Cumulative counters of one stream in one attempt; a report never lowers a stored counter. */
export const StreamStatsReport = z.object({
  stream: z.object({ name: z.string().min(1), namespace: z.string().nullish() }),
  recordsEmitted: z.number().int().nonnegative().optional(),
  bytesEmitted: z.number().int().nonnegative().optional(),
  recordsCommitted: z.number().int().nonnegative().optional(),
  bytesCommitted: z.number().int().nonnegative().optional(),
  recordsRejected: z.number().int().nonnegative().optional(),
  estimatedRecords: z.number().int().nonnegative().nullish(),
  estimatedBytes: z.number().int().nonnegative().nullish(),
});
export type StreamStatsReport = z.infer<typeof StreamStatsReport>;

/**
 * Writers of an attempt's log. Each numbers its own chunks from 0 and appends them in order, so
 * its retried appends are idempotent; the writer's range keeps the numbers of different writers
 * apart in the table's `(attempt, sequence)` key. `api`: the API's own lines (a connector job it
 * runs, or the local runner); `platform`: the worker's.
 *
 * An attempt may run several workloads (a sync's discover, then the sync), each with its own
 * middleware and launcher lines numbered from 0: within a writer's range every workload of the
 * attempt has a slot of `LOG_SLOT_STRIDE` numbers (its place among the attempt's workloads).
 */
export const LogWriter = z.enum(['middleware', 'api', 'launcher', 'platform']);
export type LogWriter = z.infer<typeof LogWriter>;
export const LOG_WRITER_BASE: Record<LogWriter, number> = {
  middleware: 0,
  api: 500_000_000,
  launcher: 1_000_000_000,
  platform: 1_500_000_000,
};
/** Numbers of one workload's chunks within a writer's range. */
export const LOG_SLOT_STRIDE = 10_000_000;
/** Slots of a writer's range: workloads of one attempt beyond this share the last slot. */
export const MAX_LOG_SLOT = 49;
/** Chunk numbers of one writer (and workload): 0 … MAX_LOG_SEQUENCE. */
export const MAX_LOG_SEQUENCE = LOG_SLOT_STRIDE - 1;

export const LogChunk = z.object({
  sequence: z.number().int().min(0).max(MAX_LOG_SEQUENCE),
  text: z.string().max(1_000_000),
});
export type LogChunk = z.infer<typeof LogChunk>;

/** A workload as the API shows it: never its input (which holds sealed secrets). */
export interface WorkloadView {
  id: string;
  autoId: string;
  type: WorkloadTypeName;
  status: WorkloadStatusName;
  dataplaneGroup: string;
  priority: number;
  mutexKey: string | null;
  claimedBy: string | null;
  deadline: string | null;
  lastHeartbeatAt: string | null;
  output: unknown;
  signalInput: unknown;
  terminationReason: string | null;
  terminationSource: string | null;
  attemptId: string | null;
  createdAt: string;
  updatedAt: string;
  claimedAt: string | null;
  launchedAt: string | null;
  runningAt: string | null;
  /** When its programs were last known to run. Null on a cancelled workload whose programs
   * may still be stopping (see the README's cancellation section). */
  endedAt: string | null;
}

/** What a heartbeat (or `running`) answers: the middleware stops itself when `stop` is true. */
export interface HeartbeatResult {
  status: WorkloadStatusName;
  stop: boolean;
  cancelled: boolean;
  reason: string | null;
  deadline: string | null;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

export type ClaimResult<W = WorkloadView> =
  | { outcome: 'claimed'; workload: W }
  /** Another workload with the same mutex key has not ended: try again later. */
  | { outcome: 'blocked'; blockedBy: string; retryAfterMs: number }
  /** Not pending any more (claimed by someone, ended) or unknown: drop the queue job. */
  | { outcome: 'unavailable'; status: WorkloadStatusName | null; reason: string };
