/**
 * The contract between the launcher and the places a workload can run (DESIGN §5).
 *
 * A workload is up to three programs sharing one working directory: the middleware
 * (orchestrator/bookkeeper) and one or two connectors. The launcher prepares the working
 * directory (input files, `sockets/`, `plan.json`), then asks a runtime to start the programs.
 * After `launch` returns, the workload no longer needs the launcher: the middleware reports
 * to the Workload API by itself.
 *
 * - process runtime: only the middleware is started (detached, own process group); it spawns
 *   the connectors itself with `spawnConnector` (same process group, minimal environment) and
 *   wires their stdio directly. With a standby configured, the middleware is one started ahead
 *   and handed the workload (`StandbyPool`), in the same state a spawn would leave it.
 * - container runtimes (docker, kubernetes): every program is a container; connector stdio is
 *   redirected to named pipes in `pipes/` (created by the runtime), which the middleware opens
 *   with `attachFifoConnector`. Both helpers give the middleware the same `ConnectorStdio`.
 *
 * The schemas parse `plan.json` wherever it is read (launcher, middleware).
 */
import type { Readable, Writable } from 'node:stream';
import * as z from 'zod';

export const RuntimeName = z.enum(['process', 'docker', 'kubernetes']);
export type RuntimeName = z.infer<typeof RuntimeName>;

export const ConnectorRole = z.enum(['source', 'destination', 'connector']);
export type ConnectorRole = z.infer<typeof ConnectorRole>;

/** The middleware's role name in labels, pid files and logs. */
export const MIDDLEWARE_ROLE = 'middleware';

export const ResourceRequirements = z.object({
  /** CPU limit in cores, e.g. 0.5 or 2. Enforced by container runtimes only. */
  cpuLimit: z.number().positive().max(512).optional(),
  /** Memory limit in MiB. Enforced by container runtimes only. */
  memoryLimitMb: z.number().int().min(6).optional(),
});
export type ResourceRequirements = z.infer<typeof ResourceRequirements>;

const envName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'environment variable names are letters, digits, "_", "." or "-"');

/**
 * How a program is started: an image for container runtimes, an argv for the process runtime.
 *
 * Container runtimes run a connector with its image's own entrypoint (`Config.Entrypoint`, else
 * `AIRBYTE_ENTRYPOINT`) followed by `args`, exactly as Airbyte does; `command` is ignored for
 * connectors there. For the middleware, `command` (when set) replaces the image's entrypoint.
 */
export const ProgramSpec = z.object({
  /** Container image, e.g. `sluice/source-faker:dev`. Required by container runtimes. */
  image: z.string().min(1).optional(),
  /** argv prefix for the process runtime, e.g. `["node", "/abs/bin/source-faker.js"]`. */
  command: z.array(z.string().min(1)).min(1).optional(),
  /** Arguments after the entrypoint, e.g. `["read", "--config", "source/connectorConfig.json", ...]`.
   * Relative paths are relative to the working directory, which is every program's cwd. */
  args: z.array(z.string()),
  /** The whole environment the program sees besides a minimal base (PATH, HOME, LANG, TZ in the
   * process runtime; the image's own ENV in container runtimes). Nothing of the launcher's. */
  env: z.record(envName, z.string()),
  resources: ResourceRequirements.optional(),
  /** `none`: no network at all; `host`: host networking, to reach loopback services.
   * Enforced by container runtimes only. */
  network: z.enum(['none', 'host']),
});
export type ProgramSpec = z.infer<typeof ProgramSpec>;

export const ConnectorProgram = ProgramSpec.extend({
  role: ConnectorRole,
  /** Whether the program reads records on stdin (destinations' `write`). */
  stdin: z.boolean(),
});
export type ConnectorProgram = z.infer<typeof ConnectorProgram>;

/** Safe as a directory name, a container-name part and a label value. */
export const WorkloadId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'a workload id is 1-100 letters, digits, "_", "." or "-"');

export const LaunchPlan = z
  .object({
    workloadId: WorkloadId,
    /** Absolute host path of the workload's working directory, already prepared. Container
     * runtimes mount it at the same path, so paths in the plan are valid everywhere. */
    workDir: z.string().refine((p) => p.startsWith('/') && !p.includes('\0') && !p.includes(':'), {
      message: 'workDir must be an absolute path without ":"',
    }),
    middleware: ProgramSpec,
    connectors: z.array(ConnectorProgram).max(2),
  })
  .refine((p) => new Set(p.connectors.map((c) => c.role)).size === p.connectors.length, {
    message: 'each connector of a plan needs its own role',
  });
export type LaunchPlan = z.infer<typeof LaunchPlan>;

export interface LaunchResult {
  /** False when the workload's programs already existed (idempotent launch): running or ended,
   * they are never started a second time. */
  started: boolean;
  /** Process runtime: the middleware was a standby, handed the workload rather than spawned. */
  standby?: boolean;
}

export interface StopOptions {
  /** How long programs get between SIGTERM and SIGKILL. Default 10 s. */
  graceMs?: number;
  /** Keep the working directory (by default `stop` removes it). */
  keepWorkDir?: boolean;
}

export interface WorkloadRuntime {
  readonly name: RuntimeName;
  /**
   * Starts the workload's programs. Idempotent: when they already exist (found by label or
   * pid file, running or ended) nothing is started again and `started` is false.
   */
  launch(plan: LaunchPlan): Promise<LaunchResult>;
  /** Whether any program of the workload is still alive. */
  isRunning(workloadId: string): Promise<boolean>;
  /** Stops every program of the workload (SIGTERM, grace, SIGKILL), removes what the runtime
   * created (containers) and the working directory. Idempotent. */
  stop(workloadId: string, opts?: StopOptions): Promise<void>;
  /** Ids of workloads that still have programs or containers here (running or exited). */
  list(): Promise<string[]>;
  /** Stops and removes every workload here whose id is not in `activeWorkloadIds` (leftovers of
   * ended workloads or of a crashed launcher). Returns the ids removed. */
  sweep(activeWorkloadIds: Iterable<string>, opts?: StopOptions): Promise<string[]>;
  /** Starts what the runtime keeps ready for launches (the process runtime's standby
   * middleware), without waiting for it. */
  warm?(): void;
  /** Stops what `warm` started. Workloads keep running. */
  close?(): Promise<void>;
}

/**
 * A connector's stdio as the middleware sees it, whatever the runtime: from `spawnConnector`
 * (process runtime, via `childConnectorStdio`) or `attachFifoConnector` (container runtimes).
 * The middleware must drain both `stdout` and `stderr`: a full pipe blocks the connector.
 */
export interface ConnectorStdio {
  stdout: Readable;
  stderr: Readable;
  /** Present for connectors started with `stdin: true`; end it to close the connector's stdin. */
  stdin?: Writable;
  /** The connector's exit code; a death by signal N is 128 + N, as shells report it. */
  exit: Promise<number>;
}

/**
 * How the middleware reaches a connector's stdio inside a container runtime: named pipes
 * in `<workDir>/pipes/`, created by the runtime before start. The connector's wrapper
 * writes `<role>.started` when its container starts and its exit code to `<role>.exit` once
 * it ends, so the middleware can tell a clean end from a crash without the container API.
 */
export const PIPES_DIR = 'pipes';
export const PIPE_NAMES = {
  stdout: (role: ConnectorRole) => `${role}.stdout`,
  stderr: (role: ConnectorRole) => `${role}.stderr`,
  stdin: (role: ConnectorRole) => `${role}.stdin`,
  exit: (role: ConnectorRole) => `${role}.exit`,
  started: (role: ConnectorRole) => `${role}.started`,
} as const;
