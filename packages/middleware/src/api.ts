import http from 'node:http';
import https from 'node:https';
import type { AppRouter } from '@sluice/api';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
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

type In = inferRouterInputs<AppRouter>['workload'];
type Out = inferRouterOutputs<AppRouter>['workload'];

/**
 * A failed call, shaped as the tRPC client's errors are (`data.code`, `data.httpStatus`,
 * `meta.response.status`), which is what `errorCode` and `isTransientError` read.
 */
export class WorkloadApiError extends Error {
  override name = 'WorkloadApiError';
  readonly data: { code?: string; httpStatus?: number; [k: string]: unknown } | null;
  readonly meta: { response: { status: number } } | undefined;

  constructor(
    message: string,
    data: WorkloadApiError['data'],
    status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.data = data;
    this.meta = status === undefined ? undefined : { response: { status } };
  }
}

/**
 * The Workload API over tRPC's HTTP wire format (one procedure per request, JSON without a
 * transformer), spoken with node:http rather than through the tRPC client. The middleware is a
 * short-lived process on the path from "sync now" to the first record: the global `fetch` loads
 * and compiles undici (and its WebAssembly HTTP parser) on first use, tens of milliseconds before
 * the first request can leave, while node:http is part of Node's startup snapshot.
 */
export function createWorkloadApi(opts: WorkloadApiOptions): WorkloadApi {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const base = opts.url.replace(/\/$/, '');
  const secure = base.startsWith('https:');
  const transport = secure ? https : http;
  // Heartbeats, logs and states go to the same API for the workload's whole life.
  const agent = new transport.Agent({ keepAlive: true });
  const headers = { authorization: `Bearer ${opts.token}` };

  const call = <P extends keyof In & keyof Out>(
    type: 'query' | 'mutation',
    procedure: P,
    input: In[P],
  ): Promise<Out[P]> =>
    new Promise<Out[P]>((resolve, reject) => {
      const json = JSON.stringify(input);
      const url =
        type === 'query'
          ? `${base}/workload.${procedure}?input=${encodeURIComponent(json)}`
          : `${base}/workload.${procedure}`;
      const req = transport.request(
        url,
        {
          method: type === 'query' ? 'GET' : 'POST',
          agent,
          headers:
            type === 'query'
              ? headers
              : {
                  ...headers,
                  'content-type': 'application/json',
                  'content-length': Buffer.byteLength(json),
                },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            let body: {
              result?: { data?: unknown };
              error?: { message?: unknown; data?: WorkloadApiError['data'] };
            };
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch (err) {
              // Not the API's answer (a proxy's error page, a truncated body).
              reject(
                new WorkloadApiError(
                  `workload.${procedure}: HTTP ${status} without a tRPC answer`,
                  null,
                  status,
                  { cause: err },
                ),
              );
              return;
            }
            if (body?.error) {
              const e = body.error;
              reject(
                new WorkloadApiError(
                  typeof e.message === 'string' ? e.message : `workload.${procedure} failed`,
                  e.data ?? null,
                  status,
                ),
              );
            } else if (body?.result && status < 300) {
              resolve(body.result.data as Out[P]);
            } else {
              reject(
                new WorkloadApiError(`workload.${procedure}: unexpected HTTP ${status} answer`, null, status),
              );
            }
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`workload.${procedure}: no answer within ${timeoutMs} ms`)),
      );
      req.on('error', (err) =>
        reject(
          new WorkloadApiError(`workload.${procedure}: ${err.message}`, null, undefined, { cause: err }),
        ),
      );
      req.end(type === 'query' ? undefined : json);
    });

  const id = opts.workloadId;
  return {
    running: () => call('mutation', 'running', { id }),
    heartbeat: (stats) => call('mutation', 'heartbeat', { id, ...(stats?.length ? { stats } : {}) }),
    success: async (output) => {
      await call('mutation', 'success', { id, output });
    },
    failure: async (reason, output) => {
      await call('mutation', 'failure', {
        id,
        reason: reason.slice(0, 10_000),
        source: 'middleware',
        output,
      });
    },
    stopped: async () => {
      await call('mutation', 'stopped', { id });
    },
    appendLog: async (chunks) => {
      await call('mutation', 'appendLog', { id, writer: 'middleware', chunks });
    },
    reportState: async (states, generation) => {
      await call('mutation', 'reportState', {
        id,
        states,
        ...(generation !== undefined ? { generation } : {}),
      });
    },
    reportStats: async (streams) => {
      await call('mutation', 'reportStats', { id, streams });
    },
    updateConnectorConfig: async (role, config) => {
      await call('mutation', 'updateConnectorConfig', { id, role, config });
    },
    input: async () => (await call('query', 'input', { id })).input,
    status: async () => (await call('query', 'get', { id })).status,
  };
}
