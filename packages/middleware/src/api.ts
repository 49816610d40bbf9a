import type { AppRouter } from '@sluice/api';
import { createTRPCClient, httpLink } from '@trpc/client';
import type { LogChunk } from './log-batcher';
import type { StreamStatsReport } from './stats';

/** What `running` and `heartbeat` answer. */
export interface HeartbeatAnswer {
  status: string;
  stop: boolean;
  cancelled: boolean;
  reason: string | null;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

/** The Workload API as the middleware of one workload uses it. */
export interface WorkloadApi {
  running(): Promise<HeartbeatAnswer>;
  heartbeat(stats?: StreamStatsReport[]): Promise<HeartbeatAnswer>;
  success(output: unknown): Promise<void>;
  failure(reason: string, output: unknown): Promise<void>;
  stopped(): Promise<void>;
  appendLog(chunks: LogChunk[]): Promise<void>;
  reportState(states: unknown[], generation: number | undefined): Promise<void>;
  reportStats(streams: StreamStatsReport[]): Promise<void>;
  updateConnectorConfig(role: 'source' | 'destination', config: Record<string, unknown>): Promise<void>;
  /** The workload's input (decrypted configs: never log it). */
  input(): Promise<Record<string, unknown>>;
  /** The workload's current status. */
  status(): Promise<string>;
}

export interface WorkloadApiOptions {
  url: string;
  token: string;
  workloadId: string;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
}

export function createWorkloadApi(opts: WorkloadApiOptions): WorkloadApi {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const client = createTRPCClient<AppRouter>({
    links: [
      httpLink({
        url: opts.url,
        headers: () => ({ authorization: `Bearer ${opts.token}` }),
        fetch: (input, init) =>
          fetch(input, { ...(init as RequestInit), signal: AbortSignal.timeout(timeoutMs) }),
      }),
    ],
  });
  const id = opts.workloadId;
  const w = client.workload;
  return {
    running: () => w.running.mutate({ id }),
    heartbeat: (stats) => w.heartbeat.mutate({ id, ...(stats?.length ? { stats } : {}) }),
    success: async (output) => {
      await w.success.mutate({ id, output });
    },
    failure: async (reason, output) => {
      await w.failure.mutate({ id, reason: reason.slice(0, 10_000), source: 'middleware', output });
    },
    stopped: async () => {
      await w.stopped.mutate({ id });
    },
    appendLog: async (chunks) => {
      await w.appendLog.mutate({ id, writer: 'middleware', chunks });
    },
    reportState: async (states, generation) => {
      await w.reportState.mutate({ id, states, ...(generation !== undefined ? { generation } : {}) });
    },
    reportStats: async (streams) => {
      await w.reportStats.mutate({ id, streams });
    },
    updateConnectorConfig: async (role, config) => {
      await w.updateConnectorConfig.mutate({ id, role, config });
    },
    input: async () => (await w.input.query({ id })).input,
    status: async () => (await w.get.query({ id })).status,
  };
}
