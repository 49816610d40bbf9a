/**
 * The working directory and launch plan of a workload, as pure data (DESIGN §6: spec builders
 * are pure functions). `writeWorkDir` (workdir.ts) puts it on disk; the runtime starts the plan.
 *
 * Layout (DATAPLANE.md): `source/`, `destination/` (sync) or `connector/` with Airbyte's file
 * names, `destination/streamMapping.json` (sync), `sockets/` (socket mode), `middleware.json`,
 * `plan.json`. `pipes/` is the runtime's.
 */
import path from 'node:path';
import {
  DEFAULT_SOCKET_COUNT,
  destinationMappingEnv,
  isIdentityMapping,
  MAX_SOCKET_COUNT,
  MAX_SOCKET_PATH_BYTES,
  MIDDLEWARE_CONFIG_FILE,
  PLAN_FILE,
  SOCKETS_DIR,
  STREAM_MAPPING_FILE,
  socketCountFor as socketCountOfLimits,
  socketModeEnv,
  socketPaths,
  socketPathsFit,
} from '@sluice/middleware';
import type { ConnectorProgram, ConnectorRole, LaunchPlan, ProgramSpec } from '@sluice/runtime';
import { InputError, type LaunchConnector, type LaunchInput, type WorkloadType } from './input';
import { buildSyncCatalogs } from './mapping';

// File names and socket rules are the middleware's (plan-support): it reads what we write.
export {
  DEFAULT_SOCKET_COUNT,
  MAX_SOCKET_COUNT,
  MIDDLEWARE_CONFIG_FILE,
  PLAN_FILE,
  SOCKETS_DIR,
  STREAM_MAPPING_FILE,
};

export type RuntimeKind = 'process' | 'docker';

export const CONFIG_FILE = 'connectorConfig.json';
export const CATALOG_FILE = 'catalog.json';
export const STATE_FILE = 'inputState.json';

/** What the middleware reads besides plan.json. No secrets: the token is only in its environment. */
export interface MiddlewareConfig {
  workloadId: string;
  type: WorkloadType;
  runtime: RuntimeKind | 'kubernetes';
  /** `spawn`: start connectors with spawnConnector; `fifo`: attach with attachFifoConnector. */
  connectorIo: 'spawn' | 'fifo';
  /** Socket mode: records go from source to destination over this many sockets in `sockets/`. */
  socketCount?: number;
  /** Sync: the StreamMappingFile (absolute path) to apply to records in stdio mode; in socket
   * mode the destination applies it (SLUICE_STREAM_MAPPING). */
  streamMappingPath?: string;
  /** Sync: the state generation of the input the launcher read (and wrote inputState.json from):
   * committed state is reported against it, so a reset since then refuses it. */
  stateGeneration?: number;
  /** spec/check/discover: whether the connector is a source or a destination (the failure's
   * origin, and the actor a CONTROL update is saved on), so the middleware need not ask. */
  actorType?: 'source' | 'destination';
}

export interface MiddlewareSettings {
  /** Process runtime: argv prefix of the middleware. */
  command: string[];
  /** Docker runtime. */
  image: string;
  /** Docker runtime: replaces the image's entrypoint when set. */
  imageCommand?: string[];
  /** The middleware's whole environment: API URL, dataplane token, workload id, log level. */
  env: Record<string, string>;
}

export interface LayoutArgs {
  workloadId: string;
  type: WorkloadType;
  input: LaunchInput;
  workDir: string;
  runtime: RuntimeKind;
  middleware: MiddlewareSettings;
  socketMode: 'auto' | 'off';
}

export interface LayoutFile {
  /** Relative to the working directory. */
  path: string;
  content: string;
  mode: number;
}

export interface WorkloadLayout {
  workDir: string;
  workDirMode: number;
  dirs: { path: string; mode: number }[];
  files: LayoutFile[];
  plan: LaunchPlan;
  middlewareConfig: MiddlewareConfig;
  /** Why stdio was chosen although socket mode was possible, for the attempt log. */
  notes: string[];
}

/**
 * The middleware's argv prefix with node flags added after the node executable (flags the
 * command already sets win). A command that does not start with node is left alone.
 */
export function withNodeFlags(command: readonly string[], flags: readonly string[]): string[] {
  const [exe, ...rest] = command;
  if (!exe || flags.length === 0) return [...command];
  const isNode = exe === process.execPath || /^node(js)?\d*(\.exe)?$/.test(path.basename(exe));
  if (!isNode) return [...command];
  const name = (f: string) => f.split('=')[0]!.replaceAll('_', '-');
  const set = new Set(rest.filter((a) => a.startsWith('--')).map(name));
  return [exe, ...flags.filter((f) => !set.has(name(f))), ...rest];
}

