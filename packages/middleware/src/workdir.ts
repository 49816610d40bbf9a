/**
 * Reading the working directory the launcher prepared (see helpers/DATAPLANE.md): `plan.json`,
 * `middleware.json`, the source's configured catalog and the stream mapping.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  type ConfiguredAirbyteCatalog,
  formatZodError,
  parseConfiguredAirbyteCatalog,
  StreamMappingFile,
} from '@sluice/protocol';
import { type ConnectorProgram, type ConnectorRole, LaunchPlan } from '@sluice/runtime/io';
import * as z from 'zod';
import { MAX_SOCKET_COUNT, MIDDLEWARE_CONFIG_FILE, PLAN_FILE, STREAM_MAPPING_FILE } from './plan-support';

export const WorkloadType = z.enum(['spec', 'check', 'discover', 'sync']);
export type WorkloadType = z.infer<typeof WorkloadType>;

/** `middleware.json`: what the middleware needs besides plan.json. Never secrets. */
export const MiddlewareConfig = z.looseObject({
  workloadId: z.string().min(1),
  type: WorkloadType,
  runtime: z.enum(['process', 'docker', 'kubernetes']),
  connectorIo: z.enum(['spawn', 'fifo']),
  /** Socket mode with this many sockets in `sockets/`; absent (or 0) means stdio. */
  socketCount: z.number().int().min(0).max(MAX_SOCKET_COUNT).optional(),
  /** The connection's state generation read with the input the launcher used (for reportState).
   * Absent: the middleware reads it from `workload.input`. */
  stateGeneration: z.number().int().nonnegative().optional(),
  /** spec/check/discover: whether the connector is a source or a destination (failure origin). */
  actorType: z.enum(['source', 'destination']).optional(),
  /** Overrides `destination/streamMapping.json` (relative to the working directory or absolute). */
  streamMappingPath: z.string().min(1).optional(),
  /** Tuning, mostly for tests: overrides the API's heartbeat interval, the committed-state and
   * log flush periods, and the SIGTERM→SIGKILL grace when stopping connectors. */
  heartbeatIntervalMs: z.number().int().positive().optional(),
  stateFlushMs: z.number().int().positive().optional(),
  logFlushMs: z.number().int().positive().optional(),
  stopGraceMs: z.number().int().nonnegative().optional(),
});
export type MiddlewareConfig = z.infer<typeof MiddlewareConfig>;

export class WorkdirError extends Error {
  override name = 'WorkdirError';
}

async function readJson(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new WorkdirError(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WorkdirError(`${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

export interface Workdir {
  dir: string;
  plan: LaunchPlan;
  config: MiddlewareConfig;
  connector(role: ConnectorRole): ConnectorProgram | undefined;
}

/** Reads and checks plan.json and middleware.json; the workload id must match everywhere. */
export async function loadWorkdir(dir: string, workloadId: string): Promise<Workdir> {
  if (!path.isAbsolute(dir)) dir = path.resolve(dir);
  const rawPlan = await readJson(path.join(dir, PLAN_FILE), 'launch plan');
  const plan = LaunchPlan.safeParse(rawPlan);
  if (!plan.success) {
    throw new WorkdirError(`invalid launch plan ${PLAN_FILE}: ${formatZodError(plan.error, rawPlan)}`);
  }
  const rawConfig = await readJson(path.join(dir, MIDDLEWARE_CONFIG_FILE), 'middleware config');
  const config = MiddlewareConfig.safeParse(rawConfig);
  if (!config.success) {
    throw new WorkdirError(
      `invalid middleware config ${MIDDLEWARE_CONFIG_FILE}: ${formatZodError(config.error, rawConfig)}`,
    );
  }
  for (const [what, id] of [
    ['plan.json', plan.data.workloadId],
    ['middleware.json', config.data.workloadId],
  ] as const) {
    if (id !== workloadId) {
      throw new WorkdirError(`${what} is for workload ${id}, but SLUICE_WORKLOAD_ID is ${workloadId}`);
    }
  }
  const roles = config.data.type === 'sync' ? (['source', 'destination'] as const) : (['connector'] as const);
  for (const role of roles) {
    if (!plan.data.connectors.some((c) => c.role === role)) {
      throw new WorkdirError(`the launch plan of a ${config.data.type} workload has no "${role}" connector`);
    }
  }
  return {
    dir,
    plan: plan.data,
    config: config.data,
    connector: (role) => plan.data.connectors.find((c) => c.role === role),
  };
}

/** The source's configured catalog (`--catalog` of its read): streams under the source's names. */
export async function loadSourceCatalog(w: Workdir): Promise<ConfiguredAirbyteCatalog> {
  const source = w.connector('source');
  const arg = source ? argAfter(source.args, '--catalog') : undefined;
  const file = arg ? path.resolve(w.dir, arg) : path.join(w.dir, 'source', 'catalog.json');
  const raw = await readJson(file, 'source catalog');
  const parsed = parseConfiguredAirbyteCatalog(raw);
  if (!parsed.success)
    throw new WorkdirError(`invalid source catalog ${file}: ${formatZodError(parsed.error, raw)}`);
  return parsed.data;
}

/** The stream mapping, or undefined when the working directory has none (identity). */
export async function loadStreamMapping(
  w: Workdir,
): Promise<{ file: string; mapping: StreamMappingFile } | undefined> {
  const file = path.resolve(w.dir, w.config.streamMappingPath ?? STREAM_MAPPING_FILE);
  if (!(await exists(file))) {
    if (w.config.streamMappingPath) throw new WorkdirError(`the stream mapping ${file} does not exist`);
    return undefined;
  }
  const raw = await readJson(file, 'stream mapping');
  const parsed = StreamMappingFile.safeParse(raw);
  if (!parsed.success)
    throw new WorkdirError(`invalid stream mapping ${file}: ${formatZodError(parsed.error, raw)}`);
  return { file, mapping: parsed.data };
}

export function argAfter(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}
