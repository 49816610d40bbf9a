import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from '@sluice/shared';
// The db-free entry: a launcher never loads the database client.
import { DATAPLANE_TOKEN_PREFIX, DataplaneGroup, LauncherId } from '@sluice/workload/types';
import { z } from 'zod';

/** The repository root, from this file (src/env.ts) or the bundle (dist/*.js): both two levels down. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The middleware program the process runtime starts when none is configured. */
export const DEFAULT_MIDDLEWARE_CLI = path.join(REPO_ROOT, 'packages/middleware/dist/cli.js');
export const DEFAULT_MIDDLEWARE_IMAGE = 'sluice/middleware:dev';
export const DEFAULT_MIDDLEWARE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
export const DEFAULT_WORKLOADS_ROOT = path.join(os.tmpdir(), 'sluice', 'workloads');
export const DEFAULT_METRICS_PORT = 9465;

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** `["node","/x/cli.js"]` (JSON) or `node /x/cli.js` (split on whitespace). */
const Argv = z
  .string()
  .trim()
  .min(1)
  .transform((s, ctx) => {
    if (s.startsWith('[')) {
      try {
        const parsed = z.array(z.string().min(1)).min(1).safeParse(JSON.parse(s));
        if (parsed.success) return parsed.data;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of non-empty strings' });
      return z.NEVER;
    }
    return s.split(/\s+/);
  });

/**
 * Everything a launcher reads from its environment. It talks to the platform only through the
 * Workload API (HTTP + dataplane token) and Redis: it never gets DATABASE_URL or the secret key,
 * which is what lets launchers run on other hosts.
 */
export const LauncherEnv = z.object({
  /** The tRPC endpoint, e.g. http://127.0.0.1:3000/api/trpc. */
  SLUICE_API_URL: z.url(),
  SLUICE_DATAPLANE_TOKEN: z
    .string()
    .startsWith(DATAPLANE_TOKEN_PREFIX, `must start with "${DATAPLANE_TOKEN_PREFIX}"`)
    .min(DATAPLANE_TOKEN_PREFIX.length + 24, 'is too short'),
  SLUICE_DATAPLANE_GROUP: DataplaneGroup.default('default'),
  REDIS_URL: z.string().min(1).default('redis://127.0.0.1:6379'),
  /** Key prefix of the workload queues and event channels (the API's WorkloadQueue prefix). */
  SLUICE_QUEUE_PREFIX: z.string().min(1).default('sluice'),
  SLUICE_RUNTIME: z.enum(['process', 'docker']).default('process'),
  SLUICE_WORKLOADS_ROOT: z.string().min(1).default(DEFAULT_WORKLOADS_ROOT),
  /** Workloads this launcher runs at once; at capacity it takes no job, so another launcher does. */
  SLUICE_LAUNCHER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(4),
  SLUICE_LAUNCHER_ID: LauncherId.optional(),
  /** 0 picks a free port. */
  SLUICE_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_METRICS_PORT),
  SLUICE_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  /** Process runtime: the middleware's argv prefix (JSON array or space-separated). */
  SLUICE_MIDDLEWARE_COMMAND: Argv.optional(),
  /**
   * Process runtime: V8 flags for the middleware's node (JSON array or space-separated; `none`
   * for none). The default, a 4 MB semi-space, keeps the middleware's RSS ~25 MB lower at no CPU
   * cost (it allocates little per record).
   */
  SLUICE_MIDDLEWARE_NODE_FLAGS: Argv.default(() => [...DEFAULT_MIDDLEWARE_NODE_FLAGS]),
  /**
   * Process runtime: middleware processes kept started and loaded, each handed the next workload
   * (saves Node's boot and the bundle's load, ~100 ms, per workload); 0 disables.
   */
  SLUICE_MIDDLEWARE_STANDBY: z.coerce.number().int().min(0).max(16).default(1),
  /** Docker runtime: the middleware image, and optionally a command replacing its entrypoint. */
  SLUICE_MIDDLEWARE_IMAGE: z.string().min(1).default(DEFAULT_MIDDLEWARE_IMAGE),
  SLUICE_MIDDLEWARE_IMAGE_COMMAND: Argv.optional(),
  /** The API URL the middleware uses, when it differs from the launcher's (another network). */
  SLUICE_MIDDLEWARE_API_URL: z.url().optional(),
  /** `auto`: socket mode when both connectors support it; `off`: always stdio. */
  SLUICE_SOCKET_MODE: z.enum(['auto', 'off']).default('auto'),
  SLUICE_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  SLUICE_LAUNCHER_RECONCILE_INTERVAL_MS: ms(30_000),
  SLUICE_LAUNCHER_CAPACITY_POLL_MS: ms(2_000),
  SLUICE_LAUNCHER_SHUTDOWN_TIMEOUT_MS: ms(30_000),
  /** Between SIGTERM and SIGKILL when a workload's programs are stopped. */
  SLUICE_STOP_GRACE_MS: ms(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type LauncherEnv = z.infer<typeof LauncherEnv>;

export function loadLauncherEnv(env: Record<string, string | undefined> = process.env): LauncherEnv {
  // Empty values mean unset, as for most shells' exported-but-empty variables.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  return parseEnv(LauncherEnv, cleaned);
}

export function defaultLauncherId(): string {
  return `${os.hostname()}-${process.pid}`;
}