/** Variables of the middleware's environment that never go to disk. */
const SECRET_ENV = new Set(['SLUICE_DATAPLANE_TOKEN']);

/**
 * Modes: the process runtime keeps everything to the launcher's user. Containers may run as any
 * user, so there the working directory can be traversed (0711) and files read (0644) by others;
 * the workloads root itself (0700) keeps other users of the host out, and inside a container
 * only the working directory is mounted.
 */
function modes(runtime: RuntimeKind) {
  return runtime === 'process'
    ? { workDir: 0o700, dir: 0o700, file: 0o600, sockets: 0o700 }
    : { workDir: 0o711, dir: 0o755, file: 0o644, sockets: 0o1777 };
}

/** The socket count of a socket-mode sync, from the two connectors' CPU limits (plan-support's rule). */
export function socketCountFor(source: LaunchConnector, destination: LaunchConnector): number {
  return socketCountOfLimits([source.resources?.cpuLimit, destination.resources?.cpuLimit]);
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function program(
  role: ConnectorRole,
  connector: LaunchConnector,
  args: { runtime: RuntimeKind; argv: string[]; env: Record<string, string>; stdin: boolean; what: string },
): ConnectorProgram {
  if (args.runtime === 'process' && !connector.command) {
    throw new InputError(
      `the ${args.what} has no command to run on the process runtime (its definition names none)`,
    );
  }
  if (args.runtime === 'docker' && !connector.image) {
    throw new InputError(
      `the ${args.what} has no image to run on the docker runtime (its definition names none)`,
    );
  }
  return {
    role,
    ...(connector.image ? { image: connector.image } : {}),
    ...(connector.command ? { command: connector.command } : {}),
    args: args.argv,
    env: args.env,
    ...(connector.resources && Object.keys(connector.resources).length
      ? { resources: connector.resources }
      : {}),
    // Connectors usually reach their systems over the network; a definition may opt out.
    network: connector.network ?? 'host',
    stdin: args.stdin,
  };
}

/** Airbyte passes these to every connector; some connectors log or key on them. */
function airbyteEnv(input: LaunchInput, connector: LaunchConnector): Record<string, string> {
  return {
    ...(connector.image ? { WORKER_CONNECTOR_IMAGE: connector.image } : {}),
    ...(input.jobId ? { WORKER_JOB_ID: input.jobId } : {}),
    ...(input.attemptNumber !== undefined ? { WORKER_JOB_ATTEMPT: String(input.attemptNumber) } : {}),
  };
}

/** Airbyte's legacy state is a bare JSON blob; every other state is an array of STATE messages. */
function stateFileContent(state: LaunchInput['state']): unknown | undefined {
  if (!state || state.length === 0) return undefined;
  if (state.length === 1 && state[0]?.type === 'LEGACY') return state[0].data ?? {};
  return state;
}

export function buildWorkloadLayout(args: LayoutArgs): WorkloadLayout {
  const { workDir, input, runtime, type } = args;
  if (!path.isAbsolute(workDir)) throw new Error(`workDir ${workDir} must be absolute`);
  const m = modes(runtime);
  const abs = (...p: string[]) => path.join(workDir, ...p);
  const dirs: WorkloadLayout['dirs'] = [];
  const files: LayoutFile[] = [];
  const notes: string[] = [];
  const connectors: ConnectorProgram[] = [];
  const middlewareConfig: MiddlewareConfig = {
    workloadId: args.workloadId,
    type,
    runtime,
    connectorIo: runtime === 'process' ? 'spawn' : 'fifo',
  };

  if (type === 'sync') {
    const source = input.source!;
    const destination = input.destination!;
    let catalogs: ReturnType<typeof buildSyncCatalogs>;
    try {
      catalogs = buildSyncCatalogs(input.catalog!, {
        namespaceDefinition: input.namespaceDefinition ?? 'destination',
        namespaceFormat: input.namespaceFormat ?? null,
        prefix: input.prefix ?? '',
      });
    } catch (e) {
      throw new InputError(`invalid catalog: ${(e as Error).message}`);
    }
    const state = stateFileContent(input.state);
    dirs.push({ path: 'source', mode: m.dir }, { path: 'destination', mode: m.dir });
    files.push(
      { path: `source/${CONFIG_FILE}`, content: json(source.config), mode: m.file },
      { path: `source/${CATALOG_FILE}`, content: json(catalogs.source), mode: m.file },
      { path: `destination/${CONFIG_FILE}`, content: json(destination.config), mode: m.file },
      { path: `destination/${CATALOG_FILE}`, content: json(catalogs.destination), mode: m.file },
      { path: STREAM_MAPPING_FILE, content: json(catalogs.mapping), mode: m.file },
    );
    if (state !== undefined) files.push({ path: `source/${STATE_FILE}`, content: json(state), mode: m.file });
    middlewareConfig.streamMappingPath = abs(STREAM_MAPPING_FILE);
    if (input.stateGeneration !== undefined) middlewareConfig.stateGeneration = input.stateGeneration;

    let sourceEnv = airbyteEnv(input, source);
    let destinationEnv = airbyteEnv(input, destination);
    if (args.socketMode === 'auto' && source.supportsSocket && destination.supportsSocket) {
      const count = socketCountFor(source, destination);
      const paths = socketPaths(workDir, count);
      if (!socketPathsFit(paths)) {
        notes.push(
          `socket mode skipped: socket paths under ${workDir} exceed ${MAX_SOCKET_PATH_BYTES} bytes; using stdio (shorten SLUICE_WORKLOADS_ROOT)`,
        );
      } else {
        const channel = socketModeEnv(paths);
        sourceEnv = { ...sourceEnv, ...channel };
        destinationEnv = {
          ...destinationEnv,
          ...channel,
          // The destination SDK maps records itself in socket mode; the identity needs no mapping.
          ...(isIdentityMapping(catalogs.mapping) ? {} : destinationMappingEnv(workDir)),
        };
        dirs.push({ path: SOCKETS_DIR, mode: m.sockets });
        middlewareConfig.socketCount = count;
      }
    }

    connectors.push(
      program('source', source, {
        runtime,
        what: 'source',
        argv: [
          'read',
          '--config',
          abs('source', CONFIG_FILE),
          '--catalog',
          abs('source', CATALOG_FILE),
          ...(state !== undefined ? ['--state', abs('source', STATE_FILE)] : []),
        ],
        env: sourceEnv,
        stdin: false,
      }),
      program('destination', destination, {
        runtime,
        what: 'destination',
        argv: [
          'write',
          '--config',
          abs('destination', CONFIG_FILE),
          '--catalog',
          abs('destination', CATALOG_FILE),
        ],
        env: destinationEnv,
        // In socket mode records arrive over the sockets, and stdin carries the source's stream
        // statuses: the middleware forwards them, so the destination knows which streams completed.
        stdin: true,
      }),
    );
  } else {
    const connector = input.connector!;
    middlewareConfig.actorType = connector.actorType;
    dirs.push({ path: 'connector', mode: m.dir });
    const argv: string[] = [type];
    if (type !== 'spec') {
      files.push({ path: `connector/${CONFIG_FILE}`, content: json(connector.config), mode: m.file });
      argv.push('--config', abs('connector', CONFIG_FILE));
    }
    connectors.push(
      program('connector', connector, {
        runtime,
        what: `${connector.actorType} connector`,
        argv,
        env: airbyteEnv(input, connector),
        stdin: false,
      }),
    );
  }

  const middleware: ProgramSpec =
    runtime === 'process'
      ? {
          command: args.middleware.command,
          args: ['--workdir', workDir],
          env: args.middleware.env,
          network: 'host',
        }
      : {
          image: args.middleware.image,
          ...(args.middleware.imageCommand ? { command: args.middleware.imageCommand } : {}),
          args: ['--workdir', workDir],
          env: args.middleware.env,
          network: 'host',
        };
  const plan: LaunchPlan = { workloadId: args.workloadId, workDir, middleware, connectors };
  // plan.json is readable by the workload's programs: the token stays out of it.
  const onDisk: LaunchPlan = {
    ...plan,
    middleware: {
      ...middleware,
      env: Object.fromEntries(Object.entries(middleware.env).filter(([k]) => !SECRET_ENV.has(k))),
    },
  };
  files.push(
    { path: MIDDLEWARE_CONFIG_FILE, content: json(middlewareConfig), mode: m.file },
    { path: PLAN_FILE, content: json(onDisk), mode: m.file },
  );
  return { workDir, workDirMode: m.workDir, dirs, files, plan, middlewareConfig, notes };
}
